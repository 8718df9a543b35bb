"""Verdicts on the paper's three claims, computed from a run's summaries.

Each verdict is ``"holds"``, ``"does not hold"`` or ``"inconclusive"`` with the
numbers that decide it and the rule that was applied, so a reader can check it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from captum_contrastive.metrics.intervals import Interval, ReferenceComparison
from captum_contrastive.studies.adversarial_summary import (
    AdversarialRunSummary,
    MapChange,
)
from captum_contrastive.studies.claim_results import (
    AdversarialChangeClaim,
    OutcomeSplit,
    RecoveryClaim,
    RecoveryRunClaim,
)
from captum_contrastive.studies.recovery import ORACLE
from captum_contrastive.studies.recovery_summary import RecoveryRunSummary

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


def reference_outcomes(rows: Sequence[ReferenceComparison]) -> dict[str, str]:
    """Per compared method, the reference's outcome against it.

    :func:`~captum_contrastive.metrics.compare_to_reference` labels each row from
    the compared method's side (``"beats"``: the method beats the reference); this
    flips the label to the reference's side.

    Args:
        rows (sequence of ReferenceComparison): the comparisons (rows of
            ``compare_to_reference`` typed with :meth:`ReferenceComparison.of`).
    """
    return {row.method: _FROM_REFERENCE_SIDE[row.verdict] for row in rows}


def format_ci(values: Interval | Mapping[str, Any] | None) -> str:
    """``mean [low, high]`` of a bootstrap summary; ``n/a`` without a mean, the
    mean alone without an interval.

    Args:
        values (Interval or Mapping, optional): an :class:`Interval`, or a
            ``bootstrap_ci`` dict (``mean``, ``ci_low``, ``ci_high``).

    Examples::

        >>> format_ci(Interval(0.5, 0.4, 0.6, n=10))
        '0.500 [0.400, 0.600]'
    """
    if isinstance(values, Interval):
        mean, low, high = values.mean, values.ci_low, values.ci_high
    elif values:
        mean, low, high = (values.get(k) for k in ("mean", "ci_low", "ci_high"))
    else:
        return "n/a"
    if mean is None or math.isnan(mean):
        return "n/a"
    if low is None or math.isnan(low):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


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
    recovery: Mapping[str, RecoveryRunSummary], runs: list[str], reference: str
) -> RecoveryClaim:
    """Claim 2: Enhanced GuidedBP recovers accuracy best on C&W images.

    Rule, per C&W run: holds if the reference beats every other ranking (paired
    bootstrap of AUC differences, Holm-corrected), including the random one; does
    not hold if it loses to any ranking or does not beat random; else
    inconclusive. Over runs: holds / does not hold only if every run agrees.

    Args:
        recovery (Mapping[str, RecoveryRunSummary]): the study's summary per
            attack run.
        runs (list of str): the C&W runs the claim is decided on (those missing
            from ``recovery`` are left out).
        reference (str): the method the claim is about.

    Returns:
        RecoveryClaim: the verdict, the rule and each run's verdict.
    """
    per_run = {
        name: _recovery_run(recovery[name], reference)
        for name in runs
        if name in recovery
    }
    outcomes = {v.verdict for v in per_run.values()}
    overall = outcomes.pop() if len(outcomes) == 1 else "inconclusive"
    return RecoveryClaim(
        claim="Enhanced GuidedBP recovers accuracy best on C&W adversarials",
        verdict=overall if per_run else "inconclusive",
        rule="beats every ranking incl. random (paired bootstrap AUC, Holm, "
        "alpha 0.05) in every C&W run",
        per_run=per_run,
    )


def _recovery_run(run: RecoveryRunSummary, reference: str) -> RecoveryRunClaim:
    """Claim 2 on one attack run."""
    verdicts = reference_outcomes(run.comparisons)
    losses = [m for m, v in verdicts.items() if v == "loses"]
    ties = [m for m, v in verdicts.items() if v == "ties"]
    if losses or verdicts.get("random") != "beats":
        verdict = "does not hold"
    elif ties:
        verdict = "inconclusive"
    else:
        verdict = "holds"
    candidates = [m for m in run.methods if m != ORACLE]
    best = max(candidates, key=lambda m: run.methods[m].auc.mean)
    return RecoveryRunClaim(
        verdict=verdict,
        n=run.n,
        reference_auc=format_ci(run.auc(reference)),
        random_auc=format_ci(run.auc("random")),
        best=f"{best} {format_ci(run.auc(best))}",
        loses_to=losses,
        ties_with=ties,
    )


def claim_adversarial_change(
    adversarial: Mapping[str, AdversarialRunSummary],
    success_run: str,
    failure_run: str | None,
    reference: str,
) -> AdversarialChangeClaim:
    """Claim 3: Enhanced GuidedBP maps change under a successful attack (Adv_s)
    and little under a failed one (Adv_f), while the other methods barely change.

    Rule: holds if, on ``success_run``, the reference's clean-vs-adversarial
    Spearman rho on Adv_s is lower than every other method's (paired bootstrap,
    Holm) and, on ``failure_run``, its Adv_s rho CI lies below its Adv_f rho CI;
    does not hold if another method changes significantly more, or its Adv_f rho
    is not above its Adv_s rho; else inconclusive. The decomposition reports, per
    method, the change (1 - rho) of the class-only and input-only controls as
    shares of the main change.

    Args:
        adversarial (Mapping[str, AdversarialRunSummary]): the study's summary
            per attack run.
        success_run (str): the run whose Adv_s group decides the comparison.
        failure_run (str, optional): the run whose Adv_s/Adv_f split decides
            the second half.
        reference (str): the method the claim is about.

    Returns:
        AdversarialChangeClaim: the verdict, the rule, the runs, the methods the
        reference changes less than or ties with, the split, the decomposition
        and the runner-up share.
    """
    main = adversarial[success_run]
    verdicts = reference_outcomes(main.comparisons or [])
    losses = [m for m, v in verdicts.items() if v == "loses"]
    ties = [m for m, v in verdicts.items() if v == "ties"]
    split = None
    if failure_run is not None and failure_run in adversarial:
        split = _outcome_split(adversarial[failure_run], reference)
    if losses or (split is not None and split.reversed):
        verdict = "does not hold"
    elif not ties and split is not None and split.separated:
        verdict = "holds"
    else:
        verdict = "inconclusive"
    return AdversarialChangeClaim(
        claim="Enhanced GuidedBP maps change under successful attacks while the "
        "others barely change",
        verdict=verdict,
        rule="reference has the lowest Adv_s rho (paired bootstrap, Holm) and "
        "its Adv_s rho CI < its Adv_f rho CI",
        success_run=success_run,
        failure_run=failure_run,
        changes_less_than=losses,
        ties_with=ties,
        adv_s_vs_adv_f=split,
        decomposition={m: _decomposition(c) for m, c in main.methods.items()},
        runner_up_is_adversarial_class=main.runner_up_is_adversarial_class,
    )


def _outcome_split(run: AdversarialRunSummary, reference: str) -> OutcomeSplit | None:
    """The reference's Adv_s rho against its Adv_f rho on ``run``; ``None``
    unless both groups hold at least 2 images."""
    main = run.methods[reference].main
    if main.adv_f is None:
        return None
    s, f = main.adv_s.spearman, main.adv_f.spearman
    if s.n < 2 or f.n < 2:
        return None
    return OutcomeSplit(
        adv_s=format_ci(s),
        adv_f=format_ci(f),
        separated=s.ci_high < f.ci_low,
        reversed=f.ci_high < s.ci_low,
        n_s=s.n,
        n_f=f.n,
    )


def _decomposition(change: MapChange) -> dict[str, float | None]:
    """A method's main Adv_s change, and each control's change and share of it."""
    main = change.main.adv_s.change
    entry: dict[str, float | None] = {"main_change": main}
    for control, groups in change.comparisons().items():
        if control == "main":
            continue
        value = groups.adv_s.change
        entry[f"{control}_change"] = value
        entry[f"{control}_share"] = (
            value / main if main and not math.isnan(main) else None
        )
    return entry
