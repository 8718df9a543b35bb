import matplotlib
import numpy as np
import pytest
import torch
from captum.attr import NoiseTunnel
from captum.attr import visualization as viz
from captum.metrics import infidelity, sensitivity_max

from captum_contrastive import EnhancedGuidedBackprop
from tests.tiny_models import images, small_cnn

matplotlib.use("Agg")


@pytest.mark.parametrize("nt_type", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_noise_tunnel_with_per_example_contrast(nt_type: str) -> None:
    model, x = small_cnn(), images(3)
    target, contrast = [0, 1, 2], [3, 4, 0]
    egbp = EnhancedGuidedBackprop(model)
    torch.manual_seed(0)
    result = NoiseTunnel(egbp).attribute(
        x,
        nt_type=nt_type,
        nt_samples=4,
        stdevs=0.05,
        target=target,
        contrast_target=contrast,
    )
    assert result.shape == x.shape and torch.isfinite(result).all()
    torch.manual_seed(0)
    noisy = x.repeat_interleave(4, dim=0) + torch.normal(
        0, torch.full((12, 3, 8, 8), 0.05)
    )
    maps = egbp.attribute(
        noisy,
        target=torch.tensor(target).repeat_interleave(4),
        contrast_target=torch.tensor(contrast).repeat_interleave(4),
    ).view(3, 4, 3, 8, 8)
    expected = {
        "smoothgrad": maps.mean(1),
        "smoothgrad_sq": (maps**2).mean(1),
        "vargrad": (maps**2).mean(1) - maps.mean(1) ** 2,
    }[nt_type]
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-7)


def test_sensitivity_max_and_infidelity() -> None:
    model, x = small_cnn(), images(3)
    egbp = EnhancedGuidedBackprop(model)
    sensitivity = sensitivity_max(
        egbp.attribute,
        x,
        target=[0, 1, 2],
        contrast_target=[3, 4, 0],
        n_perturb_samples=3,
    )
    assert sensitivity.shape == (3,) and torch.isfinite(sensitivity).all()

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn_like(inputs) * 0.01
        return noise, inputs - noise

    maps = egbp.attribute(x, target=[0, 1, 2])
    score = infidelity(model, perturb, x, maps, target=[0, 1, 2], n_perturb_samples=4)
    assert score.shape == (3,) and torch.isfinite(score).all()


def test_visualize_image_attr_on_our_output() -> None:
    model, x = small_cnn(), images(1)
    maps = EnhancedGuidedBackprop(model).attribute(x)
    figure, _ = viz.visualize_image_attr(
        maps[0].permute(1, 2, 0).numpy(),
        x[0].permute(1, 2, 0).numpy(),
        method="blended_heat_map",
        sign="positive",
        use_pyplot=False,
    )
    assert figure is not None
    assert np.isfinite(maps.numpy()).all()
