import pytest
import torch
from captum.attr import (
    Deconvolution,
    DeepLift,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerGradCam,
    NoiseTunnel,
    Saliency,
)
from captum.attr import GuidedBackprop as CaptumGuidedBackprop

from captum_contrastive import (
    ContrastiveAttribution,
    EnhancedGuidedBackprop,
    GuidedBackprop,
    contrast_maps,
)
from tests.tiny_models import images, small_cnn

TARGET, CONTRAST = [0, 1, 2], [3, 4, 0]

METHODS = {
    "Saliency": (lambda m: Saliency(m), {}),
    "IntegratedGradients": (lambda m: IntegratedGradients(m), {"n_steps": 8}),
    "InputXGradient": (lambda m: InputXGradient(m), {}),
    "DeepLift": (lambda m: DeepLift(m), {}),
    "CaptumGuidedBackprop": (lambda m: CaptumGuidedBackprop(m), {}),
    "GuidedBackprop": (lambda m: GuidedBackprop(m), {}),
    "Deconvolution": (lambda m: Deconvolution(m), {}),
    "GuidedGradCam": (lambda m: GuidedGradCam(m, m.conv2), {}),
    "LayerGradCam": (lambda m: LayerGradCam(m, m.conv2), {}),
    "NoiseTunnel": (
        lambda m: NoiseTunnel(Saliency(m)),
        {"nt_type": "smoothgrad", "nt_samples": 3, "stdevs": 0.05},
    ),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(METHODS))
def test_wraps_each_captum_method(name: str) -> None:
    build, kwargs = METHODS[name]
    model, x = small_cnn(), images(3)
    torch.manual_seed(5)
    result = ContrastiveAttribution(build(model)).attribute(
        x, target=TARGET, contrast_target=CONTRAST, **kwargs
    )
    method = build(model)
    torch.manual_seed(5)
    map_k = method.attribute(x, target=TARGET, **kwargs)
    map_m = method.attribute(x, target=CONTRAST, **kwargs)
    if name == "LayerGradCam":
        assert result.shape == (3, 1, 8, 8)
        map_k = torch.nn.functional.interpolate(map_k, size=(8, 8), mode="bilinear")
        map_m = torch.nn.functional.interpolate(map_m, size=(8, 8), mode="bilinear")
    else:
        assert result.shape == x.shape
    torch.testing.assert_close(result, contrast_maps(map_k, map_m))
    assert (result >= 0).all() and torch.isfinite(result).all()
    assert result.sum() > 0


def test_defaults_over_our_guided_backprop_equal_enhanced_guided_backprop() -> None:
    model, x = small_cnn(), images(4)
    wrapped = ContrastiveAttribution(GuidedBackprop(model)).attribute(x)
    enhanced = EnhancedGuidedBackprop(model).attribute(x)
    torch.testing.assert_close(wrapped, enhanced, rtol=1e-5, atol=1e-8)


def test_kwargs_are_forwarded() -> None:
    model, x = small_cnn(), images(2)
    method = ContrastiveAttribution(IntegratedGradients(model))
    few = method.attribute(x, target=0, contrast_target=1, n_steps=2)
    many = method.attribute(x, target=0, contrast_target=1, n_steps=16)
    assert not torch.allclose(few, many)
    baseline = method.attribute(
        x, target=0, contrast_target=1, n_steps=2, baselines=x * 0.5
    )
    assert not torch.allclose(few, baseline)


@pytest.mark.parametrize(
    "build, kwargs",
    [
        (lambda m: IntegratedGradients(m), {"n_steps": 8}),
        (lambda m: Saliency(m), {"abs": False}),
        (lambda m: InputXGradient(m), {}),
        (lambda m: DeepLift(m), {}),
    ],
)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_map_of_difference_equals_difference_of_raw_maps(build, kwargs) -> None:
    model, x = small_cnn(), images(3)
    single = ContrastiveAttribution(
        build(model),
        mode="map_of_difference",
        normalization="none",
        clip_difference=False,
    ).attribute(x, target=TARGET, contrast_target=CONTRAST, **kwargs)
    method = build(model)
    expected = method.attribute(x, target=TARGET, **kwargs) - method.attribute(
        x, target=CONTRAST, **kwargs
    )
    torch.testing.assert_close(single, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "build, kwargs, match",
    [
        (lambda m: GuidedBackprop(m), {}, "not"),
        (lambda m: LayerGradCam(m, m.conv2), {}, "not"),
        (lambda m: Saliency(m), {}, "abs=False"),
        (lambda m: NoiseTunnel(Saliency(m)), {"nt_type": "vargrad"}, "vargrad"),
    ],
)
def test_map_of_difference_refuses_nonlinear_methods(build, kwargs, match) -> None:
    method = ContrastiveAttribution(build(small_cnn()), mode="map_of_difference")
    with pytest.raises(ValueError, match=match):
        method.attribute(images(2), target=0, contrast_target=1, **kwargs)


def test_forward_func_is_restored_after_map_of_difference() -> None:
    model = small_cnn()
    ig = IntegratedGradients(model)
    ContrastiveAttribution(ig, mode="map_of_difference").attribute(images(2), n_steps=4)
    assert ig.forward_func is model


def test_rejects_non_attribution_and_convergence_delta() -> None:
    with pytest.raises(TypeError, match="`method`"):
        ContrastiveAttribution(small_cnn())
    method = ContrastiveAttribution(IntegratedGradients(small_cnn()))
    with pytest.raises(TypeError, match="return_convergence_delta"):
        method.attribute(images(2), return_convergence_delta=True)


def test_bad_contrast_target() -> None:
    method = ContrastiveAttribution(InputXGradient(small_cnn()))
    with pytest.raises(ValueError, match="equals `target`"):
        method.attribute(images(2), target=1, contrast_target=1)
    with pytest.raises(ValueError, match="out of range"):
        method.attribute(images(2), contrast_target=[0, 7])
