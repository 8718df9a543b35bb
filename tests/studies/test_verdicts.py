from captum_contrastive.metrics import compare_to_reference
from captum_contrastive.studies.verdicts import (
    claim_adversarial_change,
    claim_filtering_effect,
    claim_recovery,
    reference_outcomes,
)

METHOD_SIDE = {"beats": "loses", "loses": "beats", "ties": "ties"}


def _rows(reference_outcome: dict[str, str]) -> list[dict]:
    """Rows as compare_to_reference writes them (from the compared method's side)."""
    return [
        {"method": m, "verdict": METHOD_SIDE[v]} for m, v in reference_outcome.items()
    ]


def test_reference_outcomes_read_compare_to_reference_from_the_reference_side() -> None:
    rows = compare_to_reference(
        {"egbp": [0.9, 0.8, 0.95, 0.85], "random": [0.1, 0.2, 0.1, 0.3]},
        reference="egbp",
        n_resamples=500,
    )
    assert rows[0]["verdict"] == "loses"
    assert reference_outcomes(rows) == {"random": "beats"}


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


def _recovery(verdicts: dict[str, str]) -> dict:
    methods = {m: {"auc": _ci(0.5, 0.4, 0.6)} for m in [*verdicts, "enhanced_gbp"]}
    return {
        "n": 30,
        "methods": methods,
        "comparisons": _rows(verdicts),
    }


def test_recovery_rules() -> None:
    beats_all = {"cw-k0": _recovery({"saliency": "beats", "random": "beats"})}
    assert claim_recovery(beats_all, ["cw-k0"], "enhanced_gbp")["verdict"] == "holds"
    ties = {"cw-k0": _recovery({"saliency": "ties", "random": "beats"})}
    assert claim_recovery(ties, ["cw-k0"], "enhanced_gbp")["verdict"] == "inconclusive"
    random_ties = {"cw-k0": _recovery({"saliency": "beats", "random": "ties"})}
    result = claim_recovery(random_ties, ["cw-k0"], "enhanced_gbp")
    assert result["verdict"] == "does not hold"
    mixed = {**beats_all, "cw-k5": _recovery({"saliency": "loses", "random": "beats"})}
    result = claim_recovery(mixed, ["cw-k0", "cw-k5"], "enhanced_gbp")
    assert result["verdict"] == "inconclusive"
    assert result["per_run"]["cw-k5"]["loses_to"] == ["saliency"]


def _adversarial(comparisons: dict[str, str], s: dict, f: dict) -> dict:
    def method(change: float) -> dict:
        return {
            "main": {
                "adv_s": {"spearman": s, "change": change},
                "adv_f": {"spearman": f},
            },
            "class_only": {"adv_s": {"change": change * 0.9}},
            "input_only": {"adv_s": {"change": change * 0.1}},
        }

    return {
        "methods": {"enhanced_gbp": method(0.8), "saliency": method(0.2)},
        "comparisons": _rows(comparisons),
    }


def test_adversarial_change_rules_and_decomposition() -> None:
    separated = _adversarial(
        {"saliency": "beats"}, _ci(0.2, 0.1, 0.3), _ci(0.9, 0.85, 0.95)
    )
    result = claim_adversarial_change(
        {"cw-k0": separated, "bim": separated}, "cw-k0", "bim", "enhanced_gbp"
    )
    assert result["verdict"] == "holds"
    decomposition = result["decomposition"]["enhanced_gbp"]
    assert abs(decomposition["class_only_share"] - 0.9) < 1e-9
    assert abs(decomposition["input_only_share"] - 0.1) < 1e-9

    loses = _adversarial({"saliency": "loses"}, _ci(0.2, 0.1, 0.3), _ci(0.9, 0.8, 1))
    result = claim_adversarial_change(
        {"cw-k0": loses, "bim": loses}, "cw-k0", "bim", "enhanced_gbp"
    )
    assert result["verdict"] == "does not hold"

    no_failures = claim_adversarial_change(
        {"cw-k0": separated}, "cw-k0", None, "enhanced_gbp"
    )
    assert no_failures["verdict"] == "inconclusive"
