"""Every registered attribution method on a CUDA model gives its CPU maps.

Marked ``cuda``: skipped without a GPU, run by ``benchmarks/gpu_check.py``.
TF32 convolutions are switched off for the comparison, so both devices compute
in float32 and the maps agree to float32 rounding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from captum_contrastive import EnhancedGuidedBackprop, GuidedBackprop
from tests.attr.conformance.models import OneInput, seed_cpu
from tests.attr.conformance.registry import REGISTRY

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.usefixtures("float32_cuda"),
]


def _model_and_images() -> tuple[nn.Module, torch.Tensor]:
    seed_cpu(0)
    model = OneInput().eval()
    return model, torch.rand(5, 3, 8, 8)


def _assert_close_maps(on_cuda: torch.Tensor, on_cpu: torch.Tensor) -> None:
    assert on_cuda.device.type == "cuda"
    scale = on_cpu.abs().max().clamp_min(1e-12)
    torch.testing.assert_close(on_cuda.cpu() / scale, on_cpu / scale, atol=1e-5, rtol=0)


@pytest.mark.parametrize("entry", sorted(REGISTRY), ids=str)
@pytest.mark.parametrize("target", [None, 0, [0, 1, 2, 3, 1]], ids=repr)
def test_every_method_gives_its_cpu_maps_on_cuda(entry, target):
    model, images = _model_and_images()
    method = REGISTRY[entry]
    if target is None and not method.contrastive:
        target = 1  # a drop-in needs a target on a model with several outputs
    on_cpu = method.build(model).attribute(images, target=target, **method.kwargs)
    cuda_model = model.cuda()
    on_cuda = method.build(cuda_model).attribute(
        images.cuda(), target=target, **method.kwargs
    )
    _assert_close_maps(on_cuda, on_cpu)
    assert not any(m._forward_hooks or m._backward_hooks for m in cuda_model.modules())


class FunctionalReLUs(nn.Module):
    """ReLUs Captum's hooks do not see: ``F.relu`` and ``Tensor.relu``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 64, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = F.relu(self.conv(x))
        return self.fc(hidden.flatten(1)).relu()


def test_the_guided_engine_guides_functional_relus_on_cuda():
    seed_cpu(1)
    model, images = FunctionalReLUs().eval(), torch.rand(4, 3, 8, 8)
    on_cpu = GuidedBackprop(model).attribute(images, target=2)
    on_cuda = GuidedBackprop(model.cuda()).attribute(images.cuda(), target=2)
    _assert_close_maps(on_cuda, on_cpu)
    inputs = images.cuda().requires_grad_()
    (plain,) = torch.autograd.grad(model(inputs)[:, 2].sum(), inputs)
    assert not torch.allclose(plain, on_cuda), "the guided rule changed nothing"


def test_enhanced_gbp_keeps_maps_on_the_device_of_its_inputs():
    model, images = _model_and_images()
    maps = EnhancedGuidedBackprop(model.cuda()).attribute(images.cuda())
    assert maps.device.type == "cuda" and maps.dtype == torch.float32
    assert (maps >= 0).all() and maps.flatten(1).sum(1).gt(0).all()
