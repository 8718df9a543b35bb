"""The perturbation-recovery study as a unit (paper Fig. 4) and claim 2."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import captum_contrastive.metrics
import captum_contrastive.row_chunks
import captum_contrastive.studies
from captum_contrastive.fingerprint import code_digest, tensor_digest
from captum_contrastive.freed_memory import return_freed_memory
from captum_contrastive.metrics.intervals import Interval, ReferenceComparison
from captum_contrastive.metrics.perturbation import RecoveryCurve
from captum_contrastive.pipeline.cache import StageCache, shards
from captum_contrastive.pipeline.config import ATTACK_FAMILIES, cw_name
from captum_contrastive.pipeline.memory_plan import forward_batch
from captum_contrastive.pipeline.units.base import (
    MapRequest,
    ReportSection,
    RunData,
    StudyResult,
    StudyUnit,
    SummaryRow,
    Verdict,
    json_ready,
    register_unit,
    table,
)
from captum_contrastive.row_chunks import loaded
from captum_contrastive.studies.recovery import (
    ORACLE,
    RANDOM,
    recovery_curves,
    summarize_recovery,
)
from captum_contrastive.studies.recovery_summary import (
    RecoveryRunSummary,
    RecoverySummary,
)
from captum_contrastive.studies.verdicts import (
    claim_recovery,
    format_ci,
    reference_outcomes,
)
from captum_contrastive.typed_json import from_json, to_json

__all__ = ["RecoveryUnit"]

CLAIM_KEY = "recovery"
CLAIM = "Enhanced GuidedBP recovers accuracy best on C&W adversarials"


@register_unit
class RecoveryUnit(StudyUnit):
    """How much each map's top pixels carry the attack, per attack run."""

    name = "recovery"
    command = "recovery"
    description = "Perturbation recovery (paper Fig. 4) against Captum's methods."
    default_out = "results/recovery"
    title = "Perturbation recovery"
    summary_type = RecoverySummary
    relative_cost = 2.0

    def check_config(self, chosen: frozenset[str]) -> None:
        """A recovery attack that ``attacks`` does not run is an error when it
        was chosen, or when the recovery study is all the run does: the study
        would have no attack at all."""
        config = self.config
        missing = [
            a
            for a in config.recovery_attacks
            if a in ATTACK_FAMILIES and a not in config.attacks
        ]
        alone = tuple(config.studies) == (self.name,) and not config.recovery_runs()
        if missing and ("recovery_attacks" in chosen or alone):
            run = ",".join(config.attacks) or "none"
            these = "it" if len(missing) == 1 else "them"
            raise ValueError(
                f"`recovery_attacks` {','.join(missing)}: not among `attacks` "
                f"({run}); add {these} to `attacks`, or choose `recovery_attacks` "
                f"from {run}"
            )

    def runs_needed(self) -> list[str]:
        return self.config.recovery_runs()

    def maps_needed(self, data: RunData) -> list[MapRequest]:
        return [
            MapRequest(method, "adversarial", run)
            for run in self.runs_needed()
            for method in self.config.methods
        ]

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "fractions": list(c.fractions),
            "fill": c.fill,
            "reference": c.reference_method,
            "seed": c.seed,
            "n_resamples": c.n_resamples,
        }

    def evaluate(self, data: RunData) -> StudyResult:
        summary: RecoverySummary = {}
        records: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        for run in self.runs_needed():
            batch = data.attacks[run].batch
            n_success = int(batch.success.sum())
            if n_success < 2:
                skipped[f"recovery {run}"] = (
                    f"{n_success} successful attacks; at least 2 are needed"
                )
                continue
            records[run], summary[run] = self._evaluate_run(data, run)
        return StudyResult(self.name, "", summary, json_ready(records), skipped)

    def shard_work(self, shard: RunData, run: str | None) -> None:
        if run in self.runs_needed():
            self._shard_curves(shard, run)

    def _shard_curves(self, shard: RunData, run: str) -> dict[str, RecoveryCurve]:
        """Every ranking's recovery curves of one shard's successful attacks,
        cached per shard (the model's work of the study; each image's curve is
        its own, so the shards' curves joined are the run's)."""
        c = self.config
        attacked = shard.attacks[run]
        requests = {m: MapRequest(m, "adversarial", run) for m in c.methods}
        batch_size = forward_batch([shard.specs[m].settings for m in c.methods], 64)
        key = shard.context.key(
            "recovery_curves",
            batch_size=batch_size,
            attack=attacked.key.digest,
            maps={m: shard.map_keys[r].digest for m, r in requests.items()},
            fractions=list(c.fractions),
            fill=c.fill,
            mean=list(shard.selection.mean_colour) if c.fill == "mean" else None,
            signed=sorted(self._signed(shard)),
            seed=c.seed,
            code=self._curves_code,
        )
        batch = attacked.batch

        def compute(_: list[int]) -> dict[str, Any]:
            if not bool(batch.success.any()):
                return {"curves": {}}
            curves = recovery_curves(
                shard.context.model,
                batch.successful(),
                {m: loaded(shard.maps[r][batch.success]) for m, r in requests.items()},
                c.fractions,
                c.fill,
                mean=shard.selection.mean_colour,
                signed=self._signed(shard),
                seed=c.seed,
                # Forward passes of at most the memory plan's forward rows.
                batch_size=batch_size,
            )
            return {"curves": {n: curve.to_tensors() for n, curve in curves.items()}}

        stored = StageCache(shard.context.cache_root, key).load_or_compute(
            shard.selection.indices,
            compute,
            tensor_digest(
                [
                    batch.adversarial,
                    *(loaded(shard.maps[r]) for r in requests.values()),
                ]
            ),
        )
        return {n: RecoveryCurve.from_tensors(v) for n, v in stored["curves"].items()}

    @functools.cached_property
    def _curves_code(self) -> str:
        """The digest of the curves' code (read once, not once per shard)."""
        return code_digest(
            sys.modules[__name__],
            captum_contrastive.studies,
            captum_contrastive.metrics,
            captum_contrastive.row_chunks,
        )

    def _signed(self, data: RunData) -> set[str]:
        return {m for m in self.config.methods if data.specs[m].signed}

    def _run_curves(self, data: RunData, run: str) -> dict[str, RecoveryCurve]:
        """The run's curves, joined from its shards' (see :meth:`_shard_curves`)."""
        parts = []
        for shard in shards(data.selection.indices, data.config.shard_size):
            parts.append(self._shard_curves(data.cut(shard), run))
            return_freed_memory()  # the shard's images, read and freed
        parts = [part for part in parts if part]
        return {
            name: RecoveryCurve.concatenate([part[name] for part in parts])
            for name in parts[0]
        }

    def _evaluate_run(
        self, data: RunData, run: str
    ) -> tuple[dict[str, Any], RecoveryRunSummary]:
        """The run's per-image records and its summary."""
        batch = data.attacks[run].batch
        maps = {
            m: data.maps[MapRequest(m, "adversarial", run)][batch.success]
            for m in self.config.methods
        }
        reference = self.config.reference_method
        result = summarize_recovery(
            self._run_curves(data, run),
            batch.successful(),
            maps,
            self.config.fractions,
            reference=reference if reference in maps else next(iter(maps)),
            seed=self.config.seed,
            n_resamples=self.config.n_resamples,
        )
        if self.config.fill == "mean":
            result["protocol"]["mean_measured"] = data.selection.mean_colour_record()
        records = result.pop("records")
        return records, from_json(RecoveryRunSummary, json_ready(result), run)

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        section = ReportSection()
        runs: RecoverySummary = result.summary or {}
        for run, summary in runs.items():
            section.rows += _rows(run, summary)
        section.verdicts.append(self._verdict(runs))
        parts = [self._run_section(run, summary) for run, summary in runs.items()]
        parts.append(self._sweep_section(runs))
        section.markdown = "\n".join(p for p in parts if p)
        section.figures = self.figures(result, out)
        section.caveats += self._caveats(runs)
        return section

    def figures(self, result: StudyResult, out: Path) -> dict[str, list[Path]]:
        """Per attack run, the recovery curves with bands and the AUC forest
        plot; the recovery AUC against the C&W confidence κ when the run has
        two κ or more. The plots read ``results.json``'s values
        (:func:`~captum_contrastive.typed_json.to_json` of the summary)."""
        from captum_contrastive import plots  # matplotlib, only when drawing

        runs: RecoverySummary = result.summary or {}
        found = {}
        for run, summary in runs.items():
            values = to_json(summary)
            curves = plots.plot_recovery_curves(
                values, out / f"recovery_{run}", title=f"perturbation recovery, {run}"
            )
            forest = plots.plot_recovery_forest(
                values,
                out / f"recovery_forest_{run}",
                title=run,
                reference=self.config.reference_method,
            )
            found[f"recovery {run}"] = curves.paths + forest.paths
        sweep = self._sweep(runs)
        if len(sweep) > 1:
            kappa = plots.plot_kappa_sweep(to_json(runs), sweep, out / "kappa_sweep")
            found["kappa sweep"] = kappa.paths
        return found

    def terminal_columns(self, result: StudyResult) -> dict[str, dict[str, str]]:
        """``AUC <run>`` of each main run: each method's recovery AUC and the
        random ranking's."""
        runs: RecoverySummary = result.summary or {}
        shown = [*self.config.methods, RANDOM]
        return {
            f"AUC {run}": {
                method: format_ci(runs[run].auc(method))
                for method in shown
                if method in runs[run].methods
            }
            for run in self.config.main_runs()
            if run in runs
        }

    def protocol(self, result: StudyResult) -> dict[str, dict[str, Any]]:
        """Each attack run's recovery protocol."""
        return {
            run: summary.protocol for run, summary in (result.summary or {}).items()
        }

    def _caveats(self, runs: RecoverySummary) -> list[str]:
        caveats = self._fill_caveat(runs)
        caveats.append(
            "At C&W κ=0 the adversarial image sits on the decision boundary, so "
            "replacing a few random pixels already restores many labels: the random "
            "ranking is a strong baseline and is shown beside every method. The κ "
            "sweep shows how that changes with a stronger attack."
        )
        caveats.append(
            f"The {ORACLE!r} ranking replaces the most perturbed pixels first. It "
            "knows where the attack acted, but it is no upper bound on recovery: "
            f"with the {self.config.fill!r} fill, replacing those pixels also "
            "removes the object's own evidence. It is drawn for reference and "
            "never compared with the reference method."
        )
        return caveats

    def _fill_caveat(self, runs: RecoverySummary) -> list[str]:
        """What the mean fill is, as measured (the same record in every run's
        protocol)."""
        measured = next((s.protocol.get("mean_measured") for s in runs.values()), None)
        if self.config.fill != "mean" or not measured:
            return []
        colour = ", ".join(f"{v:.3f}" for v in measured["value"])
        return [
            f"The recovery fill is the data's mean colour ({colour}) in pixel "
            f"space, measured on {measured['images']} images of the sample order "
            "(results.json run.mean_colour), not the normalization mean."
        ]

    def _verdict(self, runs: RecoverySummary) -> Verdict:
        reference = self.config.reference_method
        main_cw = [r for r in self.config.main_runs() if r.startswith("cw")]
        if not runs or not any(r in runs for r in main_cw):
            return Verdict.not_evaluated(
                2,
                CLAIM_KEY,
                CLAIM,
                "no C&W main run with at least 2 successful attacks",
            )
        if not all(reference in r.methods for r in runs.values()):
            return Verdict.not_evaluated(
                2,
                CLAIM_KEY,
                CLAIM,
                f"the reference method {reference!r} is not in `methods`",
            )
        found = claim_recovery(runs, main_cw, reference)
        rows = [
            [
                name,
                r.verdict,
                r.n,
                r.reference_auc,
                r.random_auc,
                r.best,
                ", ".join(r.loses_to) or "-",
                ", ".join(r.ties_with) or "-",
            ]
            for name, r in found.per_run.items()
        ]
        header = ["run", "verdict", "n", f"{reference} AUC", "random AUC", "best"]
        text = f"Rule: {found.rule}.\n\n" + table(
            header + ["loses to", "ties with"], rows
        )
        details = to_json(found)
        return Verdict(2, CLAIM_KEY, found.claim, found.verdict, details, text)

    def _run_section(self, run: str, summary: RecoveryRunSummary) -> str:
        reference = self.config.reference_method
        comparisons = {row.method: row for row in summary.comparisons}
        outcomes = reference_outcomes(summary.comparisons)
        rows = []
        for method, values in summary.methods.items():
            c = comparisons.get(method)
            rows.append(
                [
                    method,
                    format_ci(values.auc),
                    " ".join(f"{a.mean:.2f}" for a in values.accuracy),
                    "reference" if c is None else _difference(c),
                    "" if c is None else f"{c.p_holm:.3g}",
                    "" if c is None else outcomes[method],
                ]
            )
        fractions = ", ".join(f"{f:.1%}" for f in summary.fractions)
        header = ["ranking", "AUC [95% CI]", f"accuracy at {fractions}"]
        header += [f"this − {reference}", "p (Holm)", reference]
        return (
            f"## Perturbation recovery: {run} (n={summary.n})\n\n"
            + table(header, rows)
            + "\n\nPerturbation-energy share in each map's top-q pixels:\n\n"
            + _energy_table(summary.energy_share)
            + "\n"
        )

    def _sweep(self, runs: RecoverySummary) -> dict[float, str]:
        names = {
            k: cw_name(k) for k in (*self.config.kappas, *self.config.sweep_kappas)
        }
        return {k: v for k, v in sorted(names.items()) if v in runs}

    def _sweep_section(self, runs: RecoverySummary) -> str:
        sweep = self._sweep(runs)
        if len(sweep) < 2:
            return ""
        methods = runs[next(iter(sweep.values()))].methods
        rows = [
            [m] + [format_ci(runs[run].auc(m)) for run in sweep.values()]
            for m in methods
        ]
        header = ["ranking"] + [f"κ={k:g}" for k in sweep]
        return (
            "## C&W κ sweep: recovery AUC [95% CI] per ranking\n\n"
            + table(header, rows)
            + "\n"
        )


def _energy_table(shares: dict[str, dict[str, Interval]]) -> str:
    qs = list(next(iter(shares.values())))
    return table(
        ["map"] + [f"q={q}" for q in qs],
        [[m] + [format_ci(v[q]) for q in qs] for m, v in shares.items()],
    )


def _difference(row: ReferenceComparison) -> str:
    return f"{row.mean_diff:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}]"


def _rows(run: str, summary: RecoveryRunSummary) -> list[SummaryRow]:
    rows = []
    for method, values in summary.methods.items():
        rows.append(SummaryRow("recovery", run, method, "auc", values.auc))
        for fraction, accuracy in zip(summary.fractions, values.accuracy, strict=True):
            rows.append(
                SummaryRow("recovery", run, method, f"accuracy@{fraction:g}", accuracy)
            )
    for method, shares in summary.energy_share.items():
        for q, ci in shares.items():
            rows.append(SummaryRow("energy_share", run, method, f"share@{q}", ci))
    return rows
