"""Models and data that belong together: the offline shapes world and ImageNet.

It may import the foundation modules, the attribution layer and the measures
(``metrics``, ``attacks``); never a study or the pipeline.
"""

from captum_contrastive.presets.base import (
    ImageDataset,
    LabeledImage,
    Normalize,
    Preset,
)
from captum_contrastive.presets.checkpoints import (
    WeightsUnavailableError,
    load_classifier,
    load_state_dict_file,
)
from captum_contrastive.presets.image_folder import (
    ImageFilesDataset,
    ImageFolderDataset,
    ImageReadError,
    foolbox_imagenet_samples,
    read_label_file,
    read_label_sets,
)
from captum_contrastive.presets.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    imagenet_preset,
)
from captum_contrastive.presets.shapes import (
    SHAPE_CLASSES,
    MultiShapesDataset,
    ShapesDataset,
)
from captum_contrastive.presets.shapes_model import (
    ShapesVGG,
    load_shapes_model,
    shapes_preset,
)
from captum_contrastive.presets.shapes_training import train_shapes_model

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SHAPE_CLASSES",
    "ImageDataset",
    "ImageFilesDataset",
    "ImageFolderDataset",
    "ImageReadError",
    "LabeledImage",
    "MultiShapesDataset",
    "Normalize",
    "Preset",
    "ShapesDataset",
    "ShapesVGG",
    "WeightsUnavailableError",
    "foolbox_imagenet_samples",
    "imagenet_preset",
    "load_classifier",
    "load_shapes_model",
    "load_state_dict_file",
    "read_label_file",
    "read_label_sets",
    "shapes_preset",
    "train_shapes_model",
]
