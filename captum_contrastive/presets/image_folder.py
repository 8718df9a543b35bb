"""Real images from disk, loaded lazily per index as :class:`LabeledImage`.

Three layouts:

* :class:`ImageFolderDataset`: one subfolder per class (torchvision's
  ``ImageFolder`` layout); labels are the positions of the sorted folder names.
* :meth:`ImageFilesDataset.from_label_file`: a flat directory of images plus a text
  file of labels (the ImageNet validation layout), see :func:`read_label_file`.
* :func:`foolbox_imagenet_samples`: the 20 real ImageNet images shipped inside
  Foolbox, a tiny built-in real set.
"""

from __future__ import annotations

import importlib.util
import operator
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from torch import Tensor

from captum_contrastive.presets.base import LabeledImage

__all__ = [
    "IMAGE_EXTENSIONS",
    "CenterCropTransform",
    "ImageFilesDataset",
    "ImageFolderDataset",
    "ImageReadError",
    "NoClassFoldersError",
    "foolbox_imagenet_samples",
    "load_image",
    "read_label_file",
    "read_label_sets",
]

IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".ppm",
    ".pgm",
    ".tif",
    ".tiff",
    ".webp",
)

Transform = Callable[[Image.Image], Tensor]


class ImageReadError(ValueError):
    """An image file is missing, unreadable or corrupt."""


class NoClassFoldersError(ValueError):
    """An ImageFolder root holds no class subfolders (a flat folder of images
    needs a label file)."""


@dataclass(frozen=True)
class CenterCropTransform:
    """Resize the shorter side, center crop, and scale to a ``[0, 1]`` tensor.

    The defaults are the standard ImageNet evaluation preprocessing (resize 256,
    crop 224, bilinear). No mean/std normalization: that belongs to the model
    (``Preset.pixel_model``) or to Foolbox's ``preprocessing``.

    Args:
        resize: length of the shorter side after resizing.
        crop: side of the square center crop.
        interpolation: resampling filter of the resize, a
            ``torchvision.transforms.InterpolationMode`` value (``"bilinear"``).

    Examples::

        >>> CenterCropTransform()(Image.new("RGB", (500, 375))).shape
        torch.Size([3, 224, 224])
    """

    resize: int = 256
    crop: int = 224
    interpolation: str = "bilinear"

    def __call__(self, image: Image.Image) -> Tensor:
        # torchvision is imported here: it takes a second to import, which a
        # run that reads no image file need not pay.
        import torchvision.transforms.functional as TF
        from torchvision.transforms import InterpolationMode

        mode = InterpolationMode(self.interpolation)
        image = TF.resize(image, self.resize, interpolation=mode)
        return TF.to_tensor(TF.center_crop(image, self.crop))


def load_image(path: str | Path, transform: Transform | None = None) -> Tensor:
    """Read one image file as a ``(3, H, W)`` tensor in ``[0, 1]``.

    Grayscale, palette, RGBA and CMYK images are converted to RGB.

    Args:
        path: the image file.
        transform: applied to the RGB PIL image; default
            :class:`CenterCropTransform`.

    Returns:
        The image tensor.

    Raises:
        ImageReadError: the file is missing, unreadable or corrupt; the message
            names it.

    Examples::

        >>> load_image("cat.jpg").shape
        torch.Size([3, 224, 224])
    """
    transform = transform or CenterCropTransform()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                rgb = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as e:
        raise ImageReadError(
            f"cannot read image file {path}: {type(e).__name__}: {e}"
        ) from None
    return transform(rgb)


class ImageFilesDataset:
    """Image files with one label each, loaded lazily per index.

    Implements the ``ImageDataset`` protocol: ``len(dataset)`` and
    ``dataset[i] -> LabeledImage``.

    Args:
        files: the image files, in index order.
        labels: one class index per file.
        transform: PIL image to ``[0, 1]`` tensor; default
            :class:`CenterCropTransform` (ImageNet's resize 256, crop 224).
        classes: optional class names, indexed by label.
        label_sets: optional, every class present in each image (multi-label
            data), its first entry the file's ``labels`` entry; they feed the
            class-discriminativity study (``LabeledImage.labels``).

    Raises:
        ValueError: no files, not one non-negative integer label per file, or
            label sets that do not start with the file's label.

    Examples::

        >>> dataset = ImageFilesDataset(["a.jpg", "b.png"], [3, 7])
        >>> dataset[1].label
        7
    """

    def __init__(
        self,
        files: Sequence[str | Path],
        labels: Sequence[int],
        transform: Transform | None = None,
        classes: Sequence[str] | None = None,
        label_sets: Sequence[Sequence[int]] | None = None,
    ) -> None:
        if len(files) == 0:
            raise ValueError("no image files given")
        if len(labels) != len(files):
            raise ValueError(
                f"{len(labels)} labels for {len(files)} image files; need one each"
            )
        self.files = [Path(f) for f in files]
        self.labels = [_label(value, f"label {i}") for i, value in enumerate(labels)]
        self.transform = transform or CenterCropTransform()
        self.classes = None if classes is None else list(classes)
        self.label_sets = _label_sets(label_sets, self.labels)

    def multi_label_indices(self) -> list[int]:
        """The indices of images with two or more different labels."""
        if self.label_sets is None:
            return []
        return [i for i, found in enumerate(self.label_sets) if len(set(found)) >= 2]

    @classmethod
    def from_label_file(
        cls,
        image_dir: str | Path,
        label_file: str | Path,
        transform: Transform | None = None,
        classes: Sequence[str] | None = None,
    ) -> ImageFilesDataset:
        """The images of a flat directory, labelled by a text file.

        Args:
            image_dir: a directory of image files (not searched recursively).
            label_file: see :func:`read_label_sets` for the formats; lines with
                several labels make a multi-label dataset.
            transform: as in the constructor.
            classes: as in the constructor.

        Returns:
            The dataset, indexed in sorted file-name order.

        Examples::

            >>> val = ImageFilesDataset.from_label_file("val/", "val_labels.txt")
        """
        files = _image_files(Path(image_dir))
        sets = read_label_sets(label_file, [f.name for f in files])
        multi = any(len(found) > 1 for found in sets)
        return cls(
            files,
            [found[0] for found in sets],
            transform=transform,
            classes=classes,
            label_sets=sets if multi else None,
        )

    @property
    def num_classes(self) -> int | None:
        """The number of class names, when known."""
        return None if self.classes is None else len(self.classes)

    def __len__(self) -> int:
        return len(self.files)

    def identity(self) -> dict:
        """What the images are: each file's name, size and modification time,
        the labels and the transform (images are read only when used)."""
        files = []
        for path in self.files:
            stat = path.stat()
            files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
        identity = {
            "files": files,
            "labels": list(self.labels),
            "transform": repr(self.transform),
        }
        if self.label_sets is not None:
            identity["label_sets"] = [list(found) for found in self.label_sets]
        return identity

    def __getitem__(self, index: int) -> LabeledImage:
        i = operator.index(index)
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        label = self.labels[i]
        return LabeledImage(
            image=load_image(self.files[i], self.transform),
            label=label,
            labels=(label,) if self.label_sets is None else self.label_sets[i],
        )

    def verify(self) -> None:
        """Open every file once, up front, instead of failing mid-run.

        Raises:
            ImageReadError: naming every unreadable file.

        Examples::

            >>> dataset.verify()
        """
        bad = []
        for path in self.files:
            try:
                load_image(path, _identity)
            except ImageReadError as error:
                bad.append(str(error))
        if bad:
            raise ImageReadError(
                f"{len(bad)} of {len(self)} image files cannot be read:\n"
                + "\n".join(bad)
            )


class ImageFolderDataset(ImageFilesDataset):
    """torchvision's ``ImageFolder`` layout: ``root/<class>/**/<image>``.

    Labels are the positions of the class folders in sorted name order. For an
    ImageNet directory with WordNet-id folders (``n01440764``, ...) this is
    exactly torchvision's class order.

    Args:
        root: the directory of class folders.
        transform: PIL image to ``[0, 1]`` tensor; default
            :class:`CenterCropTransform`.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        ValueError: ``root`` has no class folders, or a class folder holds no
            image files.

    Examples::

        >>> dataset = ImageFolderDataset("imagenet/val")
        >>> dataset.classes[:2]
        ['n01440764', 'n01443537']
    """

    def __init__(self, root: str | Path, transform: Transform | None = None) -> None:
        root = _directory(root)
        classes = sorted(d.name for d in root.iterdir() if d.is_dir())
        if not classes:
            raise NoClassFoldersError(
                f"{root} has no class subfolders; for a flat directory of images "
                "use ImageFilesDataset.from_label_file"
            )
        files: list[Path] = []
        labels: list[int] = []
        empty = []
        for label, name in enumerate(classes):
            found = _image_files_recursive(root / name)
            if not found:
                empty.append(name)
            files += found
            labels += [label] * len(found)
        if empty:
            raise ValueError(
                f"class folders without image files {IMAGE_EXTENSIONS} in {root}: "
                f"{empty[:10]}"
            )
        super().__init__(files, labels, transform=transform, classes=classes)
        self.root = root

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Folder name to label."""
        return {name: i for i, name in enumerate(self.classes or [])}


def read_label_file(path: str | Path, file_names: Sequence[str]) -> list[int]:
    """One label per image of ``file_names``: the first of each line's labels
    (see :func:`read_label_sets` for the formats).

    Examples::

        >>> read_label_file("labels.txt", ["a.jpg", "b.jpg"])
        [65, 970]
    """
    return [found[0] for found in read_label_sets(path, file_names)]


def read_label_sets(
    path: str | Path, file_names: Sequence[str]
) -> list[tuple[int, ...]]:
    """Labels for ``file_names`` from a text file, in either of two formats.

    * One integer label per line, in the sorted order of the image file names
      (the ImageNet validation convention).
    * ``<file name> <label> [<label> ...]`` per line, in any order, one line per
      image; several labels mark every class present in the image (multi-label
      data). The labels are the line's trailing integers; the rest of the line,
      with its words joined by single spaces, is the file name.

    Blank lines are ignored. Labels are class indices of the model (for
    torchvision ImageNet models: 0 to 999 in sorted WordNet-id order; the
    1-based ILSVRC ids of the devkit's ground-truth file must be converted first).

    Args:
        path: the label file.
        file_names: the image file names, in dataset order.

    Returns:
        One label per entry of ``file_names``.

    Raises:
        ValueError: a malformed line (named by number), mixed formats, or a
            label count that does not match the image count.

    Examples::

        >>> read_label_sets("labels.txt", ["a.jpg", "b.jpg"])
        [(65,), (970, 12)]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file {path} does not exist")
    lines = [
        (number, line.strip())
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.strip()
    ]
    if not lines:
        raise ValueError(f"label file {path} is empty")
    widths = {len(line.split()) for _, line in lines}
    if widths == {1}:
        labels = [(_label(line, f"{path}, line {n}"),) for n, line in lines]
        if len(labels) != len(file_names):
            raise ValueError(
                f"label file {path} has {len(labels)} labels but there are "
                f"{len(file_names)} images; need exactly one label per image"
            )
        return labels
    if any(width < 2 for width in widths):
        raise ValueError(
            f"label file {path} mixes lines with and without file names; use "
            "either one label per line or '<file name> <label>' on every line"
        )
    by_name: dict[str, tuple[int, ...]] = {}
    for n, line in lines:
        name, values = _name_and_labels(line)
        if not name:
            raise ValueError(
                f"label file {path}, line {n}: {line!r} has labels but no file name"
            )
        name = os.path.basename(name)
        if name in by_name:
            raise ValueError(f"label file {path}, line {n}: {name!r} listed twice")
        by_name[name] = tuple(_label(v, f"{path}, line {n}") for v in values)
    unlabelled = [f for f in file_names if f not in by_name]
    unknown = sorted(set(by_name) - set(file_names))
    if unlabelled or unknown:
        raise ValueError(
            f"label file {path} lists {len(by_name)} files for {len(file_names)} "
            f"images: images without a label {unlabelled[:5]}, labelled files not "
            f"found {unknown[:5]}"
        )
    return [by_name[f] for f in file_names]


def foolbox_imagenet_samples(transform: Transform | None = None) -> ImageFilesDataset:
    """The 20 real ImageNet images shipped with Foolbox (``foolbox/data``).

    The files are named ``imagenet_<index>_<label>.jpg``; they are indexed by
    ``<index>`` and labelled with torchvision's ImageNet class indices.

    Args:
        transform: default :class:`CenterCropTransform` (resize 256, crop 224).

    Returns:
        A 20-image dataset.

    Examples::

        >>> samples = foolbox_imagenet_samples()
        >>> len(samples), samples[0].label
        (20, 243)
    """
    spec = importlib.util.find_spec("foolbox")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("foolbox is not installed")
    data = Path(spec.origin).parent / "data"
    files = sorted(
        (p for p in data.glob("imagenet_*_*.*") if _is_image(p)),
        key=lambda p: int(p.stem.split("_")[1]),
    )
    if not files:
        raise FileNotFoundError(f"no ImageNet samples in {data}")
    labels = [int(p.stem.rsplit("_", 1)[1]) for p in files]
    return ImageFilesDataset(files, labels, transform=transform)


def _directory(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory")
    return path


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def _image_files(directory: Path) -> list[Path]:
    files = sorted(p for p in _directory(directory).iterdir() if _is_image(p))
    if not files:
        raise ValueError(f"{directory} has no image files {IMAGE_EXTENSIONS}")
    return files


def _image_files_recursive(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if _is_image(p))


def _name_and_labels(line: str) -> tuple[str, list[str]]:
    """Split ``<file name> <label> [<label> ...]``: the trailing integers are the
    labels (at least the last word), the words before them the name."""
    words = line.split()
    first = len(words) - 1
    while first > 1 and _is_integer(words[first - 1]):
        first -= 1
    return " ".join(words[:first]), words[first:]


def _is_integer(word: str) -> bool:
    return word.lstrip("-").isdigit()


def _label_sets(
    label_sets: Sequence[Sequence[int]] | None, labels: list[int]
) -> list[tuple[int, ...]] | None:
    if label_sets is None:
        return None
    if len(label_sets) != len(labels):
        raise ValueError(
            f"{len(label_sets)} label sets for {len(labels)} image files; need one each"
        )
    sets = []
    for i, (found, label) in enumerate(zip(label_sets, labels, strict=True)):
        values = tuple(_label(v, f"label set {i}") for v in found)
        if not values or values[0] != label:
            raise ValueError(
                f"label set {i} {values} must start with the file's label {label}"
            )
        sets.append(values)
    return sets


def _label(value: object, where: str) -> int:
    try:
        label = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        try:
            label = int(str(value))
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not an integer label") from None
    if label < 0:
        raise ValueError(f"{where}: label {label} is negative")
    return label


def _identity(image: Image.Image) -> Image.Image:
    return image
