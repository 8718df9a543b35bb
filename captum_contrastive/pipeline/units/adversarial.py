"""Adversarial discriminativity with its controls as a unit, and claim 3."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from captum_contrastive.pipeline.units.base import (
    MapRequest,
    ReportSection,
    RunData,
    StudyResult,
    StudyUnit,
    SummaryRow,
    Verdict,
    json_ready,
    percent,
    register_unit,
    table,
)
from captum_contrastive.studies.adversarial import adversarial_discriminativity
from captum_contrastive.studies.adversarial_summary import (
    AdversarialRunSummary,
    AdversarialSummary,
    AttackGroups,
    MapChange,
)
from captum_contrastive.studies.claim_results import AdversarialChangeClaim
from captum_contrastive.studies.verdicts import claim_adversarial_change, format_ci
from captum_contrastive.typed_json import from_json, to_json

__all__ = ["AdversarialUnit"]

CLAIM_KEY = "adversarial_change"
CLAIM = (
    "Enhanced GuidedBP maps change under successful attacks while the others "
    "barely change"
)
CONTROLS = {
    "clean_for_adversarial_class": "clean_adversarial_class",
    "noise": "noise",
}


@register_unit
class AdversarialUnit(StudyUnit):
    """How much each method's map changes from the clean to the attacked image."""

    name = "adversarial"
    command = "adversarial"
    description = "How each method's map changes from clean to adversarial images."
    default_out = "results/adversarial"
    title = "Adversarial discriminativity"
    summary_type = AdversarialSummary
    relative_cost = 3.0

    def runs_needed(self) -> list[str]:
        return self.config.main_runs()

    def maps_needed(self, data: RunData) -> list[MapRequest]:
        requests = []
        for run in self.runs_needed():
            for method in self.config.methods:
                requests += [
                    MapRequest(method, "clean"),
                    MapRequest(method, "adversarial", run),
                ]
                if run in self.config.control_runs:
                    requests += [MapRequest(method, c, run) for c in CONTROLS.values()]
        return requests

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "reference": c.reference_method,
            "control_runs": list(c.control_runs),
            "seed": c.seed,
            "n_resamples": c.n_resamples,
        }

    def evaluate(self, data: RunData) -> StudyResult:
        summary: AdversarialSummary = {}
        records: dict[str, Any] = {}
        runner_up = data.clean_runner_up
        for run in self.runs_needed():
            result = adversarial_discriminativity(
                data.attacks[run].batch,
                self._conditions(data, run),
                clean_runner_up=runner_up,
                seed=self.config.seed,
                reference=self._reference(),
                n_resamples=self.config.n_resamples,
            )
            noise = data.noise_predictions.get(run)
            if noise is not None:
                unchanged = (noise == data.labels).float().mean()
                result["noise_prediction_unchanged"] = float(unchanged)
            records[run] = result.pop("records")
            summary[run] = from_json(AdversarialRunSummary, json_ready(result), run)
        skipped = {
            f"controls {run}": f"{run} is not an attack run of this config"
            for run in self.config.control_runs
            if run not in data.attacks
        }
        return StudyResult(self.name, "", summary, json_ready(records), skipped)

    def _reference(self) -> str:
        reference = self.config.reference_method
        return reference if reference in self.config.methods else self.config.methods[0]

    def _conditions(
        self, data: RunData, run: str
    ) -> dict[str, dict[str, torch.Tensor]]:
        conditions = {}
        for method in self.config.methods:
            found = {
                "clean": data.maps[MapRequest(method, "clean")],
                "adversarial": data.maps[MapRequest(method, "adversarial", run)],
            }
            if run in self.config.control_runs:
                for name, condition in CONTROLS.items():
                    found[name] = data.maps[MapRequest(method, condition, run)]
            conditions[method] = found
        return conditions

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        runs: AdversarialSummary = result.summary or {}
        section = ReportSection()
        for run, summary in runs.items():
            section.rows += _rows(run, summary)
        found = self._claim(runs)
        section.verdicts.append(self._verdict(runs, found))
        parts = [] if isinstance(found, str) else [_decomposition_section(found)]
        parts += [_run_section(run, summary) for run, summary in runs.items()]
        section.markdown = "\n".join(p for p in parts if p)
        section.figures = self.figures(result, out)
        section.caveats.append(
            "Enhanced GuidedBP contrasts with the runner-up class, which on a C&W "
            "image is usually the true class; its map change under attack can "
            "therefore come from swapping the explained classes rather than from "
            "the perturbed pixels. The class-only / input-only controls separate "
            "the two."
        )
        return section

    def figures(self, result: StudyResult, out: Path) -> dict[str, list[Path]]:
        """Per attack run, the map-change decomposition with CIs (the plot reads
        ``results.json``'s values: :func:`~captum_contrastive.typed_json.to_json`
        of the run's summary)."""
        from captum_contrastive import plots  # matplotlib, only when drawing

        return {
            f"decomposition {run}": plots.plot_decomposition(
                to_json(summary),
                out / f"adversarial_decomposition_{run}",
                title=f"map change, {run}",
            ).paths
            for run, summary in (result.summary or {}).items()
        }

    def terminal_columns(self, result: StudyResult) -> dict[str, dict[str, str]]:
        """``rho <run> Adv_s`` of each attack run: each method's clean-vs-
        adversarial Spearman rho on the fooled images."""
        return {
            f"rho {run} Adv_s": {
                method: format_ci(change.main.adv_s.spearman)
                for method, change in summary.methods.items()
            }
            for run, summary in (result.summary or {}).items()
        }

    def protocol(self, result: StudyResult) -> dict[str, str] | None:
        """The comparisons and measures in words (the same for every run)."""
        first = next(iter((result.summary or {}).values()), None)
        return None if first is None else first.protocol

    def _claim(self, runs: AdversarialSummary) -> AdversarialChangeClaim | str:
        """Claim 3 on the runs, or why it cannot be evaluated."""
        reference = self.config.reference_method
        if not runs:
            return "no attack run was made"
        if reference not in self.config.methods:
            return f"the reference method {reference!r} is not in `methods`"
        main_cw = [r for r in runs if r.startswith("cw")]
        success_run = main_cw[0] if main_cw else next(iter(runs))
        failure = self.config.failure_run
        found = claim_adversarial_change(
            runs, success_run, failure if failure in runs else None, reference
        )
        if failure is not None and failure not in runs:
            missing = f"the failure run {failure!r} is not an attack run of this config"
            found = replace(found, failure_run_missing=missing)
        return found

    def _verdict(
        self, runs: AdversarialSummary, found: AdversarialChangeClaim | str
    ) -> Verdict:
        if isinstance(found, str):
            return Verdict.not_evaluated(3, CLAIM_KEY, CLAIM, found)
        text = _claim_text(found, self._undecided_hint(runs, found))
        details = to_json(found)
        return Verdict(3, CLAIM_KEY, found.claim, found.verdict, details, text)

    def _undecided_hint(
        self, runs: AdversarialSummary, found: AdversarialChangeClaim
    ) -> str:
        """When BIM left no Adv_s or no Adv_f group (n >= 2) for the claim's
        split, which one, and the option that would give it one: BIM's radius
        calibrated to a failure share (``--bim-calibrate-failure``)."""
        failure = self.config.failure_run
        if found.adv_s_vs_adv_f or failure != "bim" or failure not in runs:
            return ""
        groups = runs[failure].groups
        fooled, failed = groups.adv_s, groups.adv_f
        short = "Adv_f" if failed < 2 else "Adv_s"
        share = self.config.bim_calibrate_failure
        radius = (
            "its fixed radius"
            if share is None
            else f"the radius calibrated for a failure share of {share:g}"
        )
        outcome = (
            f"BIM fooled the model on {fooled} of {fooled + failed} images at "
            f"{radius}, leaving no {short} group with n >= 2."
        )
        if share is None:
            return (
                f"{outcome} To decide the claim, calibrate BIM's radius so that a "
                "share of its attacks fails: `--bim-calibrate-failure 0.3` (config "
                "`bim_calibrate_failure`)."
            )
        return (
            f"{outcome} To decide the claim, bring `--bim-calibrate-failure` "
            "nearer 0.5 or select more images (`--n-images`)."
        )


def _decomposition_section(found: AdversarialChangeClaim) -> str:
    """Claim 3's decomposition: each method's main change and the share of it
    the class-only and input-only controls reproduce."""
    nan = float("nan")
    rows = [
        [
            method,
            f"{d['main_change']:.3f}",
            f"{d.get('class_only_change', nan):.3f}",
            percent(d.get("class_only_share")),
            f"{d.get('input_only_change', nan):.3f}",
            percent(d.get("input_only_share")),
            f"{d.get('noise_change', nan):.3f}",
        ]
        for method, d in found.decomposition.items()
    ]
    header = ["method", "main", "class only", "share", "input only", "share"]
    return (
        f"### Claim 3: decomposition ({found.success_run}, Adv_s)\n\n"
        "How much of each map's change (1 - rho) the class swap alone and the "
        "input change alone reproduce:\n\n"
        + table(header + ["equal-norm noise"], rows)
        + "\n"
    )


def _claim_text(found: AdversarialChangeClaim, hint: str = "") -> str:
    split = found.adv_s_vs_adv_f
    if split:
        split_text = (
            f"On {found.failure_run}, the reference's rho is {split.adv_s} on "
            f"Adv_s (n={split.n_s}) vs {split.adv_f} on Adv_f (n={split.n_f})."
        )
    else:
        split_text = (
            found.failure_run_missing
            or hint
            or "No Adv_f group with n >= 2 was available."
        )
    text = (
        f"Rule: {found.rule}. {split_text} Methods that change significantly more "
        f"than the reference on {found.success_run} Adv_s: "
        f"{', '.join(found.changes_less_than) or 'none'}; not significantly "
        f"different: {', '.join(found.ties_with) or 'none'}."
    )
    share = found.runner_up_is_adversarial_class
    if share:
        text += (
            f"\n\nThe clean runner-up is the adversarial class for "
            f"{share.share:.0%} of {share.n} successful {found.success_run} "
            "images: there, Enhanced GBP's contrast swaps the two classes it "
            "explains."
        )
    return text


def _run_section(run: str, summary: AdversarialRunSummary) -> str:
    groups = summary.groups
    rows = [_method_row(m, change, groups) for m, change in summary.methods.items()]
    random = summary.random_maps
    rows.append(["two random maps", format_ci(random.spearman)])
    rows[-1] += [format_ci(random.iou), "", "", "", ""]
    header = ["method", "rho Adv_s", "IoU@10% Adv_s", "rho Adv_f"]
    header += ["rho class only", "rho input only", "rho noise"]
    text = (
        f"## Adversarial discriminativity: {run} "
        f"(Adv_s n={groups.adv_s}, Adv_f n={groups.adv_f})\n\n"
        + table(header, rows)
        + "\n"
    )
    unchanged = summary.noise_prediction_unchanged
    if unchanged is not None:
        text += (
            "\nNoise control left the prediction unchanged for "
            f"{unchanged:.0%} of images.\n"
        )
    return text


def _spearman(change: MapChange, comparison: str, group: str) -> str:
    """``format_ci`` of a comparison's rho in one group; ``n/a`` when the run
    lacks that comparison or group."""
    groups = change.comparisons().get(comparison)
    found = None if groups is None else groups.groups().get(group)
    return "n/a" if found is None else format_ci(found.spearman)


def _method_row(method: str, change: MapChange, groups: AttackGroups) -> list[str]:
    main = change.main
    return [
        method,
        format_ci(main.adv_s.spearman),
        format_ci(main.adv_s.iou),
        _spearman(change, "main", "adv_f") if groups.adv_f else "n/a",
        _spearman(change, "class_only", "adv_s"),
        _spearman(change, "input_only", "adv_s"),
        _spearman(change, "noise", "adv_s"),
    ]


def _rows(run: str, summary: AdversarialRunSummary) -> list[SummaryRow]:
    rows = []
    for method, change in summary.methods.items():
        for comparison, groups in change.comparisons().items():
            for group, similarity in groups.groups().items():
                for measure, interval in (
                    ("spearman", similarity.spearman),
                    ("iou", similarity.iou),
                ):
                    rows.append(
                        SummaryRow(
                            "adversarial",
                            run,
                            method,
                            f"{comparison}/{group}/{measure}",
                            interval,
                        )
                    )
    random = summary.random_maps
    for measure, interval in (("spearman", random.spearman), ("iou", random.iou)):
        rows.append(SummaryRow("adversarial", run, "random maps", measure, interval))
    return rows
