"""The typed summaries of the sanity, ROAD, class-discriminativity and
localization studies: each writes exactly the JSON the untyped dicts gave,
reads it back equal, and refuses a key it does not declare."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from captum_contrastive.metrics import bootstrap_ci
from captum_contrastive.metrics.intervals import Interval, PairedDifference
from captum_contrastive.metrics.road import road_curve, road_summary
from captum_contrastive.studies.class_discriminativity import (
    ClassDiscriminativitySummary,
    PairMeasures,
)
from captum_contrastive.studies.localization import LocalizationSummary, localization
from captum_contrastive.studies.road_summary import RoadMethodSummary, RoadSummary
from captum_contrastive.studies.sanity import SanityResult, SanityRule, sanity_verdict
from captum_contrastive.studies.sanity_summary import (
    SanityRuleSummary,
    SanityTestSummary,
    SkippedTest,
)
from captum_contrastive.studies.verdicts import format_ci
from captum_contrastive.typed_json import JsonSchemaError, from_json, to_json
from tests.metrics.test_road import FRACTIONS, toy_problem

RULE = SanityRule()


def _same_json(a, b) -> bool:
    """Equal as JSON text, key order included (NaN written as NaN)."""
    return json.dumps(a) == json.dumps(b)


def _sanity_result() -> SanityResult:
    rng = np.random.default_rng(0)
    records = {
        method: {
            RULE.measure: rng.uniform(low, low + 0.2, 6).tolist(),
            "cascading_spearman@1": [float("nan")] * 6,  # constant maps
        }
        for method, low in (("saliency", 0.1), ("guided_backprop", 0.8))
    }
    return SanityResult(
        "cascading",
        [3, 1, 4, 1, 5, 9],
        ["fc", "conv"],
        {"1": ["fc"], "all": ["fc", "conv"]},
        records,
        {"1": [True] * 6, "all": [False] * 6},
        intervals={
            m: {k: bootstrap_ci(v, n_resamples=50, seed=0) for k, v in r.items()}
            for m, r in records.items()
        },
        runner_up_changed_share={"1": 1.0, "all": 0.0},
        protocol={"test": "cascading", "methods": {"saliency": {"abs": True}}},
    )


def test_a_sanity_test_summary_is_the_result_without_records() -> None:
    result = _sanity_result()
    summary = SanityTestSummary.of(result)
    untyped = {
        k: v
        for k, v in asdict(result).items()
        if k not in ("records", "runner_up_changed")
    }
    assert _same_json(to_json(summary), untyped)
    again = from_json(SanityTestSummary, to_json(summary))
    assert _same_json(to_json(again), to_json(summary))
    assert isinstance(again.intervals["saliency"][RULE.measure], Interval)
    assert np.isnan(again.intervals["saliency"]["cascading_spearman@1"].mean)
    with pytest.raises(JsonSchemaError, match="has no field 'record'"):
        from_json(SanityTestSummary, {**to_json(summary), "record": {}})


def test_sanity_verdicts_hold_an_interval_and_write_the_same_keys() -> None:
    verdicts = sanity_verdict(_sanity_result(), RULE)
    saliency, control = verdicts["saliency"], verdicts["guided_backprop"]
    assert (saliency.verdict, control.verdict) == ("passes", "fails")
    assert isinstance(saliency.interval, Interval)
    assert saliency.to_json()["interval"] == saliency.interval.to_json()
    assert format_ci(saliency.interval) in saliency.evidence
    rule = SanityRuleSummary.of(RULE)
    assert from_json(SanityRuleSummary, to_json(rule)) == rule
    assert from_json(SkippedTest, {"skipped": "why"}) == SkippedTest("why")


def test_road_summary_types_road_summary_and_the_accuracy_intervals() -> None:
    model, images, labels, maps = toy_problem(6)
    morf = road_curve(model, images, labels, maps, FRACTIONS, "morf")
    lerf = road_curve(model, images, labels, maps, FRACTIONS, "lerf")
    found = road_summary(morf, lerf, n_resamples=50)
    per_fraction = [
        bootstrap_ci(morf.correct[:, j].astype(np.float64), 50)
        for j in range(len(FRACTIONS))
    ]
    untyped = {
        **found,
        "base_accuracy": 1.0,
        "morf_accuracy_ci": per_fraction,
        "lerf_accuracy_ci": per_fraction,
    }
    typed = [Interval.of(ci) for ci in per_fraction]
    method = RoadMethodSummary.of(found, 1.0, typed, typed)
    assert _same_json(to_json(method), untyped)
    assert isinstance(method.gap, PairedDifference)
    assert method.accuracy_intervals("lerf") == typed
    with pytest.raises(ValueError, match="'morf' or 'lerf'"):
        method.accuracy_intervals("both")
    summary = RoadSummary(list(FRACTIONS), 6, {"saliency": method}, morf.protocol)
    assert from_json(RoadSummary, json.loads(json.dumps(to_json(summary)))) == summary
    with pytest.raises(JsonSchemaError, match="no field 'gap_ci'"):
        from_json(RoadMethodSummary, {**to_json(method), "gap_ci": {}})
    with pytest.raises(JsonSchemaError, match="auc_of"):
        from_json(RoadMethodSummary, {**to_json(method), "auc_of": "loss"})


def test_class_summary_is_the_result_without_records_and_with_the_pairs() -> None:
    values = np.linspace(0.2, 0.9, 5)
    result = {
        "protocol": {"pairs": "every unordered pair", "methods": {"saliency": {}}},
        "n_pairs": 5,
        "n_images": 3,
        "methods": {
            "saliency": {
                name: bootstrap_ci(values * scale, n_resamples=50)
                for name, scale in (
                    ("binarized_similarity", 1.0),
                    ("top_iou", 0.5),
                    ("avg_diff", 0.1),
                )
            }
        },
        "records": {"index": [0, 0, 1, 2, 2]},
    }
    summary = ClassDiscriminativitySummary.of(result, "multi-object images")
    untyped = {k: v for k, v in result.items() if k != "records"}
    assert _same_json(to_json(summary), {**untyped, "pairs": "multi-object images"})
    measures = summary.methods["saliency"].measures()
    assert list(measures) == ["binarized_similarity", "top_iou", "avg_diff"]
    assert from_json(ClassDiscriminativitySummary, to_json(summary)) == summary
    with pytest.raises(JsonSchemaError, match="PairMeasures has no field 'iou'"):
        from_json(PairMeasures, {**to_json(measures), "iou": {}})


def test_localization_summary_merges_the_clean_and_adversarial_results() -> None:
    torch.manual_seed(0)
    masks = torch.rand(6, 8, 8) > 0.5
    maps = torch.rand(6, 3, 8, 8) - 0.3
    clean = localization(masks, {"saliency": {"clean": maps}}, n_resamples=50)
    attacked = localization(
        masks[:4], {"saliency": {"adversarial fgsm": maps[:4]}}, n_resamples=50
    )
    summary = LocalizationSummary.of(clean, attacked)
    # What the unit wrote before: the clean result, each method's conditions
    # updated with the adversarial ones, and the adversarial count and area.
    untyped = json.loads(json.dumps(clean))
    untyped["methods"]["saliency"].update(attacked["methods"]["saliency"])
    untyped["n_adversarial"] = attacked["n"]
    untyped["mask_area_adversarial"] = attacked["mask_area"]
    assert _same_json(to_json(summary), untyped)
    assert list(summary.methods["saliency"]) == ["clean", "adversarial fgsm"]
    assert summary.n_adversarial == 4
    assert from_json(LocalizationSummary, to_json(summary)) == summary
    with pytest.raises(JsonSchemaError, match="needs 'mask_area'"):
        from_json(
            LocalizationSummary,
            {k: v for k, v in to_json(summary).items() if k != "mask_area"},
        )


def test_format_ci_reads_an_interval_like_its_dict() -> None:
    values = bootstrap_ci([0.1, 0.4, 0.35, 0.2], n_resamples=50)
    assert format_ci(Interval.of(values)) == format_ci(values)
    assert format_ci(Interval(float("nan"), 0.0, 1.0, 0)) == "n/a"
    assert format_ci(Interval(0.5, float("nan"), float("nan"), 1)) == "0.500"
    assert format_ci(None) == "n/a"
