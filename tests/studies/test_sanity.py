import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from captum_contrastive.methods import METHODS, MethodSpec
from captum_contrastive.studies import (
    SanityResult,
    SanityRule,
    cascading_randomization,
    independent_randomization,
    parameterized_layers,
    random_logit,
    randomize_layers,
    sanity_verdict,
)
from captum_contrastive.studies.sanity import (
    FIXED_CONTRAST_SUFFIX,
    MEASURES,
    random_other_classes,
)
from tests.tiny_models import images as make_images
from tests.tiny_models import small_cnn

N = 12
INDICES = list(range(100, 100 + N))


def _input_maps(model: nn.Module):
    def attribute(images, targets, contrast=None, **options):
        return images.detach().clone()

    return attribute


#: A class- and model-independent "method": the map is the input image.
INPUT_SPEC = MethodSpec("input", "Input", "test", _input_maps, signed=True)


@pytest.fixture(scope="module")
def data():
    model = small_cnn(0)
    images = make_images(N, seed=1)
    with torch.no_grad():
        targets = model(images).argmax(1)
    return model, images, targets


def _state(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _changed(before: dict, model: nn.Module) -> set:
    return {
        k.rsplit(".", 1)[0]
        for k, v in model.state_dict().items()
        if not torch.equal(v, before[k])
    }


def test_parameterized_layers_from_the_logits_down():
    assert [name for name, _ in parameterized_layers(small_cnn(0))] == [
        "fc",
        "conv2",
        "conv1",
    ]
    nested = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()),
        nn.Flatten(),
        nn.Linear(2, 3),
    )
    assert [name for name, _ in parameterized_layers(nested)] == ["2", "0.1", "0.0"]


def test_randomize_changes_the_named_layers_only_and_never_the_original(data):
    model = data[0]
    before = _state(model)
    randomized = randomize_layers(model, ["fc", "conv1"], seed=3)
    assert _changed(before, model) == set()
    assert _changed(before, randomized) == {"fc", "conv1"}
    assert not randomized.training and randomized is not model
    again = randomize_layers(model, ["conv1"], seed=3)
    assert torch.equal(again.conv1.weight, randomized.conv1.weight)
    other_seed = randomize_layers(model, ["conv1"], seed=4)
    assert not torch.equal(other_seed.conv1.weight, randomized.conv1.weight)
    assert _changed(before, randomize_layers(model, [], seed=3)) == set()
    with pytest.raises(ValueError, match="not parameterized"):
        randomize_layers(model, ["relu1"], seed=0)


class _Scale(nn.Module):
    """A layer without ``reset_parameters``."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(3.0 + 2.0 * torch.randn(4000))

    def forward(self, x):
        return x * self.weight[: x.shape[-1]]


def test_layers_without_reset_parameters_get_noise_of_the_same_std():
    torch.manual_seed(0)
    model = nn.Sequential(_Scale(), nn.Linear(4000, 2))
    randomized = randomize_layers(model, ["0"], seed=0)
    new, old = randomized[0].weight, model[0].weight
    assert abs(float(new.detach().std()) - float(old.detach().std())) < 0.1
    assert abs(float(new.detach().mean())) < 0.15 and float(old.detach().mean()) > 2.5


def test_unchanged_step_gives_similarity_one_and_no_runner_up_change(data):
    model, images, targets = data
    specs = {"saliency": METHODS["saliency"], "enhanced_gbp": METHODS["enhanced_gbp"]}
    result = cascading_randomization(
        model,
        images,
        targets,
        INDICES,
        specs,
        depth=1,
        n_resamples=50,
        include_unchanged=True,
    )
    assert list(result.steps) == ["0", "1", "all"]
    assert result.runner_up_changed_share["0"] == 0.0
    for share in result.runner_up_changed_share.values():
        assert 0.0 <= share <= 1.0
    assert result.runner_up_changed_share["all"] > 0
    for method in ("saliency", "enhanced_gbp", "enhanced_gbp" + FIXED_CONTRAST_SUFFIX):
        for measure in MEASURES:
            values = result.records[method][f"cascading_{measure}@0"]
            np.testing.assert_allclose(values, 1.0, atol=1e-9)


def test_class_independent_map_is_similar_under_any_randomization_and_fails(data):
    model, images, targets = data
    result = cascading_randomization(
        model, images, targets, INDICES, {"input": INPUT_SPEC}, n_resamples=50
    )
    for values in result.records["input"].values():
        np.testing.assert_allclose(values, 1.0, atol=1e-9)
    verdict = sanity_verdict(result)["input"]
    assert verdict.verdict == "fails"
    assert "cascading_spearman_abs@mean" in verdict.rule and "0.5" in verdict.rule
    logit = random_logit(
        model, images, targets, INDICES, {"input": INPUT_SPEC}, 0, 5, n_resamples=50
    )
    np.testing.assert_allclose(
        logit.records["input"]["random_logit_spearman"], 1.0, atol=1e-9
    )


def test_saliency_changes_more_when_every_layer_is_randomized(data):
    model, images, targets = data
    result = cascading_randomization(
        model,
        images,
        targets,
        INDICES,
        {"saliency": METHODS["saliency"]},
        n_resamples=200,
    )
    means = {k: v["mean"] for k, v in result.intervals["saliency"].items()}
    assert means["cascading_spearman_abs@all"] < means["cascading_spearman_abs@1"]
    assert means["cascading_ssim@all"] < means["cascading_ssim@1"]
    assert sanity_verdict(result)["saliency"].verdict == "passes"


def test_step_mean_is_the_per_image_mean_over_the_reported_steps(data):
    model, images, targets = data
    result = cascading_randomization(
        model,
        images,
        targets,
        INDICES,
        {"saliency": METHODS["saliency"]},
        depth=2,
        n_resamples=50,
        include_unchanged=True,
    )
    records = result.records["saliency"]
    for measure in MEASURES:
        steps = np.array([records[f"cascading_{measure}@{s}"] for s in ("1", "2")])
        steps = np.vstack([steps, records[f"cascading_{measure}@all"]])
        np.testing.assert_allclose(
            records[f"cascading_{measure}@mean"], np.nanmean(steps, axis=0)
        )
    assert "@mean" in result.protocol["mean_over"]


def test_records_reproducible_and_independent_of_the_batch_split(data):
    model, images, targets = data
    specs = {"saliency": METHODS["saliency"], "smoothgrad": METHODS["smoothgrad"]}

    def run(rows, batch_size):
        return cascading_randomization(
            model,
            images[rows],
            targets[rows],
            INDICES[rows],
            specs,
            depth=1,
            seed=5,
            batch_size=batch_size,
            n_resamples=50,
        )

    full = run(slice(None), 64)
    assert run(slice(None), 64).records == full.records
    small = run(slice(None), 5)
    shards = [run(slice(0, 7), 3), run(slice(7, None), 2)]
    for method, measures in full.records.items():
        for measure, values in measures.items():
            joined = sum((s.records[method][measure] for s in shards), [])
            np.testing.assert_allclose(small.records[method][measure], values, 1e-6)
            np.testing.assert_allclose(joined, values, rtol=1e-6, atol=1e-6)
    joined = sum((s.runner_up_changed["all"] for s in shards), [])
    assert joined == full.runner_up_changed["all"]


def test_summary_row_names(data):
    model, images, targets = data
    specs = {"saliency": METHODS["saliency"], "enhanced_gbp": METHODS["enhanced_gbp"]}
    args = (model, images[:4], targets[:4], INDICES[:4], specs)
    cascading = cascading_randomization(*args, depth=1, n_resamples=20)
    independent = independent_randomization(*args, layers=["conv1"], n_resamples=20)
    logit = random_logit(*args, seed=0, num_classes=5, n_resamples=20)
    methods = ["saliency", "enhanced_gbp", "enhanced_gbp" + FIXED_CONTRAST_SUFFIX]
    expected = [
        (method, f"cascading_{measure}@{step}")
        for method in methods
        for step in ("1", "all", "mean")
        for measure in ("spearman", "spearman_abs", "ssim", "iou")
    ]
    assert [row[:2] for row in cascading.summary_rows()] == expected
    assert [row[1] for row in independent.summary_rows()][:4] == [
        "independent_spearman@conv1",
        "independent_spearman_abs@conv1",
        "independent_ssim@conv1",
        "independent_iou@conv1",
    ]
    assert [row[:2] for row in logit.summary_rows()] == [
        (method, f"random_logit_{measure}")
        for method in ("saliency", "enhanced_gbp")
        for measure in MEASURES
    ]
    method, measure, interval = next(cascading.summary_rows())
    assert {"mean", "ci_low", "ci_high", "n", "n_nan"} <= set(interval)


def test_independent_randomization_one_layer_at_a_time(data):
    model, images, targets = data
    result = independent_randomization(
        model,
        images,
        targets,
        INDICES,
        {"saliency": METHODS["saliency"]},
        n_resamples=50,
    )
    assert result.steps == {"fc": ["fc"], "conv2": ["conv2"], "conv1": ["conv1"]}
    cascade = cascading_randomization(
        model,
        images,
        targets,
        INDICES,
        {"saliency": METHODS["saliency"]},
        depth=1,
        n_resamples=50,
    )
    assert (
        result.records["saliency"]["independent_spearman@fc"]
        == cascade.records["saliency"]["cascading_spearman@1"]
    )


def test_random_other_class_differs_and_is_drawn_per_image():
    targets = torch.tensor([0, 1, 2, 3, 4] * 20)
    indices = list(range(100))
    other = random_other_classes(targets, indices, seed=0, num_classes=5)
    assert (other != targets).all() and other.min() >= 0 and other.max() <= 4
    assert len(set(other.tolist())) == 5
    again = random_other_classes(targets[50:], indices[50:], seed=0, num_classes=5)
    assert torch.equal(again, other[50:])
    with pytest.raises(ValueError, match="at least 2"):
        random_logit(nn.Linear(1, 1), torch.zeros(1, 1), [0], [0], {}, 0, 1)


def test_json_round_trip(data):
    model, images, targets = data
    result = cascading_randomization(
        model,
        images[:3],
        targets[:3],
        INDICES[:3],
        {"layer_gradcam": METHODS["layer_gradcam"]},
        depth=1,
        n_resamples=20,
    )
    text = json.dumps(result.to_json())
    restored = SanityResult.from_json(json.loads(text))
    assert restored.steps == result.steps and restored.indices == INDICES[:3]
    assert list(restored.summary_rows())[0][1] == "cascading_spearman@1"


def _result(intervals: dict) -> SanityResult:
    return SanityResult("cascading", [0], [], {}, {}, {}, intervals=intervals)


def _ci(low: float, high: float) -> dict:
    return {"mean": (low + high) / 2, "ci_low": low, "ci_high": high, "n": 30}


def test_verdict_rule_and_control():
    measure = "cascading_spearman_abs@mean"
    result = _result(
        {
            "a": {measure: _ci(0.1, 0.4)},
            "b": {measure: _ci(0.6, 0.9)},
            "c": {measure: _ci(0.3, 0.7)},
            "d": {measure: _ci(math.nan, math.nan)},
            "guided_backprop": {measure: _ci(0.2, 0.3)},
        }
    )
    verdicts = sanity_verdict(result)
    assert {k: v.verdict for k, v in verdicts.items()} == {
        "a": "passes",
        "b": "fails",
        "c": "inconclusive",
        "d": "inconclusive",
        "guided_backprop": "passes",
    }
    assert verdicts["guided_backprop"].control
    assert "control guided_backprop did not fail" in verdicts["a"].evidence
    strict = sanity_verdict(result, SanityRule(threshold=0.35))
    assert strict["a"].verdict == "inconclusive" and "0.35" in strict["a"].rule
    assert json.dumps(strict["a"].to_json())
    with pytest.raises(ValueError, match="no method"):
        sanity_verdict(result, SanityRule(measure="cascading_ssim@all"))


def test_data_randomization_rows_and_the_unchanged_model(data):
    from captum_contrastive.studies import data_randomization

    model, images, targets = data
    specs = {"saliency": METHODS["saliency"], "enhanced_gbp": METHODS["enhanced_gbp"]}
    args = (images[:6], targets[:6], INDICES[:6], specs)
    other = data_randomization(model, small_cnn(1), *args, seed=0, n_resamples=20)
    methods = ["saliency", "enhanced_gbp", "enhanced_gbp" + FIXED_CONTRAST_SUFFIX]
    assert [row[:2] for row in other.summary_rows()] == [
        (method, f"data_randomization_{measure}")
        for method in methods
        for measure in MEASURES
    ]
    assert other.test == "data_randomization" and other.steps == {}
    assert list(other.runner_up_changed) == ["data_randomization"]
    assert 0 <= other.runner_up_changed_share["data_randomization"] <= 1
    assert "permuted labels" in other.protocol["changed_model"]
    same = data_randomization(model, small_cnn(0), *args, seed=0, n_resamples=20)
    assert same.runner_up_changed_share["data_randomization"] == 0.0
    for method in methods:
        for measure in MEASURES:
            values = same.records[method][f"data_randomization_{measure}"]
            np.testing.assert_allclose(values, 1.0, atol=1e-9)
    saliency = other.intervals["saliency"]["data_randomization_spearman_abs"]
    assert saliency["mean"] < 0.99
    assert json.dumps(other.to_json())


def test_data_randomization_needs_the_same_classes(data):
    from captum_contrastive.studies import data_randomization

    model, images, targets = data
    with pytest.raises(ValueError, match="same classes"):
        data_randomization(
            model,
            small_cnn(1, num_classes=4),
            images[:2],
            targets[:2],
            INDICES[:2],
            {"saliency": METHODS["saliency"]},
        )


def test_shared_trained_maps_give_the_same_records(data):
    from captum_contrastive.studies.sanity import trained_model_maps

    model, images, targets = data
    specs = {"saliency": METHODS["saliency"], "enhanced_gbp": METHODS["enhanced_gbp"]}
    args = (model, images[:4], targets[:4], INDICES[:4], specs)
    trained = trained_model_maps(*args, seed=0)
    for test, kwargs in (
        (cascading_randomization, dict(depth=1)),
        (independent_randomization, dict(layers=["conv1"])),
        (random_logit, dict(num_classes=5)),
    ):
        alone = test(*args, seed=0, n_resamples=20, **kwargs)
        shared = test(*args, seed=0, n_resamples=20, trained_maps=trained, **kwargs)
        assert shared.records == alone.records
    wrong = {name: -maps for name, maps in trained.items()}
    flipped = cascading_randomization(
        *args, depth=1, seed=0, n_resamples=20, trained_maps=wrong
    )
    assert (
        flipped.records["saliency"]
        != cascading_randomization(*args, depth=1, seed=0, n_resamples=20).records[
            "saliency"
        ]
    )
