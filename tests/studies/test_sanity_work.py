"""The shared work of the sanity tests equals the plain recomputation."""

import json
import os
import time

import numpy as np
import pytest
import torch

from captum_contrastive.attr._targets import runner_up
from captum_contrastive.methods import METHODS, compute_maps
from captum_contrastive.metrics import spatial_map, spearman, top_iou
from captum_contrastive.metrics.ssim import structural_similarity
from captum_contrastive.studies import sanity
from captum_contrastive.studies.sanity import (
    FIXED_CONTRAST_SUFFIX,
    MODELS_COST,
    SIMILARITY_COST,
    TRAINED,
    SanityWork,
    SimilarityReference,
    cascading_randomization,
    cascading_steps,
    independent_randomization,
    random_logit,
    random_other_classes,
    randomize_layers,
    trained_model_maps,
)
from tests.tiny_models import images as make_images
from tests.tiny_models import small_cnn

N = 6
INDICES = list(range(40, 40 + N))
SEED = 3
#: A plain, a contrastive and a noisy method (one image at a time).
SPECS = {
    "saliency": METHODS["saliency"],
    "contrastive_saliency": METHODS["contrastive_saliency"],
    "smoothgrad": METHODS["smoothgrad"],
}


@pytest.fixture(scope="module")
def data():
    model = small_cnn(2)
    images = make_images(N, seed=4)
    with torch.no_grad():
        targets = model(images).argmax(1)
    return model, images, targets


def _plain_measures(a, b, indices, q=0.10):
    """The measures as the metric functions compute them, two-sided."""
    return {
        "spearman": spearman(spatial_map(a), spatial_map(b)),
        "spearman_abs": spearman(spatial_map(a, "abs_sum"), spatial_map(b, "abs_sum")),
        "ssim": structural_similarity(a, b, reduce="abs_sum"),
        "iou": top_iou(a, b, q, SEED, indices, reduce="abs_sum"),
    }


def _plain_maps(model, images, targets, name, contrast):
    spec = SPECS[name]
    return compute_maps(
        spec,
        model,
        images,
        targets,
        INDICES,
        SEED,
        contrast=contrast if spec.contrastive else None,
    )


def _plain_records(model, images, targets, test, steps):
    """Every step recomputed from scratch: a fresh randomised copy, fresh maps
    of both models, the two-sided metric functions."""
    with torch.no_grad():
        runner = runner_up(model(images), targets)
    records = {}
    for step, layers in steps.items():
        other = randomize_layers(model, layers, SEED)
        with torch.no_grad():
            new_runner = runner_up(other(images), targets)
        for name, spec in SPECS.items():
            original = _plain_maps(model, images, targets, name, runner)
            variants = {name: new_runner}
            if spec.contrastive:
                variants[name + FIXED_CONTRAST_SUFFIX] = runner
            for key, contrast in variants.items():
                maps = _plain_maps(other, images, targets, name, contrast)
                values = _plain_measures(original, maps, INDICES)
                records.setdefault(key, {}).update(
                    {f"{test}_{k}@{step}": v.tolist() for k, v in values.items()}
                )
    return records


def test_reference_equals_the_two_sided_measures_bit_for_bit():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(5, 3, 16, 12, generator=generator)
    b = torch.randn(5, 3, 16, 12, generator=generator)
    a[1] = 0.0  # constant map: NaN Spearman, SSIM and IoU still defined
    b[2] = b[2].round()  # ties
    reference = SimilarityReference(a, SEED, INDICES[:5])
    for other in (b, a, -a):
        found = reference.compare(other)
        plain = _plain_measures(a, other, INDICES[:5])
        assert list(found) == list(plain)
        for name in plain:
            np.testing.assert_array_equal(found[name], plain[name])
    with pytest.raises(ValueError, match="shape"):
        reference.compare(b[:, :, :8])


def test_every_depth_equals_recomputing_from_scratch(data):
    model, images, targets = data
    names = [name for name, _ in sanity.parameterized_layers(model)]
    work = SanityWork(example_images=2)
    steps = cascading_steps(names, depth=1, include_unchanged=True)
    for layers in steps.values():
        work.keep(layers)
    common = dict(seed=SEED, n_resamples=20, work=work)
    cascading = cascading_randomization(
        model,
        images,
        targets,
        INDICES,
        SPECS,
        depth=1,
        include_unchanged=True,
        **common,
    )
    plain = _plain_records(model, images, targets, "cascading", steps)
    for key, measures in plain.items():
        for measure, values in measures.items():
            np.testing.assert_array_equal(cascading.records[key][measure], values)
    # The kept example maps are the maps of the randomised model, first images.
    for layers in steps.values():
        other = randomize_layers(model, layers, SEED)
        with torch.no_grad():
            contrast = runner_up(other(images), targets)
        for name in SPECS:
            expected = _plain_maps(other, images, targets, name, contrast)[:2]
            assert torch.equal(work.kept(layers)[name], expected)


def test_independent_and_random_logit_equal_recomputing_from_scratch(data):
    model, images, targets = data
    work = SanityWork()
    trained = trained_model_maps(
        model, images, targets, INDICES, SPECS, SEED, work=work
    )
    common = dict(seed=SEED, n_resamples=20, trained_maps=trained, work=work)
    layers = ["fc", "conv1"]
    independent = independent_randomization(
        model, images, targets, INDICES, SPECS, layers=layers, **common
    )
    steps = {name: [name] for name in layers}
    plain = _plain_records(model, images, targets, "independent", steps)
    for key, measures in plain.items():
        for measure, values in measures.items():
            np.testing.assert_array_equal(independent.records[key][measure], values)
    logit = random_logit(
        model, images, targets, INDICES, SPECS, num_classes=5, **common
    )
    other = random_other_classes(targets, INDICES, SEED, 5)
    with torch.no_grad():
        runners = [runner_up(model(images), c) for c in (targets, other)]
    for name in SPECS:
        original = _plain_maps(model, images, targets, name, runners[0])
        maps = _plain_maps(model, images, other, name, runners[1])
        for measure, values in _plain_measures(original, maps, INDICES).items():
            np.testing.assert_array_equal(
                logit.records[name][f"random_logit_{measure}"], values
            )


@pytest.fixture
def map_calls(monkeypatch) -> list[str]:
    """The method of every map set the sanity tests compute, in order."""
    calls: list[str] = []
    plain_maps = sanity._Inputs.maps

    def counted(self, name, model, targets, contrast):
        calls.append(name)
        return plain_maps(self, name, model, targets, contrast)

    monkeypatch.setattr(sanity._Inputs, "maps", counted)
    return calls


def test_a_model_randomised_twice_is_evaluated_once(data, map_calls):
    model, images, targets = data
    work = SanityWork()
    common = dict(seed=SEED, n_resamples=20, work=work)
    cascading = cascading_randomization(
        model, images, targets, INDICES, SPECS, depth=1, **common
    )
    before = len(map_calls)
    independent = independent_randomization(
        model, images, targets, INDICES, SPECS, layers=["fc"], **common
    )
    assert len(map_calls) == before  # @fc is the cascade's @1: nothing recomputed
    assert work.reused == {"independent@fc": "cascading@1"}
    for key, measures in cascading.records.items():
        for measure in ("spearman", "ssim"):
            assert (
                independent.records[key][f"independent_{measure}@fc"]
                == measures[f"cascading_{measure}@1"]
            )
    assert independent.runner_up_changed["fc"] == cascading.runner_up_changed["1"]
    alone = independent_randomization(
        model, images, targets, INDICES, SPECS, layers=["fc"], seed=SEED, n_resamples=20
    )
    assert alone.records == independent.records


def test_unchanged_runner_up_reuses_the_own_contrast_maps(data, map_calls):
    model, images, targets = data
    work = SanityWork()
    result = cascading_randomization(
        model,
        images,
        targets,
        INDICES,
        {"contrastive_saliency": SPECS["contrastive_saliency"]},
        depth=1,
        include_unchanged=True,
        seed=SEED,
        n_resamples=20,
        work=work,
    )
    assert not any(result.runner_up_changed["0"])
    assert any(result.runner_up_changed["all"])
    seconds = work.cost()["seconds"]
    fixed = "contrastive_saliency" + FIXED_CONTRAST_SUFFIX
    assert seconds["cascading@0"][fixed] == 0.0
    assert seconds["cascading@all"][fixed] > 0.0
    # trained, @0 once, @1 and @all with both contrasts (the @1 runner-up
    # changes on this model, so the fixed contrast is computed there).
    assert result.runner_up_changed["1"] != [False] * N
    assert len(map_calls) == 1 + 1 + 2 + 2
    records = result.records
    for measure in records[fixed]:
        if measure.endswith("@0"):
            assert records[fixed][measure] == records["contrastive_saliency"][measure]


def test_cost_has_seconds_per_method_and_step_and_is_json(data):
    model, images, targets = data
    work = SanityWork()
    cascading_randomization(
        model,
        images,
        targets,
        INDICES,
        SPECS,
        depth=1,
        seed=SEED,
        n_resamples=20,
        work=work,
    )
    cost = json.loads(json.dumps(work.cost()))
    assert cost["unit"] == "seconds" and cost["threads"] == torch.get_num_threads()
    assert list(cost["seconds"]) == [TRAINED, "cascading@1", "cascading@all"]
    for column, entries in cost["seconds"].items():
        assert set(SPECS) <= set(entries)
        assert SIMILARITY_COST in entries and MODELS_COST in entries
        assert all(value >= 0.0 for value in entries.values())
        if column != TRAINED:
            assert "contrastive_saliency" + FIXED_CONTRAST_SUFFIX in entries
    # The same entries as CPU seconds; the load average noted per column.
    assert cost["cores"] == os.cpu_count()
    assert {c: set(e) for c, e in cost["cpu_seconds"].items()} == {
        c: set(e) for c, e in cost["seconds"].items()
    }
    assert all(v >= 0.0 for e in cost["cpu_seconds"].values() for v in e.values())
    assert list(cost["load_average"]) == list(cost["seconds"])
    assert all(v is None or v >= 0.0 for v in cost["load_average"].values())
    assert list(cost["preemptions"]) == list(cost["seconds"])
    for switches in cost["preemptions"].values():
        assert switches is None or (isinstance(switches, int) and switches >= 0)


def test_timed_parts_separate_wall_from_cpu_seconds(monkeypatch):
    work = SanityWork()
    with work._timed("column", "waiting"):
        time.sleep(0.2)
    with work._timed("column", "working"):
        end = time.process_time() + 0.1
        while time.process_time() < end:
            pass
    wall, cpu = work.seconds["column"], work.cpu_seconds["column"]
    # Waiting takes wall time and (almost) no CPU; working takes both.
    assert wall["waiting"] >= 0.2 and cpu["waiting"] < 0.1
    assert cpu["working"] >= 0.1 and wall["working"] >= 0.1
    # A system without a load average records None, and the column keeps the
    # load noted at its first entry.
    assert work.load_average["column"] is not None or not hasattr(os, "getloadavg")
    monkeypatch.delattr(os, "getloadavg", raising=False)
    with work._timed("other", "waiting"):
        pass
    assert work.load_average["other"] is None
    # Counted switches add up per column; a system without them gives None.
    counts = iter([10, 13, 20, 24])
    monkeypatch.setattr(sanity, "_preemptions", lambda: next(counts))
    for _ in range(2):
        with work._timed("counted", "entry"):
            pass
    assert work.preemptions["counted"] == 3 + 4
    monkeypatch.setattr(sanity, "_preemptions", lambda: None)
    with work._timed("uncounted", "entry"):
        pass
    assert work.preemptions["uncounted"] is None
    assert "column" in work.cost()["load_average"]


def test_work_serves_one_data_set_only(data):
    model, images, targets = data
    work = SanityWork()
    specs = {"saliency": SPECS["saliency"]}
    cascading_randomization(
        model, images, targets, INDICES, specs, depth=1, n_resamples=20, work=work
    )
    with pytest.raises(ValueError, match="one run"):
        cascading_randomization(
            model,
            images[:3],
            targets[:3],
            INDICES[:3],
            specs,
            depth=1,
            n_resamples=20,
            work=work,
        )
