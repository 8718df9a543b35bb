"""The benchmark's figures, from a run's summaries (no recomputation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from captum_contrastive.visualization import save_figure, save_map_grid

__all__ = [
    "plot_class_discriminativity",
    "plot_decomposition",
    "plot_kappa_sweep",
    "plot_maps_grid",
    "plot_recovery",
]


def plot_recovery(result: dict[str, Any], title: str, path: Path) -> Path:
    """Accuracy on the true label against the fraction of pixels replaced."""
    figure = Figure(figsize=(6.5, 4.2))
    ax = figure.subplots()
    fractions = np.asarray(result["fractions"]) * 100
    for name, values in result["methods"].items():
        means = [a["mean"] for a in values["accuracy"]]
        style = (
            dict(color="black", linestyle="--", linewidth=2) if name == "random" else {}
        )
        if name == "enhanced_gbp":
            style = dict(color="tab:red", linewidth=2.5)
        auc = values["auc"]["mean"]
        ax.plot(
            fractions,
            means,
            marker="o",
            markersize=3,
            label=f"{name} ({auc:.2f})",
            **style,
        )
    ax.set_xscale("log")
    ax.set_xlabel("pixels replaced (%)")
    ax.set_ylabel("accuracy on the true label")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{title} (n={result['n']}; legend: AUC)", fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="upper left")
    return save_figure(figure, path)


def plot_kappa_sweep(
    recovery: dict[str, Any], runs: dict[float, str], path: Path
) -> Path:
    """Recovery AUC of every ranking against the C&W confidence κ."""
    kappas = [k for k, name in sorted(runs.items()) if name in recovery]
    figure = Figure(figsize=(6.5, 4.2))
    ax = figure.subplots()
    names = recovery[runs[kappas[0]]]["methods"].keys()
    for name in names:
        means, lows, highs = [], [], []
        for kappa in kappas:
            auc = recovery[runs[kappa]]["methods"][name]["auc"]
            means.append(auc["mean"])
            lows.append(auc["mean"] - auc["ci_low"])
            highs.append(auc["ci_high"] - auc["mean"])
        style = dict(color="black", linestyle="--") if name == "random" else {}
        if name == "enhanced_gbp":
            style = dict(color="tab:red", linewidth=2.5)
        ax.errorbar(
            kappas,
            means,
            yerr=[lows, highs],
            marker="o",
            markersize=3,
            capsize=2,
            label=name,
            **style,
        )
    ax.set_xlabel("C&W confidence κ")
    ax.set_ylabel("recovery AUC (95% CI)")
    ax.legend(fontsize=6, ncol=2)
    return save_figure(figure, path)


def plot_class_discriminativity(
    result: dict[str, Any], records: dict[str, Any], path: Path
) -> Path:
    """Histograms of binarized similarity (Fig. 1a) and Avg-Diff (Fig. 1b)."""
    methods = [m for m in result["methods"]]
    figure = Figure(figsize=(3.2 * len(methods), 5.2))
    axes = figure.subplots(2, len(methods), squeeze=False)
    for column, method in enumerate(methods):
        for row, (measure, label) in enumerate(
            [
                ("binarized_similarity", "similarity of binarized maps"),
                ("avg_diff", "Avg-Diff"),
            ]
        ):
            ax = axes[row, column]
            ax.hist(records[method][measure], bins=20, range=(0, 1), color="tab:blue")
            ax.set_xlabel(label, fontsize=8)
            if row == 0:
                ax.set_title(method, fontsize=9)
    figure.suptitle(
        f"class pairs on multi-object images (n={result['n_pairs']})", fontsize=9
    )
    figure.tight_layout()
    return save_figure(figure, path)


def plot_decomposition(adversarial: dict[str, Any], run: str, path: Path) -> Path:
    """Per method, the change (1 - Spearman rho) of the main comparison and of
    the class-only, input-only and noise controls, on Adv_s."""
    methods = list(adversarial["methods"])
    comparisons = ["main", "class_only", "input_only", "noise"]
    figure = Figure(figsize=(max(6.5, 0.7 * len(methods)), 4.2))
    ax = figure.subplots()
    width = 0.8 / len(comparisons)
    for j, comparison in enumerate(comparisons):
        values = [
            adversarial["methods"][m]
            .get(comparison, {})
            .get("adv_s", {})
            .get("change", np.nan)
            for m in methods
        ]
        ax.bar(np.arange(len(methods)) + j * width, values, width, label=comparison)
    ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2)
    ax.set_xticklabels(methods, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("change: 1 - Spearman rho (Adv_s)")
    ax.set_title(
        f"{run}: what changes the map (n={adversarial['groups']['adv_s']})", fontsize=9
    )
    ax.legend(fontsize=7)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_maps_grid(grid: dict[str, Any], class_names: list[str], path: Path) -> Path:
    """Each image clean and under every attack; one map per method (Figs. 3, 5)."""
    images, maps, labels = [], {m: [] for m in grid["clean_maps"]}, []
    for row in range(grid["images"].shape[0]):
        true = class_names[int(grid["labels"][row])]
        images.append(grid["images"][row])
        labels.append(f"clean: {true}")
        for method in maps:
            maps[method].append(grid["clean_maps"][method][row])
        for name, attack in grid["attacks"].items():
            images.append(attack["images"][row])
            outcome = "fooled" if bool(attack["success"][row]) else "failed"
            predicted = class_names[int(attack["predictions"][row])]
            labels.append(f"{name}: {predicted} ({outcome})")
            for method in maps:
                maps[method].append(attack["maps"][method][row])
    return save_map_grid(
        path,
        torch.stack(images),
        {m: torch.stack(v) for m, v in maps.items()},
        row_labels=labels,
    )


def recovery_figures(
    result: dict[str, Any], run: str, reference: str, out: Path
) -> list[Path]:
    """The recovery curves of one attack run."""
    title = f"perturbation recovery, {run}"
    return [plot_recovery(result, title, out / f"recovery_{run}.png")]


def kappa_sweep_figures(
    runs: dict[str, Any], sweep: dict[float, str], out: Path
) -> list[Path]:
    """Recovery AUC against C&W κ."""
    return [plot_kappa_sweep(runs, sweep, out / "kappa_sweep.png")]


def decomposition_figures(result: dict[str, Any], run: str, out: Path) -> list[Path]:
    """The adversarial map-change decomposition of one attack run."""
    return [
        plot_decomposition(result, run, out / f"adversarial_decomposition_{run}.png")
    ]


def class_figures(summary: dict[str, Any], records: Any, out: Path) -> list[Path]:
    """The class-discriminativity figure."""
    return [
        plot_class_discriminativity(
            summary, records, out / "class_discriminativity.png"
        )
    ]


def maps_grid_figures(
    grid: dict[str, Any], class_names: list[str], out: Path
) -> list[Path]:
    """Example maps of clean and attacked images."""
    return [plot_maps_grid(grid, class_names, out / "maps_grid.png")]
