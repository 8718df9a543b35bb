"""Tiny result dicts shaped like those of ``results.json`` and ``records.json``."""

from __future__ import annotations

from typing import Any

NAN = float("nan")
FRACTIONS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]


def ci(mean: float, half: float | None = 0.05) -> dict[str, Any]:
    """A bootstrap summary; ``half=None`` gives NaN bounds (too few images)."""
    low = NAN if half is None else mean - half
    high = NAN if half is None else mean + half
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": 8, "n_nan": 0}


def recovery(methods: dict[str, float], with_ci: bool = True) -> dict[str, Any]:
    """One attack run of ``results["recovery"]``: name to its AUC."""
    half = 0.05 if with_ci else None
    result: dict[str, Any] = {"n": 8, "fractions": list(FRACTIONS), "methods": {}}
    for name, auc in methods.items():
        curve = [max(0.0, 0.9 * auc * (1 - j / 8)) for j in range(len(FRACTIONS))]
        result["methods"][name] = {
            "n": 8,
            "auc": ci(auc, half),
            "accuracy": [ci(v, half) for v in curve],
            "base_accuracy": 0.0,
        }
    reference = methods.get("enhanced_gbp", 0.4)
    result["comparisons"] = [
        {
            "method": name,
            "reference": "enhanced_gbp",
            "mean": auc,
            "mean_diff": auc - reference,
            "ci_low": auc - reference - 0.03 if with_ci else NAN,
            "ci_high": auc - reference + 0.03 if with_ci else NAN,
            "p_holm": 0.0004 if abs(auc - reference) > 0.1 else 0.5,
            "verdict": "ties",
        }
        for name, auc in methods.items()
        if name != "enhanced_gbp"
    ]
    result["energy_share"] = {
        name: {"0.05": ci(0.2), "0.1": ci(0.3, half), "0.2": ci(0.5)}
        for name in [*methods, "oracle |x_adv - x|"]
    }
    return result


def adversarial(methods: list[str], adv_f: bool = True, controls: bool = True):
    """One attack run of ``results["adversarial"]``."""
    summary: dict[str, Any] = {}
    for i, name in enumerate(methods):
        rho = 0.2 + 0.1 * i
        entry = {"main": {"adv_s": {"spearman": ci(rho), "change": 1 - rho}}}
        if adv_f:
            entry["main"]["adv_f"] = {"spearman": ci(rho + 0.2), "change": 0.8 - rho}
        else:
            entry["main"]["adv_f"] = {"spearman": ci(NAN, None), "change": NAN}
        if controls:
            for comparison in ("class_only", "input_only", "noise"):
                entry[comparison] = {"adv_s": {"spearman": ci(rho + 0.3)}}
        summary[name] = entry
    return {
        "groups": {"adv_s": 5, "adv_f": 3 if adv_f else 0},
        "methods": summary,
        "random_maps": {"spearman": ci(0.0, 0.01), "iou": ci(0.05)},
    }


def class_discriminativity() -> tuple[dict[str, Any], dict[str, Any]]:
    """``results["class_discriminativity"]`` and its records."""
    names = ["guided_backprop", "saliency", "enhanced_gbp"]
    values = [0.1 * (i % 10) for i in range(12)]
    result = {
        "n_pairs": 12,
        "methods": {
            n: {"binarized_similarity": ci(0.9), "avg_diff": ci(0.3, None)}
            for n in names
        },
    }
    records = {"index": list(range(12)), "k": [0] * 12, "m": [1] * 12}
    for name in names:
        records[name] = {"binarized_similarity": values, "avg_diff": values}
    return result, records
