"""The method table: one row per method, read live by every table that needs it."""

import pytest
from captum.attr import Saliency

from captum_contrastive import applicability
from captum_contrastive.methods import (
    _FACTORIES,
    CAPTUM,
    METHODS,
    OURS,
    MethodSpec,
    Style,
    Twin,
    register_method,
)
from captum_contrastive.pipeline.baseline_checks import check_baselines
from captum_contrastive.plots.style import display_name, is_highlighted, method_style
from captum_contrastive.profiling.variants import VARIANT_DESCRIPTIONS
from tests.tiny_models import images, small_cnn


def test_each_key_has_one_label_that_names_the_owner_where_both_exist() -> None:
    labels = {name: spec.label for name, spec in METHODS.items()}
    assert len(set(labels.values())) == len(labels)
    assert labels["guided_backprop"] == "GuidedBP (Captum)"
    assert labels["guided_backprop_exact"] == "GuidedBP (ours)"
    assert METHODS["guided_backprop"].owner == CAPTUM
    assert METHODS["guided_backprop_exact"].owner == OURS
    for name, label in labels.items():
        assert display_name(name) == label  # the figures' label
    assert VARIANT_DESCRIPTIONS["captum_gbp"][1].startswith("GuidedBP (Captum):")
    assert VARIANT_DESCRIPTIONS["gbp"][1].startswith("GuidedBP (ours):")


def test_kinds_and_twins_are_read_from_the_rows() -> None:
    assert METHODS["enhanced_gbp"].contrastive and not METHODS["saliency"].contrastive
    assert {n for n, s in METHODS.items() if s.needs_layer} == {
        "guided_gradcam",
        "layer_gradcam",
    }
    twin = METHODS["guided_backprop"].twin
    assert twin.describe() == "saliency(abs=False)"
    assert twin.exact == "guided_backprop_exact"
    for spec in METHODS.values():  # every twin and exact alternative is a method
        if spec.twin is not None:
            assert spec.twin.method in METHODS
            assert spec.twin.exact is None or spec.twin.exact in METHODS


@pytest.fixture
def toy_method():
    """A method registered after import, removed again after the test."""

    @register_method("toy_gradient_x2")
    def toy(settings):
        def build(model):
            saliency = Saliency(model)
            return lambda images, targets, contrast=None, **_: (
                2 * saliency.attribute(images, target=targets, abs=False)
            )

        return MethodSpec(
            "toy_gradient_x2",
            "Toy gradient",
            "tests.toy",
            build,
            signed=True,
            style=Style("#123456", "*", highlighted=True),
            twin=Twin("saliency", {"abs": False}),
        )

    yield "toy_gradient_x2"
    del _FACTORIES["toy_gradient_x2"]


def test_a_method_registered_later_is_in_every_table(toy_method) -> None:
    assert toy_method in METHODS and METHODS[toy_method].label == "Toy gradient"
    style = method_style(toy_method)
    assert (style.label, style.color, style.marker) == ("Toy gradient", "#123456", "*")
    assert is_highlighted(toy_method)
    assert method_style(f"{toy_method} |abs|").label == "Toy gradient |abs|"
    model = small_cnn().eval()
    (check,) = check_baselines(model, images(2), [0, 1], METHODS, [toy_method])
    assert check.twin == "saliency(abs=False)" and not check.degenerate
    found = applicability.method_applicability(model, toy_method, (3, 8, 8))
    assert found.status == "ok"
