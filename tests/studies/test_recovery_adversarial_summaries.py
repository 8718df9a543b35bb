"""The recovery and adversarial summaries, typed: built from the studies' own
output, written back to exactly that JSON, read back equal, unknown keys refused."""

import math

import pytest
import torch

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.metrics.intervals import Interval
from captum_contrastive.pipeline.units.base import json_ready
from captum_contrastive.studies.adversarial import adversarial_discriminativity
from captum_contrastive.studies.adversarial_summary import (
    AdversarialRunSummary,
    AdversarialSummary,
)
from captum_contrastive.studies.recovery import perturbation_recovery
from captum_contrastive.studies.recovery_summary import (
    RecoveryRunSummary,
    RecoverySummary,
)
from captum_contrastive.typed_json import JsonSchemaError, from_json, to_json
from tests.tiny_models import images, small_cnn


def _same(a, b) -> bool:
    """Equal JSON values: same keys in the same order, same types, NaN == NaN."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and list(a) == list(b)
            and all(_same(a[k], b[k]) for k in a)
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def _batch(success: list[bool]) -> AdversarialBatch:
    n = len(success)
    clean, adversarial = images(n, seed=1), images(n, seed=2)
    delta = (adversarial - clean).flatten(1)
    return AdversarialBatch(
        attack="cw",
        clean=clean,
        adversarial=adversarial,
        labels=torch.zeros(n, dtype=torch.long),
        clean_predictions=torch.zeros(n, dtype=torch.long),
        adversarial_predictions=torch.ones(n, dtype=torch.long),
        success=torch.tensor(success),
        l2=delta.norm(dim=1),
        linf=delta.abs().amax(dim=1),
        indices=torch.arange(10, 10 + n),
    )


def _plain(result: dict) -> dict:
    """The summary as the units wrote it before typing: the study's dict
    without its per-image records, made JSON-ready."""
    return json_ready({k: v for k, v in result.items() if k != "records"})


@pytest.fixture(scope="module")
def recovery() -> dict:
    batch = _batch([True] * 4)
    maps = {
        name: torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
        for seed, name in enumerate(("enhanced_gbp", "saliency"))
    }
    result = perturbation_recovery(
        small_cnn(),
        batch,
        maps,
        fractions=(0.1, 0.5),
        mean=(0.5, 0.5, 0.5),
        signed={"saliency"},
        n_resamples=50,
    )
    return _plain(result)


@pytest.fixture(scope="module")
def adversarial() -> dict:
    batch = _batch([True, True, True, False, False])
    generator = torch.Generator().manual_seed(0)
    conditions = ("clean", "adversarial", "clean_for_adversarial_class", "noise")
    maps = {
        method: {c: torch.rand(5, 3, 8, 8, generator=generator) for c in conditions}
        for method in ("enhanced_gbp", "saliency")
    }
    runner_up = torch.tensor([1, 2, 1, 1, 3])
    return _plain(
        adversarial_discriminativity(
            batch, maps, clean_runner_up=runner_up, n_resamples=50
        )
    )


def test_recovery_summary_writes_the_studys_json_back(recovery) -> None:
    summary = from_json(RecoveryRunSummary, recovery)
    assert _same(to_json(summary), recovery)
    assert from_json(RecoveryRunSummary, to_json(summary)) == summary
    assert isinstance(summary.methods["saliency |abs|"].auc, Interval)
    assert summary.auc("random") == summary.methods["random"].auc
    assert summary.auc("not ranked") is None
    assert [c.method for c in summary.comparisons] == [
        "saliency",
        "saliency |abs|",
        "random",
    ]
    assert list(summary.energy_share["saliency"]) == ["0.05", "0.1", "0.2"]
    runs = {"cw-k0": recovery, "cw-k5": recovery}
    assert _same(to_json(from_json(RecoverySummary, runs)), runs)


def test_adversarial_summary_writes_the_studys_json_back(adversarial) -> None:
    summary = from_json(AdversarialRunSummary, adversarial)
    assert _same(to_json(summary), adversarial)
    assert _same(
        to_json(from_json(AdversarialRunSummary, to_json(summary))), adversarial
    )
    change = summary.methods["saliency"]
    assert list(change.comparisons()) == ["main", "class_only", "input_only", "noise"]
    assert list(change.main.groups()) == ["adv_s", "adv_f"]
    assert (
        change.noise.adv_f is None
        and "adv_f" not in adversarial["methods"]["saliency"]["noise"]
    )
    assert (summary.groups.adv_s, summary.groups.adv_f) == (3, 2)
    assert summary.runner_up_is_adversarial_class.n == 3
    assert summary.noise_prediction_unchanged is None  # the unit adds it
    assert "noise_prediction_unchanged" not in to_json(summary)
    runs = {"cw-k0": adversarial}
    assert _same(to_json(from_json(AdversarialSummary, runs)), runs)


def test_a_run_without_controls_or_comparisons_leaves_them_out(adversarial) -> None:
    bare = {k: v for k, v in adversarial.items() if k != "comparisons"}
    bare["methods"] = {
        m: {"main": v["main"]} for m, v in adversarial["methods"].items()
    }
    summary = from_json(AdversarialRunSummary, bare)
    assert summary.comparisons is None
    assert list(summary.methods["saliency"].comparisons()) == ["main"]
    assert _same(to_json(summary), bare)


def test_unknown_and_missing_keys_are_refused(recovery, adversarial) -> None:
    typo = {**recovery, "methods": {**recovery["methods"]}}
    typo["methods"]["saliency"] = {**recovery["methods"]["saliency"], "acu": 0.5}
    with pytest.raises(JsonSchemaError, match=r"methods\['saliency'\].*'acu'"):
        from_json(RecoveryRunSummary, typo)
    with pytest.raises(JsonSchemaError, match="needs 'energy_share'"):
        from_json(
            RecoveryRunSummary,
            {k: v for k, v in recovery.items() if k != "energy_share"},
        )
    renamed = {**adversarial, "random_map": adversarial["random_maps"]}
    with pytest.raises(JsonSchemaError, match="'random_map'"):
        from_json(AdversarialRunSummary, renamed)
