"""Write a run out: JSON, CSV, PNG figures, ``report.md`` and a terminal summary.

Every number in the report is read from the run's results; nothing is typed in.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from captum_contrastive.pipeline.cache import atomic_write_text
from captum_contrastive.pipeline.figures import (
    plot_class_discriminativity,
    plot_decomposition,
    plot_kappa_sweep,
    plot_maps_grid,
    plot_recovery,
)
from captum_contrastive.pipeline.runner import BenchmarkRun
from captum_contrastive.studies.verdicts import (
    claim_adversarial_change,
    claim_filtering_effect,
    claim_recovery,
    format_ci,
    reference_outcomes,
)

__all__ = ["summary_rows", "verdicts", "write_outputs"]

REFERENCE = "enhanced_gbp"


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def verdicts(run: BenchmarkRun) -> dict[str, Any]:
    """The three claims' verdicts from ``run.results`` (see ``verdicts.py``)."""
    results = run.results
    out: dict[str, Any] = {}
    if "class_discriminativity" in results:
        out["filtering_effect"] = claim_filtering_effect(
            results["class_discriminativity"]
        )
    main_cw = [r for r in results["run"]["main_runs"] if r.startswith("cw")]
    if "recovery" in results and main_cw:
        out["recovery"] = claim_recovery(results["recovery"], main_cw, REFERENCE)
    adversarial = results.get("adversarial", {})
    if adversarial:
        success_run = main_cw[0] if main_cw else next(iter(adversarial))
        failure_run = "bim" if "bim" in adversarial else None
        out["adversarial_change"] = claim_adversarial_change(
            adversarial, success_run, failure_run, REFERENCE
        )
    return out


def summary_rows(run: BenchmarkRun) -> list[dict[str, Any]]:
    """One row per (study, run, method, measure) with mean, CI and n."""
    rows = []

    def add(study: str, attack: str, method: str, measure: str, ci: dict) -> None:
        rows.append(
            {
                "study": study,
                "attack": attack,
                "method": method,
                "measure": measure,
                "mean": ci.get("mean"),
                "ci_low": ci.get("ci_low"),
                "ci_high": ci.get("ci_high"),
                "n": ci.get("n"),
            }
        )

    for attack, result in run.results.get("recovery", {}).items():
        for method, values in result["methods"].items():
            add("recovery", attack, method, "auc", values["auc"])
            for fraction, accuracy in zip(
                result["fractions"], values["accuracy"], strict=True
            ):
                add("recovery", attack, method, f"accuracy@{fraction:g}", accuracy)
        for method, shares in result["energy_share"].items():
            for q, ci in shares.items():
                add("energy_share", attack, method, f"share@{q}", ci)
    for attack, result in run.results.get("adversarial", {}).items():
        for method, comparisons in result["methods"].items():
            for comparison, groups in comparisons.items():
                for group, measures in groups.items():
                    for measure in ("spearman", "iou"):
                        add(
                            "adversarial",
                            attack,
                            method,
                            f"{comparison}/{group}/{measure}",
                            measures[measure],
                        )
        for measure, ci in result["random_maps"].items():
            add("adversarial", attack, "random maps", measure, ci)
    class_result = run.results.get("class_discriminativity")
    if class_result:
        for method, measures in class_result["methods"].items():
            for measure, ci in measures.items():
                add("class_discriminativity", "", method, measure, ci)
    local = run.results.get("localization")
    if local:
        add("localization", "", "uniform map", "mask_area", local["mask_area"])
        for method, conditions in local["methods"].items():
            for condition, ci in conditions.items():
                add("localization", "", method, condition, ci)
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict_section(found: dict[str, Any]) -> str:
    parts = ["## Verdicts on the paper's claims\n"]
    if "filtering_effect" in found:
        v = found["filtering_effect"]
        parts.append(
            f"**1. {v['claim']}: {v['verdict']}.** {v['evidence']}. "
            f"Rule: {v['rule']}.\n"
        )
    if "recovery" in found:
        v = found["recovery"]
        parts.append(f"**2. {v['claim']}: {v['verdict']}.** Rule: {v['rule']}.\n")
        rows = [
            [
                name,
                r["verdict"],
                r["n"],
                r["reference_auc"],
                r["random_auc"],
                r["best"],
                ", ".join(r["loses_to"]) or "-",
                ", ".join(r["ties_with"]) or "-",
            ]
            for name, r in v["per_run"].items()
        ]
        parts.append(
            _table(
                [
                    "run",
                    "verdict",
                    "n",
                    "Enhanced GBP AUC",
                    "random AUC",
                    "best",
                    "loses to",
                    "ties with",
                ],
                rows,
            )
            + "\n"
        )
    if "adversarial_change" in found:
        v = found["adversarial_change"]
        split = v["adv_s_vs_adv_f"]
        split_text = (
            f"On {v['failure_run']}, Enhanced GBP's rho is {split['adv_s']} on Adv_s "
            f"(n={split['n_s']}) vs {split['adv_f']} on Adv_f (n={split['n_f']})."
            if split
            else "No Adv_f group with n >= 2 was available."
        )
        parts.append(
            f"**3. {v['claim']}: {v['verdict']}.** Rule: {v['rule']}. {split_text} "
            f"Methods that change significantly more than Enhanced GBP on "
            f"{v['success_run']} Adv_s: {', '.join(v['changes_less_than']) or 'none'}; "
            f"not significantly different: {', '.join(v['ties_with']) or 'none'}.\n"
        )
        share = v.get("runner_up_is_adversarial_class")
        if share:
            parts.append(
                "The clean runner-up is the adversarial class for "
                f"{share['share']:.0%} of {share['n']} successful "
                f"{v['success_run']} images: there, Enhanced GBP's contrast swaps "
                "the two classes it explains.\n"
            )
        rows = []
        for method, d in v["decomposition"].items():

            def pct(key: str, d: dict = d) -> str:
                value = d.get(key)
                return "n/a" if value is None or math.isnan(value) else f"{value:.0%}"

            rows.append(
                [
                    method,
                    f"{d['main_change']:.3f}",
                    f"{d.get('class_only_change', float('nan')):.3f}",
                    pct("class_only_share"),
                    f"{d.get('input_only_change', float('nan')):.3f}",
                    pct("input_only_share"),
                    f"{d.get('noise_change', float('nan')):.3f}",
                ]
            )
        parts.append(
            f"How much of each map's change (1 - rho, {v['success_run']}, Adv_s) the "
            "class swap alone and the input change alone reproduce:\n\n"
            + _table(
                [
                    "method",
                    "main",
                    "class only",
                    "share",
                    "input only",
                    "share",
                    "equal-norm noise",
                ],
                rows,
            )
            + "\n"
        )
    return "\n".join(parts)


def _markdown(
    run: BenchmarkRun, found: dict[str, Any], figures: dict[str, Path]
) -> str:
    results, info = run.results, run.results["run"]
    lines = [
        f"# captum-contrastive benchmark: {info['preset']['name']}\n",
        "Generated by `run_benchmark`; every number below was computed by this run.\n",
        _verdict_section(found),
        "## Caveats\n",
        "- At C&W κ=0 the adversarial image sits on the decision boundary, so "
        "replacing a few random pixels already restores many labels: the random "
        "ranking is a strong baseline and is shown beside every method. The κ sweep "
        "shows how that changes with a stronger attack.",
        "- Enhanced GuidedBP contrasts with the runner-up class, which on a C&W "
        "image is usually the true class; its map change under attack can therefore "
        "come from swapping the explained classes rather than from the perturbed "
        "pixels. The class-only / input-only controls separate the two.",
        "- The shapes preset is a synthetic 32×32 world with a small VGG-style model; "
        "results on ImageNet/VGG16 may differ (`--preset imagenet-vgg16`).",
        "",
        *(
            ["## Skipped\n"]
            + [f"- {k}: {v}" for k, v in results.get("skipped", {}).items()]
            + [""]
            if results.get("skipped")
            else []
        ),
        "## Attacks\n",
        _table(
            [
                "run",
                "n",
                "success rate",
                "median L2 (success)",
                "median L∞ (success)",
                "parameters",
            ],
            [
                [
                    name,
                    a["n"],
                    f"{a['success_rate']:.2f}",
                    "n/a"
                    if a["median_l2_success"] is None
                    else f"{a['median_l2_success']:.3f}",
                    "n/a"
                    if a["median_linf_success"] is None
                    else f"{a['median_linf_success']:.3f}",
                    ", ".join(
                        f"{k}={v}"
                        for k, v in a["params"].items()
                        if k not in ("bounds", "foolbox_version")
                    ),
                ]
                for name, a in results.get("attacks", {}).items()
            ],
        ),
        "",
    ]
    for name, result in results.get("recovery", {}).items():
        lines.append(f"## Perturbation recovery: {name} (n={result['n']})\n")
        rows = []
        comparisons = {row["method"]: row for row in result["comparisons"]}
        outcomes = reference_outcomes(result["comparisons"])
        for method, values in result["methods"].items():
            c = comparisons.get(method)
            rows.append(
                [
                    method,
                    format_ci(values["auc"]),
                    " ".join(f"{a['mean']:.2f}" for a in values["accuracy"]),
                    "reference"
                    if c is None
                    else f"{c['mean_diff']:+.3f} "
                    f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]",
                    "" if c is None else f"{c['p_holm']:.3g}",
                    "" if c is None else outcomes[method],
                ]
            )
        lines.append(
            _table(
                [
                    "ranking",
                    "AUC [95% CI]",
                    "accuracy at " + ", ".join(f"{f:.1%}" for f in result["fractions"]),
                    "this − Enhanced GBP",
                    "p (Holm)",
                    "Enhanced GBP",
                ],
                rows,
            )
        )
        shares = result["energy_share"]
        qs = list(next(iter(shares.values())).keys())
        lines.append("\nPerturbation-energy share in each map's top-q pixels:\n")
        lines.append(
            _table(
                ["map"] + [f"q={q}" for q in qs],
                [[m] + [format_ci(v[q]) for q in qs] for m, v in shares.items()],
            )
        )
        lines.append("")
    sweep = {
        float(k): v
        for k, v in info["cw_runs"].items()
        if v in results.get("recovery", {})
    }
    if len(sweep) > 1:
        kappas = sorted(sweep)
        lines.append("## C&W κ sweep: recovery AUC [95% CI] per ranking\n")
        methods = results["recovery"][sweep[kappas[0]]]["methods"]
        lines.append(
            _table(
                ["ranking"] + [f"κ={k:g}" for k in kappas],
                [
                    [m]
                    + [
                        format_ci(results["recovery"][sweep[k]]["methods"][m]["auc"])
                        for k in kappas
                    ]
                    for m in methods
                ],
            )
        )
        lines.append("")
    for name, result in results.get("adversarial", {}).items():
        groups = result["groups"]
        lines.append(
            f"## Adversarial discriminativity: {name} "
            f"(Adv_s n={groups['adv_s']}, Adv_f n={groups['adv_f']})\n"
        )
        rows = []
        for method, comparisons in result["methods"].items():
            main = comparisons["main"]
            rows.append(
                [
                    method,
                    format_ci(main["adv_s"]["spearman"]),
                    format_ci(main["adv_s"]["iou"]),
                    format_ci(main["adv_f"]["spearman"]) if groups["adv_f"] else "n/a",
                    format_ci(
                        comparisons.get("class_only", {})
                        .get("adv_s", {})
                        .get("spearman")
                    ),
                    format_ci(
                        comparisons.get("input_only", {})
                        .get("adv_s", {})
                        .get("spearman")
                    ),
                    format_ci(
                        comparisons.get("noise", {}).get("adv_s", {}).get("spearman")
                    ),
                ]
            )
        rows.append(
            [
                "two random maps",
                format_ci(result["random_maps"]["spearman"]),
                format_ci(result["random_maps"]["iou"]),
                "",
                "",
                "",
                "",
            ]
        )
        lines.append(
            _table(
                [
                    "method",
                    "rho Adv_s",
                    "IoU@10% Adv_s",
                    "rho Adv_f",
                    "rho class only",
                    "rho input only",
                    "rho noise",
                ],
                rows,
            )
        )
        lines.append(
            "\nNoise control left the prediction unchanged for "
            f"{result['noise_prediction_unchanged']:.0%} of images.\n"
        )
    class_result = results.get("class_discriminativity")
    if class_result:
        lines.append(
            "## Class discriminativity (Fig. 1): "
            f"{class_result['n_pairs']} pairs from {class_result['n_images']} "
            "multi-object images\n"
        )
        lines.append(
            _table(
                ["method", "binarized similarity", "top-10% IoU", "Avg-Diff"],
                [
                    [
                        m,
                        format_ci(v["binarized_similarity"]),
                        format_ci(v["top_iou"]),
                        format_ci(v["avg_diff"]),
                    ]
                    for m, v in class_result["methods"].items()
                ],
            )
        )
        lines.append("")
    local = results.get("localization")
    if local:
        lines.append(
            "## Localization: share of positive map mass on the object "
            f"(uniform map: {format_ci(local['mask_area'])})\n"
        )
        conditions = list(next(iter(local["methods"].values())).keys())
        lines.append(
            _table(
                ["method"] + conditions,
                [
                    [m] + [format_ci(v.get(c)) for c in conditions]
                    for m, v in local["methods"].items()
                ],
            )
        )
        lines.append("")
    lines.append("## Figures\n")
    lines += [f"![{name}]({path.name})" for name, path in figures.items()]
    lines.append("\n## Protocol\n")
    protocol = {
        "config": info["config"],
        "methods": info["methods"],
        "recovery": {k: v["protocol"] for k, v in results.get("recovery", {}).items()},
        "adversarial": next(iter(results.get("adversarial", {}).values()), {}).get(
            "protocol"
        ),
        "class_discriminativity": (class_result or {}).get("protocol"),
        "localization": (local or {}).get("protocol"),
    }
    lines.append(
        "```json\n" + json.dumps(protocol, indent=1, default=_json_default) + "\n```\n"
    )
    lines.append("## Versions and timings\n")
    lines.append(
        _table(["library", "version"], [[k, v] for k, v in info["versions"].items()])
    )
    lines.append("")
    lines.append(
        _table(
            ["stage", "seconds"],
            [[k, f"{v:.1f}"] for k, v in results["timings"].items()],
        )
    )
    return "\n".join(lines) + "\n"


def terminal_summary(run: BenchmarkRun, found: dict[str, Any]) -> str:
    """A compact table for the terminal: recovery AUC and Adv_s rho per method."""
    recovery = run.results.get("recovery", {})
    adversarial = run.results.get("adversarial", {})
    runs = [r for r in run.results["run"]["main_runs"] if r in recovery]
    methods = list(run.results["run"]["methods"]) + ["random"]
    header = (
        ["method"]
        + [f"AUC {r}" for r in runs]
        + [f"rho {r} Adv_s" for r in adversarial]
    )
    rows = []
    for method in methods:
        row = [method]
        row += [
            format_ci(recovery[r]["methods"].get(method, {}).get("auc")) for r in runs
        ]
        row += [
            format_ci(
                adversarial[r]["methods"]
                .get(method, {})
                .get("main", {})
                .get("adv_s", {})
                .get("spearman")
            )
            for r in adversarial
        ]
        rows.append(row)
    widths = [
        max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)
    ]
    text = io.StringIO()
    for row in [header, *rows]:
        text.write(
            "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + "\n"
        )
    for key, v in found.items():
        text.write(f"claim {key}: {v['verdict']}\n")
    return text.getvalue()


def write_outputs(run: BenchmarkRun) -> dict[str, Path]:
    """Write results.json, records.json, summary.csv, the figures and report.md
    into ``run.config.out``; print the terminal summary. Returns the paths."""
    out = run.config.out
    out.mkdir(parents=True, exist_ok=True)
    run.results["timings"] = dict(run.timings)
    found = verdicts(run)
    run.results["verdicts"] = found
    figures: dict[str, Path] = {}
    for name, result in run.results.get("recovery", {}).items():
        figures[f"recovery {name}"] = plot_recovery(
            result, f"perturbation recovery, {name}", out / f"recovery_{name}.png"
        )
    cw_runs = {float(k): v for k, v in run.results["run"]["cw_runs"].items()}
    if len([v for v in cw_runs.values() if v in run.results.get("recovery", {})]) > 1:
        figures["kappa sweep"] = plot_kappa_sweep(
            run.results["recovery"], cw_runs, out / "kappa_sweep.png"
        )
    for name, result in run.results.get("adversarial", {}).items():
        figures[f"decomposition {name}"] = plot_decomposition(
            result, name, out / f"adversarial_decomposition_{name}.png"
        )
    if "class_discriminativity" in run.results:
        figures["class discriminativity"] = plot_class_discriminativity(
            run.results["class_discriminativity"],
            run.records["class_discriminativity"],
            out / "class_discriminativity.png",
        )
    if run.grid.get("clean_maps"):
        figures["maps grid"] = plot_maps_grid(
            run.grid, run.class_names, out / "maps_grid.png"
        )
    paths = dict(figures)
    paths["results"] = atomic_write_text(
        out / "results.json", json.dumps(run.results, indent=1, default=_json_default)
    )
    paths["records"] = atomic_write_text(
        out / "records.json", json.dumps(run.records, default=_json_default)
    )
    buffer = io.StringIO()
    rows = summary_rows(run)
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["study"])
    writer.writeheader()
    writer.writerows(rows)
    paths["csv"] = atomic_write_text(out / "summary.csv", buffer.getvalue())
    paths["report"] = atomic_write_text(
        out / "report.md", _markdown(run, found, figures)
    )
    print(terminal_summary(run, found))
    return paths
