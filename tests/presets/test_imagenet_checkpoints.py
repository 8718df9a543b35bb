import hashlib
import pickle
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
import torchvision

from captum_contrastive.presets import checkpoints
from captum_contrastive.presets.checkpoints import (
    WeightsUnavailableError,
    load_classifier,
    load_state_dict_file,
    resolve_weights,
    weights_cache_path,
    weights_file,
)

ARCH = "squeezenet1_1"


class Network:
    """Stands in for ``urlopen``: counts calls and fails like an offline machine."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.error = error or urllib.error.URLError(
            "[Errno -2] Name or service not known"
        )

    def __call__(self, url: str, timeout: float | None = None):
        self.calls.append(url)
        raise self.error


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture
def offline(monkeypatch) -> Network:
    network = Network()
    monkeypatch.setattr(urllib.request, "urlopen", network)
    return network


def random_model(num_classes: int = 1000, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torchvision.models.get_model(ARCH, weights=None, num_classes=num_classes)


def cache_random_weights(seed: int = 0) -> tuple[Path, dict]:
    state = random_model(seed=seed).state_dict()
    path = weights_cache_path(resolve_weights(ARCH, "IMAGENET1K_V1"))
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return path, state


class Evil:
    """Unpickling this creates ``marker``: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def assert_same_state(model: torch.nn.Module, state: dict) -> None:
    actual = model.state_dict()
    assert actual.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(actual[key], value), key


def test_cache_path_uses_the_file_name_torchvision_expects(hub) -> None:
    weights = resolve_weights("vgg16", "IMAGENET1K_V1")
    path = weights_cache_path(weights)
    assert path == hub / "checkpoints" / "vgg16-397923af.pth"
    assert path.name == Path(weights.url).name


def test_cached_weights_load_without_network(hub, offline) -> None:
    path, state = cache_random_weights()
    model = load_classifier(ARCH, "IMAGENET1K_V1")
    assert offline.calls == []
    assert not model.training
    assert_same_state(model, state)
    assert weights_file(resolve_weights(ARCH, "DEFAULT")) == path


def test_offline_error_is_clear_and_fast(hub, offline) -> None:
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as info:
        load_classifier("vgg16", "IMAGENET1K_V1")
    assert time.perf_counter() - start < 5
    assert len(offline.calls) == 1
    error = info.value
    assert isinstance(error, RuntimeError)
    message = str(error)
    expected = hub / "checkpoints" / "vgg16-397923af.pth"
    assert str(expected) in message
    assert "'vgg16-397923af.pth'" in message
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in message
    assert "weights_path=" in message
    assert "Name or service not known" in message
    assert error.__cause__ is None and error.__suppress_context__
    assert not hub.exists() or not any(hub.rglob("*.part"))


def test_download_false_never_touches_the_network(hub, offline) -> None:
    with pytest.raises(WeightsUnavailableError, match="download=False"):
        load_classifier(ARCH, "IMAGENET1K_V1", download=False)
    assert offline.calls == []


def test_timeouts_become_the_clear_error(hub, monkeypatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", Network(TimeoutError("timed out")))
    with pytest.raises(WeightsUnavailableError, match="timed out"):
        weights_file(resolve_weights(ARCH, "IMAGENET1K_V1"), timeout=0.1)


class FakeResponse:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.headers = {"Content-Length": str(len(payload))}

    def read(self, size: int) -> bytes:
        chunk, self.payload = self.payload[:size], self.payload[size:]
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_corrupt_download_leaves_nothing_behind(hub, monkeypatch) -> None:
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"garbage")
    )
    with pytest.raises(WeightsUnavailableError, match="does not match its hash"):
        weights_file(resolve_weights(ARCH, "IMAGENET1K_V1"), progress=False)
    assert list((hub / "checkpoints").iterdir()) == []


def test_download_with_matching_hash(tmp_path, monkeypatch) -> None:
    payload = b"weights"
    digest = hashlib.sha256(payload).hexdigest()[:8]
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout: FakeResponse(payload)
    )
    target = tmp_path / "checkpoints" / f"net-{digest}.pth"
    checkpoints._download("https://x/net.pth", target, timeout=1, progress=False)
    assert target.read_bytes() == payload
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_malicious_cached_file_is_rejected_not_executed(hub, offline, tmp_path):
    marker = tmp_path / "pwned"
    path = weights_cache_path(resolve_weights(ARCH, "IMAGENET1K_V1"))
    path.parent.mkdir(parents=True)
    torch.save({"weight": Evil(marker)}, path)
    with pytest.raises(ValueError, match="not a plain state dict"):
        load_classifier(ARCH, "IMAGENET1K_V1")
    assert not marker.exists()


@pytest.mark.parametrize(
    "weights, name",
    [
        ("IMAGENET1K_V1", "IMAGENET1K_V1"),
        ("DEFAULT", "IMAGENET1K_V1"),
        ("VGG16_Weights.IMAGENET1K_V1", "IMAGENET1K_V1"),
        (torchvision.models.VGG16_Weights.IMAGENET1K_V1, "IMAGENET1K_V1"),
    ],
)
def test_resolve_weights(weights, name) -> None:
    assert resolve_weights("vgg16", weights).name == name


@pytest.mark.parametrize(
    "model, weights, match",
    [
        ("vgg16", "IMAGENET9K", "unknown weights"),
        ("not_a_model", "DEFAULT", "unknown torchvision model"),
        ("vgg16", torchvision.models.ResNet18_Weights.DEFAULT, "not weights for"),
    ],
)
def test_resolve_weights_errors(model, weights, match) -> None:
    with pytest.raises(ValueError, match=match):
        resolve_weights(model, weights)


def test_random_weights_without_network(offline) -> None:
    model = load_classifier(ARCH, None, num_classes=7)
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 7)
    assert offline.calls == []


def test_pretrained_weights_refuse_another_class_count(hub, offline) -> None:
    cache_random_weights()
    with pytest.raises(ValueError, match="1000 classes"):
        load_classifier(ARCH, "IMAGENET1K_V1", num_classes=10)


# User checkpoints.


def save(tmp_path: Path, content: object, name: str = "ckpt.pt") -> Path:
    path = tmp_path / name
    torch.save(content, path)
    return path


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: s,
        lambda s: {"state_dict": s, "epoch": 3},
        lambda s: {"model": s, "optimizer": {"lr": 0.1}},
        lambda s: {f"module.{k}": v for k, v in s.items()},
        lambda s: {f"_orig_mod.{k}": v for k, v in s.items()},
    ],
    ids=["plain", "state_dict", "model", "data_parallel", "compiled"],
)
def test_user_checkpoint_layouts(tmp_path, wrap) -> None:
    original = random_model(num_classes=10, seed=3).eval()
    path = save(tmp_path, wrap(original.state_dict()))
    model = load_classifier(ARCH, None, weights_path=path)
    assert_same_state(model, original.state_dict())
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x))


def test_user_checkpoint_class_count_mismatch(tmp_path) -> None:
    path = save(tmp_path, random_model(num_classes=10).state_dict())
    with pytest.raises(ValueError, match="does not fit torchvision") as info:
        load_classifier(ARCH, None, weights_path=path, num_classes=5)
    assert str(path) in str(info.value) and "shape mismatches" in str(info.value)


def test_user_checkpoint_of_another_architecture(tmp_path) -> None:
    torch.manual_seed(0)
    resnet = torchvision.models.get_model("resnet18", weights=None, num_classes=3)
    path = save(tmp_path, resnet.state_dict())
    with pytest.raises(ValueError, match="missing keys"):
        load_classifier(ARCH, None, weights_path=path)


def test_malicious_checkpoint_is_rejected_not_executed(tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = save(tmp_path, {"weight": Evil(marker)})
    with pytest.raises(ValueError, match="not a plain state dict") as info:
        load_state_dict_file(path)
    assert str(path) in str(info.value)
    assert not marker.exists()

    control = tmp_path / "control"
    torch.load(save(tmp_path, Evil(control), "c.pt"), weights_only=False)
    assert control.exists()


def test_legacy_pickle_is_rejected_not_executed(tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "legacy.pkl"
    path.write_bytes(pickle.dumps(Evil(marker)))
    with pytest.raises(ValueError, match=str(path)):
        load_state_dict_file(path)
    assert not marker.exists()


def test_whole_module_is_rejected(tmp_path) -> None:
    path = save(tmp_path, torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"model.state_dict\(\)"):
        load_state_dict_file(path)


@pytest.mark.parametrize(
    "content, match",
    [
        ([torch.zeros(2)], "holds list"),
        ({}, "holds dict"),
        ({"weight": torch.zeros(2), "epoch": 3}, r"entries \['epoch'\]"),
        ({"state_dict": [1, 2]}, "not a plain state dict"),
    ],
)
def test_not_a_state_dict(tmp_path, content, match) -> None:
    with pytest.raises(ValueError, match=match):
        load_state_dict_file(save(tmp_path, content))


def test_corrupt_and_missing_checkpoints(tmp_path) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(ValueError, match="corrupt.pt"):
        load_state_dict_file(corrupt)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_state_dict_file(tmp_path / "missing.pt")
