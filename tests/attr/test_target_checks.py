"""``target`` / ``contrast_target``: NumPy integers, and wrong lengths that must
raise instead of being repeated to fit the batch (except NoiseTunnel's expansion)."""

from collections.abc import Callable

import numpy as np
import pytest
import torch
from captum.attr import NoiseTunnel, Saliency
from captum.log import log_usage
from captum.metrics import sensitivity_max

from captum_contrastive import (
    ContrastiveAttribution,
    Deconvolution,
    EnhancedGuidedBackprop,
    GuidedBackprop,
)
from captum_contrastive.attr._targets import Expansion, as_class_vector, expansion_of
from tests.tiny_models import images, small_cnn

pytestmark = pytest.mark.filterwarnings(
    "ignore:Input Tensor 0 did not already require gradients:UserWarning"
)

CONTRASTIVE = {
    "EnhancedGuidedBackprop": lambda m: EnhancedGuidedBackprop(m),
    "ContrastiveAttribution": lambda m: ContrastiveAttribution(Saliency(m)),
}
CAPTUM_STYLE = {"GuidedBackprop": GuidedBackprop, "Deconvolution": Deconvolution}


def _contrastive(name: str) -> Callable[..., torch.Tensor]:
    return CONTRASTIVE[name](small_cnn()).attribute


@pytest.mark.parametrize("name", list(CONTRASTIVE))
@pytest.mark.parametrize(
    "target, contrast",
    [
        (np.int64(2), np.int32(4)),
        (np.array(2), np.array(4)),
        ([np.int64(2), np.int64(2), np.int64(2)], [np.int16(4)] * 3),
        (np.array([2, 2, 2]), np.array([4, 4, 4], dtype=np.uint8)),
    ],
    ids=["scalars", "0-d arrays", "lists", "1-d arrays"],
)
def test_numpy_classes_equal_python_ints(name: str, target, contrast) -> None:
    attribute = _contrastive(name)
    x = images(3)
    expected = attribute(x, target=2, contrast_target=4)
    result = attribute(x, target=target, contrast_target=contrast)
    torch.testing.assert_close(result, expected, rtol=0, atol=0)
    assert result.sum() > 0


@pytest.mark.parametrize("name", list(CONTRASTIVE))
def test_numpy_per_example_classes_keep_their_order(name: str) -> None:
    attribute = _contrastive(name)
    x = images(3)
    expected = attribute(x, target=[0, 1, 2], contrast_target=[3, 4, 0])
    result = attribute(
        x, target=np.array([0, 1, 2]), contrast_target=[np.int64(v) for v in (3, 4, 0)]
    )
    torch.testing.assert_close(result, expected, rtol=0, atol=0)


@pytest.mark.parametrize("cls", list(CAPTUM_STYLE.values()), ids=list(CAPTUM_STYLE))
@pytest.mark.parametrize(
    "target, expected",
    [
        (np.int64(3), 3),
        (np.array(3), 3),
        (np.array([3, 1, 0]), [3, 1, 0]),
        ([np.int64(3), np.int32(1), np.int8(0)], [3, 1, 0]),
    ],
    ids=["scalar", "0-d array", "1-d array", "list"],
)
def test_captum_style_methods_take_numpy_targets(cls: type, target, expected) -> None:
    method, x = cls(small_cnn()), images(3)
    torch.testing.assert_close(
        method.attribute(x, target=target),
        method.attribute(x, target=expected),
        rtol=0,
        atol=0,
    )
    chunked = method.attribute(x, target=target, internal_batch_size=2)
    torch.testing.assert_close(
        chunked, method.attribute(x, target=expected), rtol=1e-5, atol=1e-8
    )


@pytest.mark.parametrize(
    "attribute",
    [
        lambda x, t: EnhancedGuidedBackprop(small_cnn()).attribute(x, target=t),
        lambda x, t: ContrastiveAttribution(Saliency(small_cnn())).attribute(
            x, contrast_target=t
        ),
        lambda x, t: GuidedBackprop(small_cnn()).attribute(x, target=t),
    ],
    ids=["EnhancedGuidedBackprop", "ContrastiveAttribution", "GuidedBackprop"],
)
@pytest.mark.parametrize(
    "bad",
    [np.array([0.0, 1.0, 2.0]), np.bool_(True), [np.float64(1.0)] * 3],
    ids=["float array", "numpy bool", "list of floats"],
)
def test_non_integer_numpy_classes_are_refused(attribute, bad) -> None:
    with pytest.raises(TypeError, match="target`"):
        attribute(images(3), bad)


WRONG_LENGTHS = [[0, 1], torch.tensor([0, 1]), np.array([0, 1]), [1]]
WRONG_LENGTH_IDS = ["list of 2", "tensor of 2", "array of 2", "list of 1"]


@pytest.mark.parametrize("grad_enabled", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize("wrong", WRONG_LENGTHS, ids=WRONG_LENGTH_IDS)
@pytest.mark.parametrize("name", list(CONTRASTIVE))
@pytest.mark.parametrize("argument", ["target", "contrast_target"])
def test_wrong_length_raises_with_and_without_grad(
    argument: str, name: str, wrong, grad_enabled: bool
) -> None:
    """Before, under ``torch.no_grad()`` a list whose length divides the batch was
    silently repeated (the no-grad mode was taken as the sign of NoiseTunnel)."""
    attribute = _contrastive(name)
    other = "contrast_target" if argument == "target" else "target"
    n = len(wrong)
    kwargs = {argument: wrong, other: 3}
    with torch.set_grad_enabled(grad_enabled):
        with pytest.raises(
            ValueError,
            match=rf"`{argument}` has {n} entries but the batch has 4 examples",
        ):
            attribute(images(4), **kwargs)


@pytest.mark.parametrize("grad_enabled", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize("wrong", WRONG_LENGTHS, ids=WRONG_LENGTH_IDS)
@pytest.mark.parametrize("cls", list(CAPTUM_STYLE.values()), ids=list(CAPTUM_STYLE))
def test_wrong_length_raises_for_captum_style_methods(
    cls: type, wrong, grad_enabled: bool
) -> None:
    n = len(wrong)
    with torch.set_grad_enabled(grad_enabled):
        with pytest.raises(
            ValueError, match=rf"`target` has {n} entries but the batch has 4"
        ):
            cls(small_cnn()).attribute(images(4), target=wrong, internal_batch_size=2)


@pytest.mark.parametrize("single", [torch.tensor([2]), np.array([2])])
def test_one_element_tensor_target_is_one_class_for_all_as_in_captum(single) -> None:
    model, x = small_cnn(), images(3)
    torch.testing.assert_close(
        GuidedBackprop(model).attribute(x, target=single),
        GuidedBackprop(model).attribute(x, target=2),
        rtol=0,
        atol=0,
    )


@pytest.mark.parametrize("name", list(CONTRASTIVE))
def test_noise_tunnel_shaped_call_outside_noise_tunnel_raises(name: str) -> None:
    """The batch NoiseTunnel would build (N * r rows) with N contrast classes,
    under no_grad like NoiseTunnel, but called directly: not accepted."""
    x = images(2).repeat_interleave(3, dim=0)
    with torch.no_grad(), pytest.raises(ValueError, match="has 2 entries.* has 6"):
        _contrastive(name)(x, target=[0] * 6, contrast_target=[3, 4])


@pytest.mark.parametrize(
    "build",
    [
        lambda m: EnhancedGuidedBackprop(m),
        lambda m: ContrastiveAttribution(Saliency(m)),
    ],
    ids=list(CONTRASTIVE),
)
@pytest.mark.parametrize("wrong", [[3], [3, 4, 0], [3, 4, 0, 1, 2, 3]])
def test_noise_tunnel_refuses_contrast_of_another_length(build, wrong) -> None:
    """With N = 2 examples and nt_samples = 3 the inner batch has 6 rows; lengths
    1, 3 and 6 all divide it, but only N = 2 is what NoiseTunnel left unexpanded."""
    method = NoiseTunnel(build(small_cnn()))
    match = rf"`contrast_target` has {len(wrong)} entries but NoiseTunnel was given 2"
    with pytest.raises(ValueError, match=match):
        method.attribute(
            images(2), nt_samples=3, stdevs=0.05, target=[0, 1], contrast_target=wrong
        )


def _noisy_batches(x: torch.Tensor, sizes: list[int], stdev: float) -> list:
    """The noisy inputs NoiseTunnel draws, partition by partition."""
    n = x.shape[0]
    return [
        x.repeat_interleave(s, dim=0)
        + torch.normal(0, torch.full((n * s, *x.shape[1:]), stdev))
        for s in sizes
    ]


@pytest.mark.parametrize(
    "target, contrast",
    [
        ([0, 1, 2], [3, 4, 0]),
        (np.array([0, 1, 2]), np.array([3, 4, 0])),
        (torch.tensor([0, 1, 2]), [np.int64(3), np.int64(4), np.int64(0)]),
    ],
    ids=["lists", "arrays", "tensor and numpy list"],
)
def test_noise_tunnel_partitions_expand_per_example(target, contrast) -> None:
    """nt_samples=5 in partitions of 2, 2 and a remainder of 1: each inner call
    gets 3 * s rows and the 3 per-example classes repeated s times each."""
    model, x = small_cnn(), images(3)
    egbp = EnhancedGuidedBackprop(model)
    torch.manual_seed(0)
    result = NoiseTunnel(egbp).attribute(
        x,
        nt_samples=5,
        nt_samples_batch_size=2,
        stdevs=0.05,
        target=target,
        contrast_target=contrast,
    )
    torch.manual_seed(0)
    total = torch.zeros_like(x)
    for s, noisy in zip([2, 2, 1], _noisy_batches(x, [2, 2, 1], 0.05), strict=True):
        maps = egbp.attribute(
            noisy,
            target=torch.tensor([0, 1, 2]).repeat_interleave(s),
            contrast_target=torch.tensor([3, 4, 0]).repeat_interleave(s),
        )
        total += maps.view(3, s, *x.shape[1:]).sum(dim=1)
    torch.testing.assert_close(result, total / 5, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("cls", list(CAPTUM_STYLE.values()), ids=list(CAPTUM_STYLE))
def test_noise_tunnel_over_captum_style_methods_with_numpy_target(cls: type) -> None:
    """NoiseTunnel expands a list target but passes a NumPy array unexpanded."""
    method = NoiseTunnel(cls(small_cnn()))
    x = images(3)
    results = []
    for target in ([2, 0, 1], np.array([2, 0, 1])):
        torch.manual_seed(0)
        results.append(method.attribute(x, nt_samples=4, stdevs=0.05, target=target))
    torch.testing.assert_close(results[1], results[0], rtol=0, atol=0)
    assert results[0].abs().sum() > 0


def test_sensitivity_max_refuses_contrast_of_another_length() -> None:
    egbp = EnhancedGuidedBackprop(small_cnn())
    match = "`contrast_target` has 1 entries but sensitivity_max was given 3"
    with pytest.raises(ValueError, match=match):
        sensitivity_max(
            egbp.attribute,
            images(3),
            target=[0, 1, 2],
            contrast_target=[3],
            n_perturb_samples=3,
        )


def test_sensitivity_max_over_noise_tunnel_expands_through_both() -> None:
    """sensitivity_max repeats 3 examples twice, NoiseTunnel each of those twice:
    the contrast classes must match the 3 examples given to the outer call."""
    noise_tunnel = NoiseTunnel(EnhancedGuidedBackprop(small_cnn()))
    kwargs = dict(target=[0, 1, 2], n_perturb_samples=2, nt_samples=2, stdevs=0.05)
    score = sensitivity_max(
        noise_tunnel.attribute, images(3), contrast_target=[3, 4, 0], **kwargs
    )
    assert score.shape == (3,) and torch.isfinite(score).all()
    with pytest.raises(ValueError, match="has 6 entries but sensitivity_max was"):
        sensitivity_max(
            noise_tunnel.attribute, images(3), contrast_target=[3, 4, 0] * 2, **kwargs
        )


def test_as_class_vector_repeats_only_under_an_expansion() -> None:
    under = Expansion("NoiseTunnel", 2)
    vector = as_class_vector([1, 2], 6, 5, "contrast_target", under)
    assert vector.tolist() == [1, 1, 1, 2, 2, 2]
    target = as_class_vector(np.array([1, 2]), 6, 5, "target", under)
    assert target.tolist() == [1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="`contrast_target` has 3 entries.* given 2"):
        as_class_vector([1, 2, 3], 6, 5, "contrast_target", under)
    with pytest.raises(ValueError, match="`contrast_target` has 6 entries.* given 2"):
        as_class_vector([1, 2, 3, 4, 1, 2], 6, 5, "contrast_target", under)
    with pytest.raises(ValueError, match="`target` has 2 entries but the batch has 6"):
        as_class_vector([1, 2], 6, 5, "target")


def test_no_expansion_outside_captum_wrappers() -> None:
    assert expansion_of(object()) is None


def test_expansion_is_seen_only_by_the_method_noise_tunnel_calls() -> None:
    seen: dict[str, object] = {}

    class Probe(Saliency):
        @log_usage()
        def attribute(self, inputs, **kwargs):  # noqa: ANN001, ANN003, ANN201
            seen["self"] = expansion_of(self)
            seen["other"] = expansion_of(object())
            return inputs

    NoiseTunnel(Probe(small_cnn())).attribute(images(2), nt_samples=3, target=0)
    assert seen == {"self": Expansion("NoiseTunnel", 2), "other": None}
