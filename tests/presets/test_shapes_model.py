from pathlib import Path

import torch
from torch import nn

from captum_contrastive.presets.base import Preset
from captum_contrastive.presets.shapes import (
    IMAGE_SIZE,
    MEAN,
    SHAPE_CLASSES,
    STD,
    MultiShapesDataset,
    ShapesDataset,
)
from captum_contrastive.presets.shapes_model import (
    SHAPES_WEIGHTS,
    ShapesVGG,
    load_shapes_model,
    shapes_preset,
)
from captum_contrastive.presets.shapes_training import (
    evaluate_top1,
    train_shapes_model,
)


def test_shipped_weights_file() -> None:
    assert SHAPES_WEIGHTS.is_file()
    assert SHAPES_WEIGHTS.stat().st_size <= 5 * 1024 * 1024
    state = torch.load(SHAPES_WEIGHTS, map_location="cpu", weights_only=True)
    assert all(isinstance(t, torch.Tensor) for t in state.values())
    ShapesVGG().load_state_dict({k: v.float() for k, v in state.items()})


def test_shipped_model_accuracy() -> None:
    model = load_shapes_model()
    assert not model.training
    accuracy = evaluate_top1(model, ShapesDataset(600, seed=1, split="test"))
    assert accuracy >= 0.95


def test_functional_variant_same_logits_and_no_relu_modules() -> None:
    module = load_shapes_model()
    functional = load_shapes_model(functional_relu=True)
    assert any(isinstance(m, nn.ReLU) for m in module.modules())
    assert any(isinstance(m, nn.ReLU) and m.inplace for m in module.modules())
    assert not any(isinstance(m, nn.ReLU) for m in functional.modules())
    assert module.state_dict().keys() == functional.state_dict().keys()
    images, _, _ = ShapesDataset(8, seed=2).batch(range(8))
    x = (images - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    with torch.no_grad():
        assert torch.equal(module(x), functional(x))


def test_functional_variant_calls_f_relu() -> None:
    calls = []

    class Spy(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is torch.nn.functional.relu:
                calls.append(func)
            return func(*args, **(kwargs or {}))

    model = ShapesVGG(widths=(4, 8), hidden=8, functional_relu=True).eval()
    with Spy():
        model(torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE))
    assert len(calls) == 5


def test_preset() -> None:
    preset = shapes_preset(size=10)
    assert isinstance(preset, Preset)
    assert preset.class_names == SHAPE_CLASSES
    assert preset.mean == MEAN and preset.std == STD
    assert len(preset.dataset) == 10
    item = preset.dataset[0]
    with torch.no_grad():
        logits = preset.pixel_model()(item.image[None])
    assert logits.shape == (1, len(SHAPE_CLASSES))
    multi = shapes_preset(size=5, multi_object=True, functional_relu=True)
    assert isinstance(multi.dataset, MultiShapesDataset)
    assert multi.name != preset.name


def test_training_is_reproducible(tmp_path: Path) -> None:
    kwargs = dict(
        seed=5,
        epochs=1,
        batches_per_epoch=2,
        batch_size=10,
        widths=(4, 8),
        hidden=8,
        val_size=4,
        test_size=4,
        multi_test_size=4,
        progress=False,
    )
    first = train_shapes_model(tmp_path / "a.pt", **kwargs)
    second = train_shapes_model(tmp_path / "b.pt", **kwargs)
    state_a = torch.load(tmp_path / "a.pt", weights_only=True)
    state_b = torch.load(tmp_path / "b.pt", weights_only=True)
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert first["test_top1"] == second["test_top1"]
    assert (tmp_path / "a.json").is_file()
    model = load_shapes_model(weights_path=tmp_path / "a.pt")
    assert [m.out_channels for m in model.features if isinstance(m, nn.Conv2d)] == [
        4,
        4,
        8,
        8,
    ]
    third = train_shapes_model(tmp_path / "c.pt", **{**kwargs, "seed": 6})
    state_c = torch.load(tmp_path / "c.pt", weights_only=True)
    assert not all(torch.equal(state_a[k], state_c[k]) for k in state_a)
    assert third["hyperparameters"]["seed"] == 6
