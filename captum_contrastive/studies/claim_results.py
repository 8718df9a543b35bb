"""The verdicts of claims 2 and 3, typed.

:func:`~captum_contrastive.studies.verdicts.claim_recovery` and
:func:`~captum_contrastive.studies.verdicts.claim_adversarial_change` return
these; :func:`~captum_contrastive.typed_json.to_json` writes them as
``results.json``'s ``verdicts`` entries (the same keys, in the same order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from captum_contrastive.studies.adversarial_summary import RunnerUpShare

__all__ = [
    "AdversarialChangeClaim",
    "OutcomeSplit",
    "RecoveryClaim",
    "RecoveryRunClaim",
]


@dataclass(frozen=True)
class RecoveryRunClaim:
    """Claim 2 on one C&W run.

    Attributes:
        verdict: ``"holds"``, ``"does not hold"`` or ``"inconclusive"``.
        n: the successful attacks.
        reference_auc, random_auc: their AUCs, formatted with their CIs.
        best: the ranking with the highest mean AUC (the oracle aside), and
            its AUC.
        loses_to, ties_with: the rankings the reference loses to or ties with.
    """

    verdict: str
    n: int
    reference_auc: str
    random_auc: str
    best: str
    loses_to: list[str]
    ties_with: list[str]


@dataclass(frozen=True)
class RecoveryClaim:
    """Claim 2 over the C&W runs: ``claim``, ``verdict``, the ``rule`` applied
    and each run's verdict (``per_run``)."""

    claim: str
    verdict: str
    rule: str
    per_run: dict[str, RecoveryRunClaim]


@dataclass(frozen=True)
class OutcomeSplit:
    """The reference's Adv_s rho against its Adv_f rho on the failure run.

    Attributes:
        adv_s, adv_f: the two rhos, formatted with their CIs.
        separated: the Adv_s CI lies below the Adv_f CI (the claim's way).
        reversed: the Adv_f CI lies below the Adv_s CI.
        n_s, n_f: the groups' sizes.
    """

    adv_s: str
    adv_f: str
    separated: bool
    reversed: bool
    n_s: int
    n_f: int


@dataclass(frozen=True)
class AdversarialChangeClaim:
    """Claim 3.

    Attributes:
        claim, verdict, rule: as in :class:`RecoveryClaim`.
        success_run: the run whose Adv_s group decides the comparison.
        failure_run: the run whose Adv_s/Adv_f split decides the rest.
        changes_less_than, ties_with: the methods whose maps change
            significantly more than the reference's / not significantly
            differently.
        adv_s_vs_adv_f: the split (``None`` without two groups of n >= 2).
        decomposition: per method, ``main_change`` and, per control present
            (``class_only``, ``input_only``, ``noise``), ``<control>_change``
            and ``<control>_share`` of the main change (``None`` when the main
            change is 0 or NaN): flat keys, as ``results.json`` writes them.
        runner_up_is_adversarial_class: on the success run.
        failure_run_missing: why the configured failure run was not used.
    """

    claim: str
    verdict: str
    rule: str
    success_run: str
    failure_run: str | None
    changes_less_than: list[str]
    ties_with: list[str]
    adv_s_vs_adv_f: OutcomeSplit | None
    decomposition: dict[str, dict[str, float | None]]
    runner_up_is_adversarial_class: RunnerUpShare | None
    failure_run_missing: str | None = field(default=None, metadata={"omit_none": True})
