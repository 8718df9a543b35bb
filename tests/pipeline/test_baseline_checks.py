import torch
import torch.nn.functional as F
from torch import nn

from captum_contrastive.methods import METHODS
from captum_contrastive.pipeline.baseline_checks import check_baselines

BASELINES = ("deeplift", "guided_backprop", "deconvolution")


class _MyReLU(nn.ReLU):
    """A ReLU subclass, as MobileNet-style code defines them."""


class _Net(nn.Module):
    def __init__(self, activation: str) -> None:
        super().__init__()
        self.activation = activation
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.act = _MyReLU() if activation == "subclass" else nn.ReLU()
        self.head = nn.Linear(6 * 8 * 8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        h = F.relu(h) if self.activation == "functional" else self.act(h)
        return self.head(h.flatten(1))


def _checks(activation: str) -> dict:
    torch.manual_seed(0)
    model = _Net(activation).eval()
    images = torch.rand(3, 3, 8, 8)
    targets = model(images).argmax(dim=1)
    found = check_baselines(model, images, targets, METHODS, BASELINES)
    return {check.method: check for check in found}


def test_deeplift_on_a_relu_subclass_is_flagged_as_input_x_gradient() -> None:
    checks = _checks("subclass")
    assert checks["deeplift"].degenerate
    assert checks["deeplift"].twin == "input_x_gradient"
    assert "deeplift" in checks["deeplift"].message()
    assert not checks["guided_backprop"].degenerate


def test_captum_guided_backprop_on_f_relu_is_flagged_as_the_gradient() -> None:
    checks = _checks("functional")
    for method in ("guided_backprop", "deconvolution"):
        assert checks[method].degenerate, method
        assert checks[method].exact_alternative == f"{method}_exact"
        assert "is exact here" in checks[method].message()


def test_nothing_is_flagged_on_a_plain_relu_module_model() -> None:
    checks = _checks("module")
    assert set(checks) == set(BASELINES)
    assert not any(check.degenerate for check in checks.values())
    assert all(check.max_abs_difference > 0 for check in checks.values())
