import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer, ErrorbarContainer

from captum_contrastive.plots import (
    change_interval,
    plot_class_discriminativity,
    plot_decomposition,
    plot_energy_share,
    plot_kappa_sweep,
    plot_maps_grid,
    plot_recovery_curves,
    plot_recovery_forest,
    plot_recovery_panels,
)
from tests.plots import synthetic

AUCS = {
    "enhanced_gbp": 0.5,
    "guided_backprop": 0.35,
    "deconvolution": 0.3,
    "deeplift |abs|": 0.4,
    "random": 0.2,
}


def assert_written(saved, tmp_path: Path, stem: str) -> None:
    assert saved.png == tmp_path / f"{stem}.png"
    assert saved.pdf == tmp_path / f"{stem}.pdf"
    assert saved.paths == [saved.png, saved.pdf]
    assert saved.png.read_bytes().startswith(b"\x89PNG")
    assert saved.pdf.read_bytes().startswith(b"%PDF")
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def bar_groups(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def bands(ax) -> int:
    return sum(isinstance(c, PolyCollection) for c in ax.collections)


def test_recovery_curves_band_the_highlighted_maps(tmp_path):
    saved = plot_recovery_curves(synthetic.recovery(AUCS), tmp_path / "rec", "cw")
    assert_written(saved, tmp_path, "rec")
    ax = saved.figure.axes[0]
    assert bands(ax) == 2  # Enhanced GBP and GuidedBP; random gets edge lines
    labels = ax.get_legend_handles_labels()[1]
    assert any(label.startswith("Enhanced GBP: 0.50 [0.45, 0.55]") for label in labels)
    assert "other methods" in labels


def test_recovery_curves_without_ci_draw_no_band(tmp_path):
    result = synthetic.recovery(AUCS, with_ci=False)
    saved = plot_recovery_curves(result, tmp_path / "rec.png")
    assert_written(saved, tmp_path, "rec")
    assert bands(saved.figure.axes[0]) == 0


def test_recovery_panels(tmp_path):
    saved = plot_recovery_panels(synthetic.recovery(AUCS), tmp_path / "panels")
    assert_written(saved, tmp_path, "panels")
    visible = [ax for ax in saved.figure.axes if ax.get_visible()]
    assert len(visible) == len(AUCS) - 1  # no panel for random
    assert all(bands(ax) == 1 for ax in visible)


def test_forest_plot_has_auc_and_paired_difference(tmp_path):
    saved = plot_recovery_forest(synthetic.recovery(AUCS), tmp_path / "forest")
    assert_written(saved, tmp_path, "forest")
    left, right = saved.figure.axes[:2]
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert labels[0] == "Enhanced GBP"  # best AUC on top
    points = [c for c in right.containers if isinstance(c, ErrorbarContainer)]
    assert len(points) == len(AUCS) - 1  # every method but the reference
    texts = [t.get_text() for t in right.texts]
    assert "p < 0.001" in texts and " reference" in texts
    assert any(line.get_xdata()[0] == 0 for line in right.lines)  # zero line


def test_forest_plot_tolerates_missing_pieces(tmp_path):
    result = synthetic.recovery(AUCS, with_ci=False)
    result["comparisons"][0].pop("p_holm")
    del result["methods"]["deconvolution"]  # still in the comparisons
    result["methods"]["saliency"] = {"auc": {"mean": None}}
    saved = plot_recovery_forest(result, tmp_path / "forest")
    assert_written(saved, tmp_path, "forest")
    empty = plot_recovery_forest({"methods": {}}, tmp_path / "empty")
    assert_written(empty, tmp_path, "empty")


def test_kappa_sweep(tmp_path):
    recovery = {
        "cw-k0": synthetic.recovery(AUCS),
        "cw-k5": synthetic.recovery({k: v - 0.1 for k, v in AUCS.items()}),
        "cw-k9": synthetic.recovery({"enhanced_gbp": 0.1}, with_ci=False),
    }
    runs = {"0.0": "cw-k0", "5.0": "cw-k5", "9.0": "cw-k9", "20.0": "not run"}
    saved = plot_kappa_sweep(recovery, runs, tmp_path / "kappa")
    assert_written(saved, tmp_path, "kappa")
    ax = saved.figure.axes[0]
    assert bands(ax) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "5", "9"]
    assert len(ax.get_legend().get_texts()) == len(AUCS)
    assert_written(plot_kappa_sweep({}, {}, tmp_path / "none"), tmp_path, "none")


def test_change_interval_flips_the_rho_interval():
    mean, low, high = change_interval({"spearman": synthetic.ci(0.3)})
    assert (mean, low, high) == pytest.approx((0.7, 0.65, 0.75))
    assert change_interval({"change": 0.4})[0] == 0.4
    assert math.isnan(change_interval({"change": 0.4})[1])
    assert all(math.isnan(v) for v in change_interval(None))


def test_decomposition_bars_have_cis(tmp_path):
    result = synthetic.adversarial(["enhanced_gbp", "saliency", "guided_backprop"])
    saved = plot_decomposition(result, tmp_path / "dec", "cw-k0")
    assert_written(saved, tmp_path, "dec")
    ax = saved.figure.axes[0]
    assert len(bar_groups(ax)) == 5  # main Adv_s, main Adv_f and three controls
    main = bar_groups(ax)[0]
    heights = sorted(bar.get_height() for bar in main)
    assert heights == pytest.approx([0.6, 0.7, 0.8])  # 1 - rho
    segments = main.errorbar.lines[2][0].get_segments()
    spans = sorted(tuple(np.round(s[:, 1], 6)) for s in segments)
    assert spans[0] == pytest.approx((0.55, 0.65))  # 1 - ci_high, 1 - ci_low


def test_decomposition_without_adv_f_or_controls(tmp_path):
    result = synthetic.adversarial(["enhanced_gbp", "x"], adv_f=False, controls=False)
    del result["methods"]["x"]["main"]["adv_s"]["spearman"]
    del result["random_maps"]
    saved = plot_decomposition(result, tmp_path / "dec")
    assert_written(saved, tmp_path, "dec")
    assert len(bar_groups(saved.figure.axes[0])) == 1


def test_energy_share(tmp_path):
    saved = plot_energy_share(synthetic.recovery(AUCS), tmp_path / "energy")
    assert_written(saved, tmp_path, "energy")
    assert len(saved.figure.axes) == 3
    ticks = [t.get_text() for t in saved.figure.axes[0].get_yticklabels()]
    assert "oracle |x_adv − x|" in ticks
    assert_written(plot_energy_share({}, tmp_path / "none"), tmp_path, "none")


def test_class_discriminativity(tmp_path):
    result, records = synthetic.class_discriminativity()
    saved = plot_class_discriminativity(result, records, tmp_path / "cd")
    assert_written(saved, tmp_path, "cd")
    assert len(saved.figure.axes) == 6
    spans = [sum(p.get_gid() == "ci" for p in ax.patches) for ax in saved.figure.axes]
    assert spans == [1, 1, 1, 0, 0, 0]  # Avg-Diff has no CI here
    alone = plot_class_discriminativity(result, None, tmp_path / "alone")
    assert_written(alone, tmp_path, "alone")


def test_maps_grid(tmp_path):
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 8, 8, generator=generator)
    maps = {m: torch.randn(2, 3, 8, 8, generator=generator) for m in ["a", "saliency"]}
    grid = {
        "images": images,
        "labels": torch.tensor([0, 7]),
        "clean_maps": maps,
        "attacks": {
            "cw": {
                "images": images.numpy(),
                "predictions": [1, 0],
                "success": [True, False],
                "maps": {"saliency": maps["saliency"]},
            }
        },
    }
    saved = plot_maps_grid(grid, ["cat", "dog"], tmp_path / "grid")
    assert_written(saved, tmp_path, "grid")
    axes = np.asarray(saved.figure.axes).reshape(4, 3)
    assert axes[0, 0].get_xlabel() == "clean: cat"
    assert axes[2, 0].get_xlabel() == "clean: 7"  # label outside class_names
    assert axes[1, 0].get_xlabel() == "cw: dog (fooled)"
    assert not axes[1, 1].axison  # method "a" has no attacked map


def test_trimmed_real_results(tmp_path):
    data = json.loads((Path(__file__).parent / "trimmed_results.json").read_text())
    recovery = data["recovery"]["cw-k0"]
    saved = [
        plot_recovery_curves(recovery, tmp_path / "rec"),
        plot_recovery_forest(recovery, tmp_path / "forest"),
        plot_energy_share(recovery, tmp_path / "energy"),
        plot_kappa_sweep(data["recovery"], data["cw_runs"], tmp_path / "kappa"),
        plot_decomposition(data["adversarial"]["fgsm"], tmp_path / "dec"),
    ]
    for figure in saved:
        assert_written(figure, tmp_path, figure.png.stem)
    assert bands(saved[0].figure.axes[0]) == 2
    assert len(bar_groups(saved[4].figure.axes[0])) == 2  # Adv_s and Adv_f
