import pytest
import torch

from captum_contrastive.presets.user_model import ModelSpec, load_weights_file

FACTORY = """
import torch
from torch import nn


def build(num_classes=3):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),
        nn.Flatten(), nn.Linear(6 * 8 * 8, num_classes),
    )


def not_a_model():
    return 3
"""


@pytest.fixture
def factory_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(FACTORY)
    return path


def test_parse_names_each_source(factory_file) -> None:
    assert ModelSpec.parse("torchvision:resnet18").source == "torchvision"
    assert ModelSpec.parse(f"{factory_file}:build").source == "file"
    assert ModelSpec.parse("torch.nn:Identity").source == "module"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("resnet18", "is not 'shapes'"),
        ("torchvision:", "is not 'shapes'"),
        ("torchvision:not_a_net", "not a torchvision classification model"),
        ("/nowhere/model.py:build", "does not exist"),
        ("no_such_package_xyz.models:build", "cannot be imported"),
    ],
)
def test_parse_refuses_bad_models_naming_the_option(text, message) -> None:
    with pytest.raises(ValueError, match=message) as error:
        ModelSpec.parse(text)
    assert "`model`" in str(error.value)


def test_factory_builds_with_num_classes_and_refuses_non_modules(factory_file):
    model = ModelSpec.parse(f"{factory_file}:build").build(num_classes=5)
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 5)
    assert not model.training
    with pytest.raises(ValueError, match="not an nn.Module"):
        ModelSpec.parse(f"{factory_file}:not_a_model").build()
    with pytest.raises(ValueError, match="takes no num_classes"):
        ModelSpec.parse(f"{factory_file}:not_a_model").build(num_classes=2)


def test_torchvision_model_with_local_weights(tmp_path) -> None:
    spec = ModelSpec.parse("torchvision:resnet18")
    trained = spec.build(num_classes=4)
    with torch.no_grad():
        trained.fc.bias.fill_(0.5)
    path = tmp_path / "resnet18.pth"
    torch.save(trained.state_dict(), path)
    fresh = spec.build(num_classes=4)
    load_weights_file(fresh, path, str(spec))
    assert torch.equal(fresh.fc.bias, torch.full((4,), 0.5))
    with pytest.raises(ValueError, match="does not fit torchvision:resnet18"):
        load_weights_file(spec.build(num_classes=7), path, str(spec))


def test_weights_files_are_checked(tmp_path, factory_file) -> None:
    model = ModelSpec.parse(f"{factory_file}:build").build()
    with pytest.raises(ValueError, match="must end in"):
        load_weights_file(model, tmp_path / "weights.bin", "m")
    pickled = tmp_path / "module.pt"
    torch.save(model, pickled)
    with pytest.raises(ValueError, match="not a plain state dict"):
        load_weights_file(model, pickled, "m")
    try:
        import safetensors  # noqa: F401
    except ImportError:
        (tmp_path / "w.safetensors").write_bytes(b"x")
        with pytest.raises(ValueError, match="pip install safetensors"):
            load_weights_file(model, tmp_path / "w.safetensors", "m")
