"""A preset from your model and your images, as the command line describes them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import Tensor

from captum_contrastive.presets.base import Preset
from captum_contrastive.presets.image_folder import CenterCropTransform, ImageReadError
from captum_contrastive.presets.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    _check_labels,
    _dataset,
)
from captum_contrastive.presets.user_model import ModelSpec, load_weights_file

__all__ = [
    "NativeSizeTransform",
    "RandomWeightsWarning",
    "image_transform",
    "user_preset",
]


class RandomWeightsWarning(UserWarning):
    """The model runs with random weights (no ``weights`` file was given)."""


@dataclass(frozen=True)
class NativeSizeTransform:
    """The image as it is, scaled to ``[0, 1]`` (no resize, no crop)."""

    def __call__(self, image: Image.Image) -> Tensor:
        return TF.to_tensor(image)


def image_transform(image_size: int | str) -> CenterCropTransform | NativeSizeTransform:
    """Torchvision-style resize and centre crop to ``image_size``, or ``"native"``.

    The shorter side is resized to ``round(image_size * 256 / 224)`` first, as in
    ImageNet evaluation (256 then 224).
    """
    if image_size == "native":
        return NativeSizeTransform()
    size = int(image_size)
    return CenterCropTransform(resize=round(size * 256 / 224), crop=size)


def _probe_image(dataset: object, image_size: int | str) -> Tensor:
    """An input of the data's shape, for counting the model's outputs (the first
    readable image when the size is native)."""
    if image_size != "native":
        return torch.zeros(1, 3, int(image_size), int(image_size))
    for index in range(len(dataset)):
        try:
            return dataset[index].image[None]
        except ImageReadError:
            continue
    raise ValueError("`data` has no readable image")


def _class_names(path: str | Path | None, dataset: object, outputs: int) -> list[str]:
    if path is not None:
        names = [line.strip() for line in Path(path).read_text().splitlines()]
        names = [name for name in names if name]
        if len(names) != outputs:
            raise ValueError(
                f"`class_names_file` {path} has {len(names)} names but the model "
                f"has {outputs} outputs"
            )
        return names
    folders = getattr(dataset, "classes", None)
    if folders is not None and len(folders) == outputs:
        return list(folders)
    return [f"class {i}" for i in range(outputs)]


#: How a model without a weights file is described: random, or trained weights
#: its factory loads itself.
RANDOM_WEIGHTS = "random weights"
FACTORY_WEIGHTS = "weights loaded by the factory"


def _parameters(model: torch.nn.Module) -> list[Tensor]:
    return [t.detach().cpu() for t in model.state_dict().values()]


def _weights_source(
    spec: ModelSpec,
    network: torch.nn.Module,
    weights: str | Path | None,
    num_classes: int | None,
) -> str:
    """Where the model's weights come from: the ``weights`` file; for a factory
    without one, the weights it loads itself when a second build under another
    seed has the same parameters; else random weights.

    The second build runs under :func:`torch.random.fork_rng`, so the global
    generator is left as it was.
    """
    if weights is not None:
        return str(weights)
    if spec.source not in ("file", "module"):
        return RANDOM_WEIGHTS
    first = _parameters(network)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed((torch.initial_seed() + 1) % 2**63)
        second = _parameters(spec.build(num_classes))
    same = bool(first) and len(first) == len(second)
    same = same and all(
        a.shape == b.shape and torch.equal(a, b)
        for a, b in zip(first, second, strict=True)
    )
    return FACTORY_WEIGHTS if same else RANDOM_WEIGHTS


def user_preset(
    model: str,
    weights: str | Path | None = None,
    data: str | Path | None = None,
    labels_file: str | Path | None = None,
    *,
    num_classes: int | None = None,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    image_size: int | str = 224,
    class_names_file: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> Preset:
    """Your classifier and your images, ready for attacks and maps.

    Args:
        model (str): ``torchvision:NAME``, ``timm:NAME``, ``file.py:factory`` or
            ``package.module:factory`` (see
            :mod:`~captum_contrastive.presets.user_model`).
        weights (str or Path, optional): a local ``.pt``/``.pth``/``.safetensors``
            state dict; without it the model has random weights (warned).
        data (str or Path, optional): an ImageFolder directory, or a flat
            directory with ``labels_file``; default: the 20 foolbox ImageNet
            samples.
        labels_file (str or Path, optional): labels of a flat directory.
        num_classes (int, optional): passed to the model builder.
        mean, std (tuple of 3 floats): the normalization the model expects; a
            model that normalizes inside passes ``(0, 0, 0)`` and ``(1, 1, 1)``.
        image_size (int or ``"native"``): resize and centre crop, or none.
        class_names_file (str or Path, optional): one class name per line.
        device (str or torch.device): where the model runs.

    Returns:
        :class:`~captum_contrastive.presets.base.Preset` named by ``model``.

    Examples::

        >>> preset = user_preset("torchvision:resnet18", "resnet18.pt", "val/")
    """
    spec = ModelSpec.parse(model)
    network = spec.build(num_classes)
    source = _weights_source(spec, network, weights, num_classes)
    if weights is not None:
        load_weights_file(network, weights, str(spec))
    elif source == RANDOM_WEIGHTS:
        warnings.warn(
            f"{spec} runs with random weights: pass a weights file (`--weights`) "
            "for a trained model",
            RandomWeightsWarning,
            stacklevel=2,
        )
    network = network.to(device).eval()
    dataset = _dataset(data, labels_file, image_transform(image_size))
    with torch.no_grad():
        probe = _probe_image(dataset, image_size).to(device)
        outputs = int(network(probe).shape[-1])
    _check_labels(dataset, outputs)
    return Preset(
        name=str(spec),
        model=network,
        mean=tuple(mean),
        std=tuple(std),
        class_names=_class_names(class_names_file, dataset, outputs),
        dataset=dataset,
        description=(
            f"{spec} ({source}) on {len(dataset)} images "
            f"from {data or 'the foolbox ImageNet samples'}, image size {image_size}"
        ),
        extra={
            "model": str(spec),
            "weights": None if weights is None else str(weights),
            "weights_source": source,
        },
    )
