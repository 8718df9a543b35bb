"""Write a run out: JSON, CSV, figures, ``report.md`` and a terminal summary.

Every number in the report is read from the run's results; nothing is typed in.
Each study unit renders its own section; this module only assembles them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from captum_contrastive.atomic_files import atomic_write_json, atomic_write_text
from captum_contrastive.environment import library_versions
from captum_contrastive.pipeline.bim_calibration import CalibratedRadius
from captum_contrastive.pipeline.cache import file_lock
from captum_contrastive.pipeline.memory_plan import peak_memory
from captum_contrastive.pipeline.runner import BASELINE_CHECK_IMAGES, BenchmarkRun
from captum_contrastive.pipeline.study_registry import registered_units
from captum_contrastive.pipeline.units import ReportSection, Verdict
from captum_contrastive.pipeline.units.base import table
from captum_contrastive.plots import plot_maps_grid
from captum_contrastive.row_chunks import loaded
from captum_contrastive.typed_json import from_json, to_json

__all__ = [
    "SCHEMA_VERSION",
    "SUMMARY_COLUMNS",
    "read_summaries",
    "results_json",
    "study_columns",
    "study_protocols",
    "terminal_summary",
    "write_outputs",
]

#: The verdicts' paragraph when none of the chosen studies evaluates a claim.
NO_CLAIM = "None of the chosen studies evaluates a claim of the paper.\n"
#: Version of the ``results.json`` layout; raised when a key changes meaning.
SCHEMA_VERSION = 3
#: The columns of ``summary.csv``, a public format.
SUMMARY_COLUMNS = [
    "study",
    "attack",
    "method",
    "measure",
    "mean",
    "ci_low",
    "ci_high",
    "n",
]


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _attack_summary(run: BenchmarkRun) -> dict[str, Any]:
    summary = {}
    for name, attacked in run.data.attacks.items():
        batch = attacked.batch
        success = batch.success
        summary[name] = {
            "params": batch.params,
            "n": len(batch),
            "success_rate": batch.success_rate,
            "median_l2_success": float(batch.l2[success].median())
            if success.any()
            else None,
            "median_linf_success": float(batch.linf[success].median())
            if success.any()
            else None,
        }
    return summary


def _run_info(run: BenchmarkRun) -> dict[str, Any]:
    config, data = run.config, run.data
    return {
        "config": config.to_dict(),
        "versions": library_versions(),
        "preset": run.preset,
        "model": data.context.model_key,
        "data": data.context.data_key,
        "indices": data.selection.indices,
        "unreadable": {str(k): v for k, v in data.selection.unreadable.items()},
        "sample_order": data.selection.order,
        "scanned": data.selection.scanned,
        "mean_colour": data.selection.mean_colour_record(),
        "memory": _memory(run),
        "applicability": [asdict(a) for a in run.applicability],
        "methods": {
            name: {
                "label": s.label,
                "implementation": s.implementation,
                "signed": s.signed,
                **s.settings,
            }
            for name, s in data.specs.items()
            if name in config.methods
        },
        "main_runs": [r for r in config.main_runs() if r in data.attacks],
        "recovery_runs": config.recovery_runs(),
        "cw_runs": {str(k): f"cw-k{k:g}" for k in config.sweep_kappas},
        **(
            {"bim_calibration": data.bim_calibration.to_json()}
            if data.bim_calibration
            else {}
        ),
    }


def _memory(run: BenchmarkRun) -> dict[str, Any]:
    """The budget, how the passes were split, and the peaks reached."""
    found = peak_memory(run.config.device)
    if run.memory is not None:
        found.update(run.memory.to_json())
    if run.held_bytes is not None:
        images = max(len(run.data.selection.indices), 1)
        found["held_data_gib"] = run.held_bytes / 2**30
        found["held_per_image_mib"] = run.held_bytes / images / 2**20
    if run.held_images_bound is not None:
        found["held_images_bound_gib"] = run.held_images_bound / 2**30
    found["rows_per_pass_used"] = next(
        (
            s.settings["rows_per_pass"]
            for s in run.data.specs.values()
            if "rows_per_pass" in s.settings
        ),
        None,
    )
    return found


def _memory_line(memory: dict[str, Any]) -> str:
    cuda = memory.get("cuda_peak_gib")
    rows = memory.get("rows_per_pass_used")
    split = (
        "no pass had to be split"
        if rows is None
        else f"passes split to at most {rows} image rows"
    )
    return (
        f"Peak memory: {memory['peak_rss_gib']:.2f} GiB resident"
        + ("" if cuda is None else f", {cuda:.2f} GiB CUDA")
        + f" (budget `max_memory` = {memory.get('max_memory_gib', 0):g} GiB; "
        + f"{split})."
        + _held_sentence(memory)
        + "\n"
    )


def _held_sentence(memory: dict[str, Any]) -> str:
    held = memory.get("held_data_gib")
    if held is None:
        return ""
    bound = memory.get("held_images_bound_gib")
    images = "" if bound is None else f", and at most {bound * 1024:.0f} MiB of images"
    return (
        f" The run held {held * 2**20:,.0f} KiB of labels, predictions and attack "
        f"outcomes ({memory['held_per_image_mib'] * 2**20:.0f} bytes per image)"
        f"{images}: "
        "the images and maps stay in the cache and are read a shard at a time."
    )


def results_json(run: BenchmarkRun, verdicts: list[Verdict]) -> dict[str, Any]:
    """The content of ``results.json``: each study's summary under its key."""
    results: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    results["attacks"] = _attack_summary(run)
    skipped: dict[str, str] = {}
    for unit in run.units:
        result = run.results[unit.name]
        if result.summary:
            results[unit.name] = to_json(result.summary)
        skipped.update(result.skipped)
    if skipped:
        results["skipped"] = skipped
    results["run"] = _run_info(run)
    results["verdicts"] = {v.key: v.to_json() for v in verdicts}
    results["baseline_checks"] = [check.to_json() for check in run.baseline_checks]
    results["stage_keys"] = run.keys
    results["timings"] = dict(run.timings)
    if run.rank_accounts:
        results["rank_timings"] = run.rank_accounts
    return results


#: The entries of ``results.json`` that are not a study's summary.
RUN_ENTRIES = (
    "schema_version",
    "attacks",
    "skipped",
    "run",
    "verdicts",
    "baseline_checks",
    "stage_keys",
    "timings",
    "rank_timings",
)


def read_summaries(results: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Each study's summary in ``results.json``, read back into its unit's
    :attr:`~captum_contrastive.pipeline.units.StudyUnit.summary_type` (typed
    dataclasses with :class:`~captum_contrastive.metrics.intervals.Interval`
    leaves), by study name.

    A study of your own is read when the module that registers it has been
    imported (:func:`captum_contrastive.plugins.load_plugins` imports those of
    ``$CAPTUM_CONTRASTIVE_PLUGINS``).

    Args:
        results: ``results.json``'s path, or its content.

    Returns:
        dict: study name -> summary, in the file's order.

    Raises:
        ValueError: an entry is a study that no registered unit reads.
        captum_contrastive.typed_json.JsonSchemaError: a summary does not
            match its type.
    """
    if not isinstance(results, Mapping):
        results = json.loads(Path(results).read_text())
    units = registered_units()
    summaries = {}
    for name, value in results.items():
        if name in RUN_ENTRIES:
            continue
        if name not in units:
            raise ValueError(
                f"results.json has the study {name!r}, which no registered study "
                "unit reads: import the module that registers it first (for "
                "plug-ins, captum_contrastive.plugins.load_plugins())"
            )
        summaries[name] = from_json(units[name].summary_type, value, name)
    return summaries


def _grid(run: BenchmarkRun) -> dict[str, Any]:
    data = run.data
    rows = list(range(min(run.config.grid_images, len(data.selection.indices))))
    clean = {
        r.method: loaded(m[rows])
        for r, m in data.maps.items()
        if r.condition == "clean"
    }
    attacks = {}
    for name in run.config.main_runs():
        maps = {
            r.method: loaded(m[rows])
            for r, m in data.maps.items()
            if r.condition == "adversarial" and r.run == name
        }
        if name not in data.attacks or not maps:
            continue
        batch = data.attacks[name].batch
        attacks[name] = {
            "images": batch.adversarial[rows],
            "predictions": batch.adversarial_predictions[rows],
            "success": batch.success[rows],
            "maps": maps,
        }
    return {
        "images": data.images[rows],
        "labels": data.labels[rows],
        "clean_maps": clean,
        "attacks": attacks,
    }


def _caveats(run: BenchmarkRun, sections: list[ReportSection]) -> list[str]:
    caveats = [c.message() for c in run.baseline_checks if c.degenerate]
    unreadable = run.data.selection.unreadable
    if unreadable:
        first = "; ".join(list(unreadable.values())[:3])
        caveats.append(
            f"{len(unreadable)} image(s) of the scanned data could not be read and "
            f"were skipped (listed in results.json run.unreadable): {first}"
        )
    caveats += _applicability_caveats(run)
    caveats += _unused_attack_caveats(run)
    caveats += _selection_caveats(run)
    caveats += _calibration_caveats(run.data.bim_calibration)
    caveats += [c for section in sections for c in section.caveats]
    if run.preset.get("name") == "shapes":
        caveats.append(
            "The shapes preset is a synthetic 32×32 world with a small VGG-style "
            "model; results on ImageNet models may differ."
        )
    else:
        caveats.append(
            f"Model and data: {run.preset['name']} ({run.preset['description']})."
        )
    return caveats


def _unused_attack_caveats(run: BenchmarkRun) -> list[str]:
    """A line for the ``--attack`` runs that no chosen study needs, and that
    were therefore not run (rather than dropped without a word)."""
    needed = {r for unit in run.units for r in unit.runs_needed()}
    unused = [r for r in run.config.extra_attack_runs() if r not in needed]
    if not unused:
        return []
    return [
        f"The --attack run(s) {', '.join(unused)} were not run: no study of "
        "--studies uses them (the docs' benchmark page says which runs each "
        "study attacks; perturbation recovery needs the run's name in "
        "--recovery-attacks too)."
    ]


def _applicability_caveats(run: BenchmarkRun) -> list[str]:
    """Methods dropped because they cannot run, and methods that run but compute
    another method on this model (probed on one image before the run)."""
    caveats = []
    flagged = {check.method for check in run.baseline_checks if check.degenerate}
    for found in run.applicability:
        if found.method in flagged:
            continue  # the baseline check's caveat already says it
        if found.status == "fails":
            caveats.append(
                f"{found.method} was left out: it cannot run on this model "
                f"({found.reason})."
            )
        elif found.status == "degenerate":
            caveats.append(
                f"{found.method} is degenerate on this model: {found.reason}."
            )
    return caveats


def _selection_caveats(run: BenchmarkRun) -> list[str]:
    """How the images were sampled."""
    selection = run.data.selection
    caveats = [
        f"Images: the first {len(selection.indices)} correctly classified of "
        f"{selection.scanned} scanned, in the order {selection.order} "
        "(results.json run.indices lists them in that order)."
    ]
    if run.config.sample_order == "index":
        caveats.append(
            "Images are taken in dataset index order (`sample_order` = 'index'); on "
            "a dataset sorted by class they may come from few classes."
        )
    return caveats


def _calibration_caveats(calibrated: CalibratedRadius | None) -> list[str]:
    if calibrated is None:
        return []
    found = calibrated.calibration
    caveats = [
        f"BIM's radius was calibrated on the first {found.n_images} evaluated "
        "images, so the whole run's BIM failure share (Attacks table) can differ "
        "from the calibration share."
    ]
    if not found.reached:
        low, high = found.settings["low"], found.settings["high"]
        bound = "lower" if found.status == "low_bound" else "upper"
        caveats.append(
            f"The BIM target failure share {found.target_failure:.0%} was out "
            f"of reach between the radii {low:.4g} and {high:.4g}: BIM used the "
            f"{bound} bound, where {found.failure_share:.0%} of the calibration "
            "attacks failed."
        )
    if not found.monotone:
        caveats.append(
            "On the calibration subset the BIM failure share did not fall steadily "
            "with the radius; the chosen radius is the evaluated one closest to the "
            "target."
        )
    return caveats


def _calibration_section(calibrated: CalibratedRadius | None) -> list[str]:
    """How BIM's radius was chosen, when it was calibrated."""
    if calibrated is None:
        return []
    found = calibrated.calibration
    failed = round(found.failure_share * found.n_images)
    rows = [
        [
            f"{step.epsilon:.5f}",
            f"{step.epsilon * 255:.2f}",
            f"{step.failed}/{step.n}",
            f"{step.failure_share:.0%}",
        ]
        for step in sorted(found.trace, key=lambda step: step.epsilon)
    ]
    return [
        "### BIM radius calibration\n",
        f"BIM's radius was calibrated so that {found.target_failure:.0%} of its "
        f"attacks fail: ε = {found.epsilon:.5f} ({found.epsilon * 255:.2f}/255), "
        f"at which {failed}/{found.n_images} ({found.failure_share:.0%}) of "
        f"the calibration images' attacks failed (status {found.status}). The "
        "fixed `bim_epsilon` of the config is not used in this run.\n",
        table(["ε", "ε·255", "failed", "failure share"], rows),
        "",
    ]


def _baseline_section(run: BenchmarkRun) -> list[str]:
    if not run.baseline_checks:
        return []
    rows = [
        [
            c.method,
            c.twin,
            f"{c.max_abs_difference:.2e}",
            f"{c.max_abs_value:.2e}",
            "DEGENERATE" if c.degenerate else "ok",
        ]
        for c in run.baseline_checks
    ]
    header = ["baseline", "degenerate twin", "max |diff|", "max |twin|", "check"]
    return [
        "## Baseline checks\n",
        "Each Captum baseline that can silently turn into another method is "
        "compared with that method on the first "
        f"{min(BASELINE_CHECK_IMAGES, len(run.data.selection.indices))} images:\n",
        table(header, rows),
        "",
    ]


def _attacks_table(results: dict[str, Any]) -> str:
    def norm(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    rows = [
        [
            name,
            a["n"],
            f"{a['success_rate']:.2f}",
            norm(a["median_l2_success"]),
            norm(a["median_linf_success"]),
            ", ".join(
                f"{k}={v}"
                for k, v in a["params"].items()
                if k not in ("bounds", "foolbox_version")
            ),
        ]
        for name, a in results["attacks"].items()
    ]
    header = ["run", "n", "success rate", "median L2 (success)"]
    return table(header + ["median L∞ (success)", "parameters"], rows)


def _markdown(
    run: BenchmarkRun,
    results: dict[str, Any],
    sections: list[ReportSection],
    verdicts: list[Verdict],
    figures: dict[str, list[Path]],
) -> str:
    lines = [
        f"# captum-contrastive benchmark: {run.preset['name']}\n",
        "Generated by `run_benchmark`; every number below was computed by this run.\n",
        "## Verdicts on the paper's claims\n",
        *(
            [v.markdown() for v in sorted(verdicts, key=lambda v: v.number)]
            or [NO_CLAIM]
        ),
        "## Caveats\n",
        *[f"- {c}" for c in _caveats(run, sections)],
        "",
    ]
    if results.get("skipped"):
        lines += [
            "## Skipped\n",
            *[f"- {k}: {v}" for k, v in results["skipped"].items()],
            "",
        ]
    lines += ["## Attacks\n", _attacks_table(results), ""]
    lines += _calibration_section(run.data.bim_calibration)
    lines += _baseline_section(run)
    lines += [section.markdown for section in sections if section.markdown]
    lines.append("## Figures\n")
    lines += [
        f"![{name}]({path.name})"
        for name, paths in figures.items()
        for path in paths
        if path.suffix == ".png"
    ]
    lines += ["\n## Protocol\n", _protocol(run, results), "## Versions and timings\n"]
    info = results["run"]
    lines.append(
        table(["library", "version"], [[k, v] for k, v in info["versions"].items()])
    )
    lines.append("")
    timings = [[k, f"{v:.1f}"] for k, v in results["timings"].items()]
    lines.append(table(["stage", "seconds"], timings))
    lines += _rank_lines(results.get("rank_timings"))
    lines += ["", _memory_line(info["memory"])]
    return "\n".join(lines) + "\n"


def _rank_lines(accounts: list[dict[str, Any]] | None) -> list[str]:
    """Each rank's share of a torchrun run and its busy seconds."""
    if not accounts:
        return []
    rows = [
        [
            a["rank"],
            a["work_items"],
            f"{a['estimated_cost']:.0f}",
            *(f"{a['busy_seconds'].get(k, 0.0):.1f}" for k in RANK_PHASES),
            ", ".join(a.get("studies", [])) or "-",
        ]
        for a in accounts
    ]
    header = ["rank", "work items", "estimated cost"]
    header += [f"{phase} s" for phase in RANK_PHASES] + ["studies"]
    return [
        "",
        f"The work was split over {len(accounts)} torchrun ranks; each rank's "
        "share and busy seconds:",
        "",
        table(header, rows),
    ]


def _protocol(run: BenchmarkRun, results: dict[str, Any]) -> str:
    """The report's protocol block: the run's config, methods, model and data,
    then each chosen study's :meth:`~StudyUnit.protocol` under its name, in
    the units' order (:func:`study_protocols`)."""
    info = results["run"]
    protocol = {key: info[key] for key in ("config", "methods", "model", "data")}
    protocol.update(study_protocols(run))
    return (
        "```json\n" + json.dumps(protocol, indent=1, default=_json_default) + "\n```\n"
    )


def study_protocols(run: BenchmarkRun) -> dict[str, Any]:
    """Each of the run's units' protocol under its name, in the units' order
    (``None``, shown as ``null``, for a study that declares none or evaluated
    nothing: the block lists every study the run chose)."""
    return {unit.name: unit.protocol(run.results[unit.name]) for unit in run.units}


def study_columns(run: BenchmarkRun) -> dict[str, dict[str, str]]:
    """Every unit's :meth:`~StudyUnit.terminal_columns`, in the units' order."""
    columns: dict[str, dict[str, str]] = {}
    for unit in run.units:
        columns.update(unit.terminal_columns(run.results[unit.name]))
    return columns


def terminal_summary(
    methods: Sequence[str],
    columns: Mapping[str, Mapping[str, str]],
    verdicts: Sequence[Verdict],
) -> str:
    """A compact table for the terminal, one row per method and one column per
    study measure (e.g. recovery AUC, Adv_s rho, the sanity verdict, the ROAD
    gap), then each claim's verdict.

    Args:
        methods (sequence of str): the run's methods, the first rows; a method
            that only a column names (the recovery study's ``"random"``
            ranking) is added after them.
        columns (Mapping): header -> method -> cell (:func:`study_columns`);
            a method a column lacks reads ``n/a``.
        verdicts (sequence of Verdict): the claims' verdicts.

    Returns:
        The table and the verdict lines, as text.
    """
    rows = list(dict.fromkeys([*methods, *(m for c in columns.values() for m in c)]))
    header = ["method", *columns]
    table_rows = [
        [method, *(cells.get(method, "n/a") for cells in columns.values())]
        for method in rows
    ]
    widths = [
        max(len(str(x)) for x in column)
        for column in zip(header, *table_rows, strict=True)
    ]
    text = io.StringIO()
    for row in [header, *table_rows]:
        text.write(
            "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + "\n"
        )
    for v in sorted(verdicts, key=lambda v: v.number):
        text.write(f"claim {v.number} ({v.key}): {v.verdict}\n")
    return text.getvalue()


def _summary_csv(sections: list[ReportSection]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS)
    writer.writeheader()
    writer.writerows(row.to_csv() for section in sections for row in section.rows)
    return buffer.getvalue()


def _records(run: BenchmarkRun) -> dict[str, Any]:
    return {
        unit.name: run.results[unit.name].records
        for unit in run.units
        if run.results[unit.name].records is not None
    }


#: The phases of a rank's busy seconds, in report order.
RANK_PHASES = ("attacks", "maps", "studies")


def write_outputs(run: BenchmarkRun, out: Path | None = None) -> dict[str, Path]:
    """Write results.json, records.json, summary.csv, the figures, report.md
    and report.html into ``out`` (default ``run.config.out``, the folder of the
    run's cache); print the terminal summary. Returns the paths.

    The outputs are written under an exclusive lock on the folder, each file
    atomically, so two runs finishing at once leave one run's complete set.
    ``outputs.json`` lists the files; those an earlier run wrote and this one did
    not (its figures of runs no longer configured) are removed.
    """
    from captum_contrastive.report_html import write_report_html

    out = run.config.out if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with file_lock(out / ".outputs.lock"):
        sections = [
            run.sections.get(unit.name) or unit.render(run.results[unit.name], out)
            for unit in run.units
        ]
        verdicts = [v for section in sections for v in section.verdicts]
        figures = {name: paths for s in sections for name, paths in s.figures.items()}
        clean = any(r.condition == "clean" for r in run.data.maps)
        if clean and run.config.grid_images:
            grid = plot_maps_grid(_grid(run), run.class_names, out / "maps_grid")
            figures["maps grid"] = grid.paths
        results = results_json(run, verdicts)
        paths: dict[str, Path] = {name: p[0] for name, p in figures.items()}
        paths["results"] = atomic_write_json(
            out / "results.json", results, default=_json_default
        )
        paths["records"] = atomic_write_json(
            out / "records.json", _records(run), indent=None, default=_json_default
        )
        paths["csv"] = atomic_write_text(out / "summary.csv", _summary_csv(sections))
        paths["config"] = atomic_write_json(
            out / "config.json", run.config.to_dict(), default=_json_default
        )
        paths["report"] = atomic_write_text(
            out / "report.md", _markdown(run, results, sections, verdicts, figures)
        )
        paths["html"] = write_report_html(
            run, out, sections, verdicts, figures, _caveats(run, sections), results
        )
        written = [*paths.values(), *(p for ps in figures.values() for p in ps)]
        _replace_manifest(out, written)
    print(terminal_summary(results["run"]["methods"], study_columns(run), verdicts))
    return paths


MANIFEST = "outputs.json"


def _replace_manifest(out: Path, written: list[Path]) -> None:
    """Record this run's output files; delete an earlier run's that it did not
    write (a figure of an attack run no longer configured), so the folder never
    mixes two runs' outputs."""
    manifest = out / MANIFEST
    names = sorted({path.name for path in written})
    if manifest.exists():
        try:
            earlier = json.loads(manifest.read_text())["files"]
        except (ValueError, KeyError, TypeError):
            earlier = []
        for name in set(earlier) - set(names):
            (out / Path(name).name).unlink(missing_ok=True)
    atomic_write_json(manifest, {"files": names})
