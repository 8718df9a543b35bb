import importlib
import sys

import torch
from PIL import Image

from captum_contrastive.fingerprint import (
    code_digest,
    dataset_identity,
    digest,
    model_fingerprint,
)
from captum_contrastive.presets.image_folder import ImageFilesDataset
from captum_contrastive.presets.shapes import MultiShapesDataset, ShapesDataset
from captum_contrastive.presets.shapes_model import ShapesVGG
from tests.fake_preset import fake_preset


def _shapes_model(**options) -> torch.nn.Module:
    torch.manual_seed(0)
    return ShapesVGG(**options).eval()


def test_model_fingerprint_follows_weights_and_architecture() -> None:
    base = model_fingerprint(_shapes_model())
    assert model_fingerprint(_shapes_model()) == base
    nudged = _shapes_model()
    with torch.no_grad():
        next(nudged.parameters())[0, 0, 0, 0] += 1e-6
    assert model_fingerprint(nudged)["weights"] != base["weights"]
    assert model_fingerprint(nudged)["architecture"] == base["architecture"]
    functional = model_fingerprint(_shapes_model(functional_relu=True))
    assert functional["architecture"] != base["architecture"]


def test_buffers_are_part_of_the_weights() -> None:
    model = _shapes_model()
    before = model_fingerprint(model)["weights"]
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean += 1.0
            break
    assert model_fingerprint(model)["weights"] != before


def test_shapes_identity_is_its_settings() -> None:
    base = digest(dataset_identity(ShapesDataset(50)))
    assert digest(dataset_identity(ShapesDataset(50))) == base
    for other in (
        ShapesDataset(51),
        ShapesDataset(50, seed=1),
        ShapesDataset(50, split="val"),
        MultiShapesDataset(50),
    ):
        assert digest(dataset_identity(other)) != base


def _write_images(folder, colours) -> list:
    folder.mkdir(exist_ok=True)
    paths = []
    for i, colour in enumerate(colours):
        path = folder / f"{i}.png"
        Image.new("RGB", (8, 8), colour).save(path)
        paths.append(path)
    return paths


def test_image_files_identity_follows_files_and_labels(tmp_path) -> None:
    paths = _write_images(tmp_path / "a", [(255, 0, 0), (0, 255, 0)])
    base = digest(dataset_identity(ImageFilesDataset(paths, [1, 2])))
    assert digest(dataset_identity(ImageFilesDataset(paths, [1, 3]))) != base
    Image.new("RGB", (9, 9), (0, 0, 255)).save(paths[0])
    assert digest(dataset_identity(ImageFilesDataset(paths, [1, 2]))) != base


def test_other_datasets_are_hashed_by_content() -> None:
    base = dataset_identity(fake_preset().dataset)
    assert dataset_identity(fake_preset().dataset) == base
    assert dataset_identity(fake_preset(image_seed=4).dataset) != base
    assert dataset_identity(fake_preset(wrong_labels=(0,)).dataset) != base


def test_code_digest_follows_the_source(tmp_path, monkeypatch) -> None:
    module_file = tmp_path / "probe_module.py"
    module_file.write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("probe_module")
    try:
        before = code_digest(module)
        module_file.write_text("VALUE = 2\n")
        assert code_digest(module) != before
    finally:
        sys.modules.pop("probe_module", None)
