import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from captum_contrastive.plots import (
    display_name,
    method_style,
    plot_road_curves,
    plot_road_gap,
    plot_sanity_cascade,
    plot_sanity_examples,
)
from captum_contrastive.studies.sanity import FIXED_CONTRAST_SUFFIX
from tests.plots.synthetic import NAN, ci
from tests.plots.test_figures import assert_written

MEASURES = ("spearman_abs", "spearman", "ssim", "iou")
STEPS = {"1": ["fc"], "2": ["fc", "conv2"], "all": ["fc", "conv2", "conv1"]}
FIXED = "contrastive_saliency" + FIXED_CONTRAST_SUFFIX


@pytest.fixture(autouse=True)
def no_leaked_figures():
    yield
    assert plt.get_fignums() == []


def bands(ax) -> int:
    return sum(isinstance(c, PolyCollection) for c in ax.collections)


def is_threshold(line) -> bool:
    dashed_black = line.get_linestyle() == "--" and line.get_color() == "black"
    return dashed_black and line.get_label() == "verdict threshold (0.5)"


def sanity_summary(seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    methods = ["saliency", "guided_backprop", "contrastive_saliency", FIXED]
    intervals = {
        m: {
            f"cascading_{measure}@{step}": ci(float(rng.uniform(0.2, 0.9)))
            for measure in MEASURES
            for step in STEPS
        }
        for m in methods
    }
    intervals["saliency"]["cascading_spearman@2"] = ci(NAN, None)  # constant maps
    del intervals["guided_backprop"]["cascading_ssim@2"]  # a missing step
    steps = ["0", "1", "all"]
    maps = {
        m: [[rng.uniform(0, 1, (6, 6)).tolist() for _ in steps] for _ in range(2)]
        for m in methods[:3]
    }
    maps["saliency"][1] = maps["saliency"][1][:2]  # no map at "all"
    return {
        "cascading": {
            "steps": STEPS,
            "intervals": intervals,
            "runner_up_changed_share": {"1": 0.5, "2": 0.6, "all": 0.9},
        },
        "rule": {"measure": "cascading_spearman_abs@all", "threshold": 0.5},
        "examples": {
            "indices": [3, 17],
            "labels": [0, 9],
            "steps": steps,
            "maps": maps,
        },  # fmt: skip
    }


def test_sanity_cascade(tmp_path):
    saved = plot_sanity_cascade(sanity_summary(), tmp_path / "cascade", title="t")
    assert_written(saved, tmp_path, "cascade")
    axes = [ax for ax in saved.figure.axes if ax.get_visible()]
    assert len(axes) == 4
    for ax in axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "all"]
        assert ax.get_xlabel() == "layers randomised from the logits"
        assert bands(ax) == 4
    thresholds = [[ln for ln in ax.lines if is_threshold(ln)] for ax in axes]
    assert [len(t) for t in thresholds] == [1, 0, 0, 0]  # spearman_abs only
    assert thresholds[0][0].get_ydata()[0] == 0.5
    assert len(saved.figure.legends) == 1
    assert all(ax.get_legend() is None for ax in axes)


def test_sanity_cascade_skips_nan_and_missing_steps(tmp_path):
    saved = plot_sanity_cascade(
        sanity_summary(), tmp_path / "c", measures=MEASURES[1:3]
    )
    spearman, ssim = saved.figure.axes
    lines = {ln.get_label(): ln for ln in spearman.lines}
    assert list(lines["Saliency"].get_xdata()) == [0, 2]  # the NaN at "2" skipped
    lines = {ln.get_label(): ln for ln in ssim.lines}
    assert list(lines["GuidedBP (Captum)"].get_xdata()) == [0, 2]  # no "2" at all
    assert all(np.isfinite(lines["GuidedBP (Captum)"].get_ydata()))
    base, fixed = lines["Contrastive Saliency"], lines[display_name(FIXED)]
    assert fixed.get_color() == base.get_color()
    assert fixed.get_linestyle() == "--" and base.get_linestyle() == "-"


def test_sanity_cascade_without_rule_or_steps(tmp_path):
    summary = sanity_summary()
    del summary["rule"]
    summary["cascading"]["intervals"]["saliency"] = {}
    summary["cascading"]["steps"] = {}  # steps read from the interval keys
    saved = plot_sanity_cascade(summary, tmp_path / "d", measures=("spearman_abs",))
    ax = saved.figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "all"]
    assert "Saliency" not in [ln.get_label() for ln in ax.lines]
    assert not [ln for ln in ax.lines if is_threshold(ln)]


def test_fixed_contrast_style_keeps_colour_and_is_dashed():
    base, fixed = method_style("contrastive_saliency"), method_style(FIXED)
    assert fixed.color == base.color and fixed.marker == base.marker
    assert fixed.linestyle == "--" != base.linestyle
    assert fixed.label == base.label + FIXED_CONTRAST_SUFFIX
    assert method_style("random" + FIXED_CONTRAST_SUFFIX).linestyle == ":"


def test_sanity_examples(tmp_path):
    saved = plot_sanity_examples(sanity_summary(), tmp_path / "ex", ["cat", "dog"])
    assert_written(saved, tmp_path, "ex")
    subfigures = saved.figure.subfigs
    assert [s._suptitle.get_text() for s in subfigures] == [
        "image 3: cat",
        "image 17: 9",
    ]
    axes = np.asarray(subfigures[0].axes).reshape(3, 3)
    assert [ax.get_title() for ax in axes[0]] == ["original", "@1", "@all"]
    assert not any(ax.axison for ax in axes.flat)
    assert [t.get_text() for t in axes[0, 0].texts] == ["Saliency"]
    second = np.asarray(subfigures[1].axes).reshape(3, 3)
    assert len(second[0, 2].images) == 0  # saliency has no map at "all" there
    assert len(second[1, 2].images) == 1


def test_sanity_examples_missing(tmp_path):
    summary = sanity_summary()
    del summary["examples"]
    with pytest.raises(ValueError, match="no example maps"):
        plot_sanity_examples(summary, tmp_path / "ex")
    assert not list(tmp_path.iterdir())


def road_summary(seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    fractions = [0.1, 0.3, 0.5, 0.7, 0.9]
    methods = {}
    for name in ("enhanced_gbp", "saliency", "random"):
        morf = np.sort(rng.uniform(0.1, 0.8, len(fractions)))[::-1]
        lerf = np.clip(morf + 0.1, 0, 1)
        methods[name] = {
            "morf_auc": ci(float(morf.mean())),
            "lerf_auc": ci(float(lerf.mean())),
            "gap": {
                "mean_diff": float(lerf.mean() - morf.mean()),
                "ci_low": 0.05,
                "ci_high": 0.15,
                "p_value": 0.0002,
                "n": 8,
            },  # fmt: skip
            "morf_accuracy_ci": [ci(float(v)) for v in morf],
            "lerf_accuracy_ci": [ci(float(v)) for v in lerf],
            "base_accuracy": 0.9,
        }
    return {"n": 8, "fractions": fractions, "methods": methods}


def test_road_curves(tmp_path):
    summary = road_summary()
    summary["methods"]["saliency"]["morf_accuracy_ci"][2] = ci(NAN, None)
    del summary["methods"]["enhanced_gbp"]["base_accuracy"]
    summary["methods"]["deeplift"] = {"morf_accuracy": [0.5] * 5}  # means only
    summary["methods"]["x"] = {"morf_accuracy_ci": [ci(0.5)]}  # wrong length
    saved = plot_road_curves(summary, tmp_path / "road", title="ROAD")
    assert_written(saved, tmp_path, "road")
    morf, lerf = saved.figure.axes[:2]
    assert morf.get_xlim() == pytest.approx((0, 90))
    lines = {ln.get_label().split(":")[0]: ln for ln in morf.lines}
    assert lines["Enhanced GBP"].get_ydata()[0] == 1.0  # no base accuracy
    assert lines["Saliency"].get_ydata()[0] == 0.9
    assert len(lines["Saliency"].get_xdata()) == 5  # NaN point skipped
    assert list(lines["DeepLIFT"].get_ydata()) == [1.0] + [0.5] * 5
    assert list(lines["x"].get_xdata()) == [0]  # only the unmodified image
    assert lines["random"].get_linestyle() == "--"
    assert bands(morf) == 2  # random gets dotted edge lines, as in recovery
    labels = [t.get_text() for t in lerf.get_legend().get_texts()]
    auc = summary["methods"]["saliency"]["lerf_auc"]["mean"]
    assert any(label.startswith(f"Saliency: {auc:.2f} [") for label in labels)


def test_road_curves_without_methods(tmp_path):
    assert_written(plot_road_curves({}, tmp_path / "none"), tmp_path, "none")


def test_road_gap(tmp_path):
    summary = road_summary()
    summary["methods"]["saliency"]["gap"]["mean_diff"] = 0.5
    summary["methods"]["x"] = {"gap": {"mean_diff": NAN}}
    saved = plot_road_gap(summary, tmp_path / "gap")
    assert_written(saved, tmp_path, "gap")
    ax = saved.figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "Saliency" and labels[-1] == "x"  # largest on top, NaN last
    assert any(ln.get_xdata()[0] == 0 for ln in ax.lines)
    assert "p < 0.001" in [t.get_text() for t in ax.texts]
    assert not math.isnan(ax.get_xlim()[0])
