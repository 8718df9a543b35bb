"""Which methods apply to which model: one tiny model per failure or degeneracy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from captum_contrastive.applicability import (
    Applicability,
    applicability_table,
    markdown_table,
    method_applicability,
)
from captum_contrastive.methods import METHODS

SHAPE = (3, 8, 8)


class ReusedReLU(nn.Module):
    """One nn.ReLU module called twice (as in torchvision's ResNet blocks)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x: Tensor) -> Tensor:
        h = self.relu(self.conv2(self.relu(self.conv1(x))))
        return self.fc(h.flatten(1))


class FunctionalReLU(nn.Module):
    """ReLU as F.relu calls (as in torchvision's GoogLeNet)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.fc(h.flatten(1))


class MyReLU(nn.ReLU):
    """A subclass: Captum's DeepLift matches exact types and skips it."""


def _sequential(activation: type[nn.Module]) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        activation(),
        nn.Conv2d(4, 4, 3, padding=1),
        activation(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 5),
    )


class PatchEmbedding(nn.Module):
    """A ViT-like model: its only Conv2d is the input layer."""

    def __init__(self) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, 6, 4, stride=4)
        self.mlp = nn.Sequential(nn.Linear(6, 6), nn.GELU(), nn.Linear(6, 6))
        self.head = nn.Linear(6, 5)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patches(x).flatten(2).transpose(1, 2)
        return self.head(self.mlp(tokens).mean(1))


def _model(factory) -> nn.Module:  # noqa: ANN001
    torch.manual_seed(0)
    return factory().eval()


def _status(model: nn.Module, method: str, **kwargs) -> Applicability:  # noqa: ANN003
    return method_applicability(model, method, SHAPE, **kwargs)


def test_deeplift_fails_on_a_reused_relu_module_and_names_it():
    found = _status(_model(ReusedReLU), "deeplift")
    assert found.status == "fails"
    assert "more than once" in found.reason and "relu" in found.reason


def test_functional_relu_degenerates_captum_guided_methods_not_ours():
    model = _model(FunctionalReLU)
    rows = {
        a.method: a
        for a in applicability_table(
            model,
            [
                "guided_backprop",
                "deconvolution",
                "guided_gradcam",
                "deeplift",
                "guided_backprop_exact",
                "deconvolution_exact",
                "enhanced_gbp",
            ],
            SHAPE,
        )
    }
    for method in ("guided_backprop", "deconvolution"):
        assert rows[method].status == "degenerate"
        assert "equals the gradient" in rows[method].reason
        assert "F.relu" in rows[method].reason
    assert rows["guided_backprop"].reason.endswith("use guided_backprop_exact")
    assert rows["guided_gradcam"].status == "degenerate"
    assert rows["guided_gradcam"].reason.startswith("gradient x Grad-CAM")
    assert rows["deeplift"].status == "degenerate"
    assert "input_x_gradient" in rows["deeplift"].reason
    assert "F.relu" in rows["deeplift"].reason
    for method in ("guided_backprop_exact", "deconvolution_exact", "enhanced_gbp"):
        assert rows[method] == Applicability(method, "ok", "")


def test_relu_subclass_makes_deeplift_input_x_gradient():
    found = _status(_model(lambda: _sequential(MyReLU)), "deeplift")
    assert found.status == "degenerate"
    assert "equals input_x_gradient" in found.reason
    assert "MyReLU" in found.reason and "subclass" in found.reason
    # nn.ReLU itself is hooked: the same model with nn.ReLU is fine.
    assert _status(_model(lambda: _sequential(nn.ReLU)), "deeplift").status == "ok"


def test_no_relu_makes_guided_methods_a_gradient():
    model = _model(lambda: _sequential(nn.GELU))
    methods = ["guided_backprop_exact", "enhanced_gbp", "guided_backprop", "saliency"]
    rows = {a.method: a for a in applicability_table(model, methods, SHAPE)}
    for method in methods[:3]:
        assert rows[method].status == "degenerate"
        assert "no ReLU" in rows[method].reason and "GELU" in rows[method].reason
    assert "contrastive gradient" in rows["enhanced_gbp"].reason
    assert rows["saliency"].status == "ok"


def test_grad_cam_fails_without_conv2d():
    model = _model(
        lambda: nn.Sequential(
            nn.Flatten(), nn.Linear(192, 8), nn.ReLU(), nn.Linear(8, 5)
        )
    )
    for method in ("layer_gradcam", "guided_gradcam"):
        found = _status(model, method)
        assert found.status == "fails"
        assert found.reason.startswith("no Grad-CAM layer")
        assert "nn.Conv2d" in found.reason


def test_grad_cam_on_a_patch_embedding_is_degenerate():
    found = _status(_model(PatchEmbedding), "layer_gradcam")
    assert found.status == "degenerate"
    assert "input layer" in found.reason


def test_wrong_class_count_and_wrong_input_fail_every_method():
    model = _model(FunctionalReLU)
    found = applicability_table(model, ["saliency"], SHAPE, num_classes=10)
    assert found == [Applicability("saliency", "fails", found[0].reason)]
    assert "outputs 5 classes, not 10" in found[0].reason
    assert _status(model, "saliency").status == "ok"  # the right shape
    found = method_applicability(model, "saliency", (3, 9, 9))
    assert found.status == "fails" and "does not run" in found.reason


def test_accepts_a_spec_and_rejects_unknown_names():
    model = _model(FunctionalReLU)
    assert _status(model, METHODS["saliency"]).status == "ok"
    with pytest.raises(ValueError, match="unknown method"):
        _status(model, "no_such_method")
    with pytest.raises(ValueError, match="status"):
        Applicability("saliency", "broken")


def test_markdown_table_footnotes_each_reason_once():
    rows = {
        "a": [Applicability("m", "ok"), Applicability("n", "fails", "why")],
        "b": [Applicability("m", "degenerate", "why"), Applicability("n", "ok")],
    }
    table = markdown_table(rows)
    assert "| a | ok | fails [1] |" in table
    assert "| b | degenerate [1] | ok |" in table
    assert table.count("[1] why") == 1
    with pytest.raises(ValueError, match="every row"):
        markdown_table({"a": rows["a"], "b": rows["b"][:1]})


def test_resnet18_small_input():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    rows = applicability_table(
        model,
        ["deeplift", "guided_backprop_exact", "layer_gradcam"],
        (3, 64, 64),
        num_classes=10,
    )
    assert [a.status for a in rows] == ["fails", "ok", "ok"]
    assert "layer1.0.relu" in rows[0].reason
