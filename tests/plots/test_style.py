import json
from pathlib import Path

from captum_contrastive.plots.style import (
    KNOWN_STYLES,
    display_name,
    is_highlighted,
    method_style,
)

METHODS = [
    "enhanced_gbp",
    "saliency",
    "guided_backprop",
    "deconvolution",
    "input_x_gradient",
    "integrated_gradients",
    "deeplift",
    "smoothgrad",
    "guided_gradcam",
    "layer_gradcam",
    "contrastive_saliency",
    "contrastive_ig",
]
SIGNED = [
    "guided_backprop",
    "deconvolution",
    "input_x_gradient",
    "integrated_gradients",
    "deeplift",
    "guided_gradcam",
]
ALL = [*METHODS, *(f"{m} |abs|" for m in SIGNED), "random", "oracle |x_adv - x|"]


def test_every_known_name_has_a_distinct_colour_and_marker():
    assert set(ALL) <= set(KNOWN_STYLES)
    pairs = {(method_style(n).color, method_style(n).marker) for n in ALL}
    assert len(pairs) == len(ALL)


def test_base_methods_have_distinct_colours():
    """Enhanced GBP and Deconvolution (and every other pair) differ in colour."""
    names = [*METHODS, "random", "oracle |x_adv - x|"]
    colours = [method_style(n).color for n in names]
    assert len(set(colours)) == len(colours)


def test_abs_variant_keeps_base_colour_and_is_dashed_and_hollow():
    for name in SIGNED:
        base, variant = method_style(name), method_style(f"{name} |abs|")
        assert variant.color == base.color
        assert variant.marker != base.marker
        assert variant.linestyle == "--" and not variant.filled
        assert variant.label == base.label + " |abs|"


def test_style_does_not_depend_on_other_names():
    before = {n: method_style(n) for n in ["deeplift", "my_new_method"]}
    for name in ALL + ["another_method", "x |abs|"]:
        method_style(name)
    assert {n: method_style(n) for n in before} == before


def test_unknown_names_are_stable_and_avoid_known_styles():
    known = {(s.color, s.marker) for s in KNOWN_STYLES.values()}
    for name in ["lime", "occlusion", "shapley_value_sampling", "feature_ablation"]:
        style = method_style(name)
        assert style == method_style(name)
        assert (style.color, style.marker) not in known
        assert style.label == name
    unknown_abs = method_style("occlusion |abs|")
    assert unknown_abs.color == method_style("occlusion").color
    assert unknown_abs.linestyle == "--"


def test_every_name_of_the_real_results_is_known():
    data = json.loads((Path(__file__).parent / "trimmed_results.json").read_text())
    result = data["recovery"]["cw-k0"]
    for name in [*result["methods"], *result["energy_share"]]:
        assert name in KNOWN_STYLES


def test_highlighted_and_labels():
    assert is_highlighted("enhanced_gbp") and is_highlighted("random")
    assert is_highlighted("oracle |x_adv - x|") and is_highlighted("guided_backprop")
    assert not is_highlighted("saliency")
    assert display_name("enhanced_gbp") == "Enhanced GBP"
