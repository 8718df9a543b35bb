"""Verdicts on the paper's three claims, computed from a run's summaries.

Each verdict is ``"holds"``, ``"does not hold"`` or ``"inconclusive"`` with the
numbers that decide it and the rule that was applied, so a reader can check it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from captum_contrastive.studies.recovery import ORACLE

__all__ = [
    "FILTER_SIMILARITY_THRESHOLD",
    "claim_adversarial_change",
    "claim_filtering_effect",
    "claim_recovery",
    "format_ci",
    "reference_outcomes",
]

FILTER_SIMILARITY_THRESHOLD = 0.9
_FROM_REFERENCE_SIDE = {"beats": "loses", "loses": "beats", "ties": "ties"}


def reference_outcomes(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Per compared method, the reference's outcome against it.

    :func:`~captum_contrastive.metrics.compare_to_reference` labels each row from
    the compared method's side (``"beats"``: the method beats the reference); this
    flips the label to the reference's side.
    """
    return {row["method"]: _FROM_REFERENCE_SIDE[row["verdict"]] for row in rows}


def format_ci(values: Any) -> str:
    """``mean [low, high]`` of a bootstrap summary (a dict, or anything with
    ``mean``, ``ci_low`` and ``ci_high``, e.g. an
    :class:`~captum_contrastive.metrics.intervals.Interval`); ``n/a`` without a
    mean, the mean alone without an interval."""
    if values is not None and not isinstance(values, Mapping):
        values = {
            "mean": values.mean,
            "ci_low": values.ci_low,
            "ci_high": values.ci_high,
        }
    if not values or values.get("mean") is None or math.isnan(values["mean"]):
        return "n/a"
    low, high = values.get("ci_low"), values.get("ci_high")
    if low is None or math.isnan(low):
        return f"{values['mean']:.3f}"
    return f"{values['mean']:.3f} [{low:.3f}, {high:.3f}]"


def claim_filtering_effect(class_result: dict[str, Any]) -> dict[str, Any]:
    """Claim 1: GuidedBP maps of two classes share their filtering effect (their
    binarized maps agree), while their values differ (Avg-Diff > 0).

    Rule: holds if the 95% CI of GuidedBP's binarized similarity lies above
    :data:`FILTER_SIMILARITY_THRESHOLD` and the CI of its Avg-Diff above 0; does
    not hold if the similarity CI lies below the threshold; else inconclusive.
    """
    guided = class_result["methods"]["guided_backprop"]
    similarity, difference = guided["binarized_similarity"], guided["avg_diff"]
    if similarity["ci_low"] >= FILTER_SIMILARITY_THRESHOLD and difference["ci_low"] > 0:
        verdict = "holds"
    elif similarity["ci_high"] < FILTER_SIMILARITY_THRESHOLD:
        verdict = "does not hold"
    else:
        verdict = "inconclusive"
    controls = {
        name: format_ci(values["binarized_similarity"])
        for name, values in class_result["methods"].items()
        if name != "guided_backprop"
    }
    return {
        "claim": "GuidedBP shares its filtering effect across classes",
        "verdict": verdict,
        "rule": f"similarity CI > {FILTER_SIMILARITY_THRESHOLD} and Avg-Diff CI > 0",
        "evidence": (
            f"GuidedBP binarized similarity {format_ci(similarity)}, Avg-Diff "
            f"{format_ci(difference)} over {class_result['n_pairs']} class pairs; "
            "controls' similarity: "
            + ", ".join(f"{k} {v}" for k, v in controls.items())
        ),
    }


def claim_recovery(
    recovery: dict[str, dict[str, Any]], runs: list[str], reference: str
) -> dict[str, Any]:
    """Claim 2: Enhanced GuidedBP recovers accuracy best on C&W images.

    Rule, per C&W run: holds if the reference beats every other ranking (paired
    bootstrap of AUC differences, Holm-corrected), including the random one; does
    not hold if it loses to any ranking or does not beat random; else
    inconclusive. Over runs: holds / does not hold only if every run agrees.
    """
    per_run = {}
    for name in runs:
        if name not in recovery:
            continue
        verdicts = reference_outcomes(recovery[name]["comparisons"])
        losses = [m for m, v in verdicts.items() if v == "loses"]
        ties = [m for m, v in verdicts.items() if v == "ties"]
        if losses or verdicts.get("random") != "beats":
            verdict = "does not hold"
        elif ties:
            verdict = "inconclusive"
        else:
            verdict = "holds"
        methods = recovery[name]["methods"]
        candidates = [m for m in methods if m != ORACLE]
        best = max(candidates, key=lambda m: methods[m]["auc"]["mean"])
        per_run[name] = {
            "verdict": verdict,
            "n": recovery[name]["n"],
            "reference_auc": format_ci(methods[reference]["auc"]),
            "random_auc": format_ci(methods["random"]["auc"]),
            "best": f"{best} {format_ci(methods[best]['auc'])}",
            "loses_to": losses,
            "ties_with": ties,
        }
    outcomes = {v["verdict"] for v in per_run.values()}
    overall = outcomes.pop() if len(outcomes) == 1 else "inconclusive"
    return {
        "claim": "Enhanced GuidedBP recovers accuracy best on C&W adversarials",
        "verdict": overall if per_run else "inconclusive",
        "rule": "beats every ranking incl. random (paired bootstrap AUC, Holm, "
        "alpha 0.05) in every C&W run",
        "per_run": per_run,
    }


def claim_adversarial_change(
    adversarial: dict[str, dict[str, Any]],
    success_run: str,
    failure_run: str | None,
    reference: str,
) -> dict[str, Any]:
    """Claim 3: Enhanced GuidedBP maps change under a successful attack (Adv_s)
    and little under a failed one (Adv_f), while the other methods barely change.

    Rule: holds if, on ``success_run``, the reference's clean-vs-adversarial
    Spearman rho on Adv_s is lower than every other method's (paired bootstrap,
    Holm) and, on ``failure_run``, its Adv_s rho CI lies below its Adv_f rho CI;
    does not hold if another method changes significantly more, or its Adv_f rho
    is not above its Adv_s rho; else inconclusive. The decomposition reports, per
    method, the change (1 - rho) of the class-only and input-only controls as
    shares of the main change.
    """
    main = adversarial[success_run]
    verdicts = reference_outcomes(main.get("comparisons", []))
    losses = [m for m, v in verdicts.items() if v == "loses"]
    ties = [m for m, v in verdicts.items() if v == "ties"]
    split = None
    if failure_run is not None and failure_run in adversarial:
        groups = adversarial[failure_run]["methods"][reference]["main"]
        if "adv_s" in groups and "adv_f" in groups:
            s, f = groups["adv_s"]["spearman"], groups["adv_f"]["spearman"]
            if s["n"] >= 2 and f["n"] >= 2:
                split = {
                    "adv_s": format_ci(s),
                    "adv_f": format_ci(f),
                    "separated": s["ci_high"] < f["ci_low"],
                    "reversed": f["ci_high"] < s["ci_low"],
                    "n_s": s["n"],
                    "n_f": f["n"],
                }
    if losses or (split is not None and split["reversed"]):
        verdict = "does not hold"
    elif not ties and split is not None and split["separated"]:
        verdict = "holds"
    else:
        verdict = "inconclusive"
    decomposition = {}
    for method, comparisons in main["methods"].items():
        change = comparisons["main"]["adv_s"]["change"]
        entry = {"main_change": change}
        for control in ("class_only", "input_only", "noise"):
            if control in comparisons:
                value = comparisons[control]["adv_s"]["change"]
                entry[f"{control}_change"] = value
                entry[f"{control}_share"] = (
                    value / change if change and not math.isnan(change) else None
                )
        decomposition[method] = entry
    return {
        "claim": "Enhanced GuidedBP maps change under successful attacks while the "
        "others barely change",
        "verdict": verdict,
        "rule": "reference has the lowest Adv_s rho (paired bootstrap, Holm) and "
        "its Adv_s rho CI < its Adv_f rho CI",
        "success_run": success_run,
        "failure_run": failure_run,
        "changes_less_than": losses,
        "ties_with": ties,
        "adv_s_vs_adv_f": split,
        "decomposition": decomposition,
        "runner_up_is_adversarial_class": main.get("runner_up_is_adversarial_class"),
    }
