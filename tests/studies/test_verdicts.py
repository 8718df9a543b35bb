import math

from captum_contrastive.metrics import compare_to_reference
from captum_contrastive.metrics.intervals import Interval, ReferenceComparison
from captum_contrastive.studies.adversarial_summary import (
    AdversarialRunSummary,
    AttackGroups,
    MapChange,
    MapSimilarity,
    OutcomeSimilarity,
    RandomMaps,
)
from captum_contrastive.studies.recovery_summary import (
    RankingRecovery,
    RecoveryRunSummary,
)
from captum_contrastive.studies.verdicts import (
    claim_adversarial_change,
    claim_filtering_effect,
    claim_recovery,
    format_ci,
    reference_outcomes,
)
from captum_contrastive.typed_json import to_json

METHOD_SIDE = {"beats": "loses", "loses": "beats", "ties": "ties"}


def _rows(reference_outcome: dict[str, str]) -> list[ReferenceComparison]:
    """Rows as compare_to_reference writes them (from the compared method's side);
    only the method and the verdict matter to the claims."""
    return [
        ReferenceComparison(
            m,
            "enhanced_gbp",
            20,
            0,
            0.5,
            0.5,
            0.0,
            -0.1,
            0.1,
            0.5,
            0.05,
            True,
            0.95,
            2000,
            0.5,
            METHOD_SIDE[v],
        )
        for m, v in reference_outcome.items()
    ]


def test_reference_outcomes_read_compare_to_reference_from_the_reference_side() -> None:
    rows = compare_to_reference(
        {"egbp": [0.9, 0.8, 0.95, 0.85], "random": [0.1, 0.2, 0.1, 0.3]},
        reference="egbp",
        n_resamples=500,
    )
    assert rows[0]["verdict"] == "loses"
    assert reference_outcomes([ReferenceComparison.of(r) for r in rows]) == {
        "random": "beats"
    }


def test_format_ci_reads_an_interval_or_its_dict() -> None:
    interval = Interval(0.5, 0.25, 0.75, n=8)
    assert (
        format_ci(interval) == format_ci(interval.to_json()) == "0.500 [0.250, 0.750]"
    )
    assert format_ci(Interval(0.5, math.nan, math.nan, n=1)) == "0.500"
    assert format_ci(Interval(math.nan, math.nan, math.nan, n=0)) == "n/a"
    assert format_ci(None) == "n/a"


def _ci(mean: float, low: float, high: float, n: int = 20) -> dict:
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": n}


def _class_result(similarity: dict, avg_diff: dict) -> dict:
    return {
        "n_pairs": 20,
        "methods": {
            "guided_backprop": {
                "binarized_similarity": similarity,
                "avg_diff": avg_diff,
            },
            "saliency": {"binarized_similarity": _ci(0.5, 0.45, 0.55)},
        },
    }


def test_filtering_effect_rules() -> None:
    holds = _class_result(_ci(0.97, 0.95, 0.98), _ci(0.3, 0.2, 0.4))
    assert claim_filtering_effect(holds)["verdict"] == "holds"
    fails = _class_result(_ci(0.7, 0.65, 0.75), _ci(0.3, 0.2, 0.4))
    assert claim_filtering_effect(fails)["verdict"] == "does not hold"
    straddles = _class_result(_ci(0.9, 0.85, 0.95), _ci(0.3, 0.2, 0.4))
    assert claim_filtering_effect(straddles)["verdict"] == "inconclusive"


def _interval(mean: float, low: float, high: float, n: int = 20) -> Interval:
    return Interval(mean, low, high, n)


def _recovery(verdicts: dict[str, str]) -> RecoveryRunSummary:
    auc = _interval(0.5, 0.4, 0.6)
    methods = {
        m: RankingRecovery(30, auc, [], 0.0) for m in [*verdicts, "enhanced_gbp"]
    }
    return RecoveryRunSummary({}, 30, [], methods, _rows(verdicts), {})


def test_recovery_rules() -> None:
    beats_all = {"cw-k0": _recovery({"saliency": "beats", "random": "beats"})}
    assert claim_recovery(beats_all, ["cw-k0"], "enhanced_gbp").verdict == "holds"
    ties = {"cw-k0": _recovery({"saliency": "ties", "random": "beats"})}
    assert claim_recovery(ties, ["cw-k0"], "enhanced_gbp").verdict == "inconclusive"
    random_ties = {"cw-k0": _recovery({"saliency": "beats", "random": "ties"})}
    result = claim_recovery(random_ties, ["cw-k0"], "enhanced_gbp")
    assert result.verdict == "does not hold"
    mixed = {**beats_all, "cw-k5": _recovery({"saliency": "loses", "random": "beats"})}
    result = claim_recovery(mixed, ["cw-k0", "cw-k5"], "enhanced_gbp")
    assert result.verdict == "inconclusive"
    assert result.per_run["cw-k5"].loses_to == ["saliency"]


def _adversarial(
    comparisons: dict[str, str], s: Interval, f: Interval
) -> AdversarialRunSummary:
    iou = _interval(0.3, 0.2, 0.4)

    def similar(rho: Interval, change: float) -> OutcomeSimilarity:
        return OutcomeSimilarity(MapSimilarity(rho, iou, change))

    def method(change: float) -> MapChange:
        return MapChange(
            main=OutcomeSimilarity(
                MapSimilarity(s, iou, change), MapSimilarity(f, iou, 1 - f.mean)
            ),
            class_only=similar(s, change * 0.9),
            input_only=similar(s, change * 0.1),
        )

    return AdversarialRunSummary(
        protocol={},
        groups=AttackGroups(s.n, f.n),
        methods={"enhanced_gbp": method(0.8), "saliency": method(0.2)},
        random_maps=RandomMaps(iou, iou),
        comparisons=_rows(comparisons),
    )


def test_adversarial_change_rules_and_decomposition() -> None:
    separated = _adversarial(
        {"saliency": "beats"}, _interval(0.2, 0.1, 0.3), _interval(0.9, 0.85, 0.95)
    )
    result = claim_adversarial_change(
        {"cw-k0": separated, "bim": separated}, "cw-k0", "bim", "enhanced_gbp"
    )
    assert result.verdict == "holds"
    decomposition = result.decomposition["enhanced_gbp"]
    assert abs(decomposition["class_only_share"] - 0.9) < 1e-9
    assert abs(decomposition["input_only_share"] - 0.1) < 1e-9
    assert "noise_change" not in decomposition  # no noise control in this run
    assert result.adv_s_vs_adv_f.separated and result.adv_s_vs_adv_f.n_s == 20

    loses = _adversarial(
        {"saliency": "loses"}, _interval(0.2, 0.1, 0.3), _interval(0.9, 0.8, 1)
    )
    result = claim_adversarial_change(
        {"cw-k0": loses, "bim": loses}, "cw-k0", "bim", "enhanced_gbp"
    )
    assert result.verdict == "does not hold"

    no_failures = claim_adversarial_change(
        {"cw-k0": separated}, "cw-k0", None, "enhanced_gbp"
    )
    assert no_failures.verdict == "inconclusive"
    written = to_json(no_failures)
    assert list(written)[:3] == ["claim", "verdict", "rule"]
    assert written["adv_s_vs_adv_f"] is None and "failure_run_missing" not in written
