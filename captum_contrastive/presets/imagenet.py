"""The real-image preset: a torchvision ImageNet classifier and real images."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

from captum_contrastive.presets.base import ImageDataset, Preset
from captum_contrastive.presets.checkpoints import load_classifier, resolve_weights
from captum_contrastive.presets.image_folder import (
    CenterCropTransform,
    ImageFilesDataset,
    ImageFolderDataset,
    NoClassFoldersError,
    foolbox_imagenet_samples,
)

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "imagenet_preset"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_preset(
    model_name: str = "vgg16",
    weights: str | WeightsEnum | None = "IMAGENET1K_V1",
    weights_path: str | Path | None = None,
    data: str | Path | ImageDataset | None = None,
    device: str | torch.device = "cpu",
    *,
    labels_file: str | Path | None = None,
    num_classes: int | None = None,
    download: bool = True,
) -> Preset:
    """A torchvision classifier with real images, ready for attacks and maps.

    The images are preprocessed as the weights expect (for VGG16: resize 256,
    center crop 224) into ``[0, 1]``; ``mean``/``std`` normalization is left to
    :meth:`Preset.pixel_model` and to Foolbox's ``preprocessing``.

    Args:
        model_name: a torchvision classifier name, e.g. ``"vgg16"``,
            ``"resnet50"``.
        weights: torchvision weights (``"IMAGENET1K_V1"``, ``"DEFAULT"``, ...),
            taken from the torch hub cache or downloaded once; their meta data
            also gives the class names and preprocessing. Ignored for the
            parameters when ``weights_path`` is given.
        weights_path: a plain state dict for ``model_name`` (your own training);
            its class count is inferred unless ``num_classes`` is given.
        data: ``None`` for the 20 ImageNet samples shipped with Foolbox; a
            directory of class folders; a directory of images together with
            ``labels_file``; or any ``ImageDataset``.
        device: where to put the model.
        labels_file: labels for a flat image directory, see
            :func:`~captum_contrastive.presets.image_folder.read_label_file`.
        num_classes: the class count of a ``weights_path`` model.
        download: allow one download attempt of missing torchvision weights.

    Returns:
        The preset; ``preset.model`` is in eval mode and takes normalized images.

    Raises:
        WeightsUnavailableError: torchvision weights are neither cached nor
            downloadable; the message says where to put the file.
        ValueError: a bad checkpoint, data layout or label file, or a dataset
            with labels the model does not have.

    Examples::

        >>> preset = imagenet_preset()
        >>> preset = imagenet_preset("resnet50", "IMAGENET1K_V2", data="val/",
        ...                          labels_file="val_labels.txt")
        >>> preset = imagenet_preset("resnet18", None, weights_path="mine.pt",
        ...                          data="my_folders/")
    """
    member = None if weights is None else resolve_weights(model_name, weights)
    transform, mean, std = _preprocessing(member)
    dataset = _dataset(data, labels_file, transform)
    model = load_classifier(
        model_name,
        None if weights_path is not None else member,
        weights_path,
        num_classes=num_classes,
        device=device,
        download=download,
    )
    outputs = _num_outputs(model, transform.crop, device)
    class_names = _class_names(member, getattr(dataset, "classes", None), outputs)
    _check_labels(dataset, outputs)
    source = str(weights_path) if weights_path is not None else str(member)
    return Preset(
        name=f"imagenet-{model_name}",
        model=model,
        mean=mean,
        std=std,
        class_names=class_names,
        dataset=dataset,
        description=(
            f"torchvision {model_name} ({source}) on {len(dataset)} real images, "
            f"resized to {transform.resize} and center-cropped to {transform.crop}"
        ),
        extra={
            "model_name": model_name,
            "weights": None if member is None else str(member),
            "weights_path": None if weights_path is None else str(weights_path),
            "resize": transform.resize,
            "crop": transform.crop,
            "data": "foolbox samples" if data is None else str(data),
        },
    )


def _interpolation_name(transforms: object) -> str:
    """The resize filter of torchvision's preset transforms, by name."""
    mode = getattr(transforms, "interpolation", None)
    return "bilinear" if mode is None else str(getattr(mode, "value", mode))


def _preprocessing(
    weights: WeightsEnum | None,
) -> tuple[CenterCropTransform, tuple[float, float, float], tuple[float, float, float]]:
    if weights is None:
        return CenterCropTransform(), IMAGENET_MEAN, IMAGENET_STD
    preset = weights.transforms()
    transform = CenterCropTransform(
        resize=_first(getattr(preset, "resize_size", 256)),
        crop=_first(getattr(preset, "crop_size", 224)),
        interpolation=_interpolation_name(preset),
    )
    mean = tuple(getattr(preset, "mean", IMAGENET_MEAN))
    std = tuple(getattr(preset, "std", IMAGENET_STD))
    return transform, mean, std  # type: ignore[return-value]


def _first(size: int | list[int] | tuple[int, ...]) -> int:
    return int(size[0]) if isinstance(size, (list, tuple)) else int(size)


def _dataset(
    data: str | Path | ImageDataset | None,
    labels_file: str | Path | None,
    transform: CenterCropTransform,
) -> ImageDataset:
    if data is None:
        if labels_file is not None:
            raise ValueError("`labels_file` needs `data`, a directory of images")
        return foolbox_imagenet_samples(transform)
    if not isinstance(data, (str, Path)):
        return data
    if labels_file is not None:
        return ImageFilesDataset.from_label_file(data, labels_file, transform)
    try:
        return ImageFolderDataset(data, transform)
    except NoClassFoldersError:
        raise NoClassFoldersError(
            f"`data` {data} has no class subfolders: for a flat folder of images, "
            "give a label file (`labels_file`), one label per line in sorted file "
            "order or 'file label' lines"
        ) from None


def _num_outputs(model: nn.Module, size: int, device: str | torch.device) -> int:
    with torch.no_grad():
        return int(model(torch.zeros(1, 3, size, size, device=device)).shape[-1])


def _class_names(
    weights: WeightsEnum | None, folders: list[str] | None, outputs: int
) -> list[str]:
    categories = None if weights is None else weights.meta.get("categories")
    if categories is not None and len(categories) == outputs:
        return list(categories)
    if folders is not None and len(folders) == outputs:
        return list(folders)
    return [f"class {i}" for i in range(outputs)]


def _check_labels(dataset: ImageDataset, outputs: int) -> None:
    classes = getattr(dataset, "num_classes", None)
    if classes is not None and classes != outputs:
        raise ValueError(
            f"the dataset has {classes} classes but the model has {outputs} "
            "outputs; use a model trained on these classes (weights_path=, "
            "num_classes=) or a matching dataset"
        )
    labels = getattr(dataset, "labels", None)
    if labels is not None and len(labels) and max(labels) >= outputs:
        raise ValueError(
            f"the dataset has label {max(labels)} but the model has only "
            f"{outputs} outputs (labels 0 to {outputs - 1})"
        )
