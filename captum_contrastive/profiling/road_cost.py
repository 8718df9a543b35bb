"""What the ROAD study costs inside a real run, and whether two runs agree.

:func:`profile_road_study` runs the ``road`` command of the command line (the
pipeline's ROAD study on your model and images) inside
:func:`~captum_contrastive.metrics.road.record_road_costs`, so every imputation
and forward pass of the study is timed where it happens. With ``time_alone``
each stacked imputation call is followed by a single-image call of the same
solver on each of its images (same masks, same machine state), so the ratio
*in-study seconds per imputation / alone seconds per imputation* measures what
stacking costs. :func:`compare_road_results` compares the per-image ROAD records
of two runs' ``records.json`` (e.g. before and after a solver change).

Examples::

    python benchmarks/road_cost.py --model torchvision:mobilenet_v2 \\
        --weights mnv2.pt --data images/ --labels labels.txt --n-images 8 \\
        --road-images 8 --threads 1 --out /tmp/road_cost
    python benchmarks/road_cost.py --compare /tmp/before /tmp/road_cost
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from captum_contrastive.metrics.road import RoadProfile, record_road_costs

__all__ = [
    "RoadStudyCost",
    "calibrated_random_samples",
    "compare_road_results",
    "format_road_cost",
    "profile_road_study",
]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _calibrate(model: nn.Module, inputs: torch.Tensor) -> nn.Module:
    """Batch-norm statistics of ``inputs`` (and their mirror images), and the
    last linear layer scaled to logits of unit spread, without bias."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average
    model.train()
    with torch.no_grad():
        model(inputs)
        model(inputs.flip(-1))
    model.eval()
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        if last.bias is not None:
            last.bias.zero_()
        last.weight.div_(model(inputs).std())
    return model


def calibrated_random_samples(
    model_name: str, folder: str | Path, image_size: int = 224
) -> tuple[Path, Path, Path]:
    """The 20 Foolbox ImageNet samples, labelled by a random but responsive
    ``torchvision:<model_name>``.

    With torchvision's default initialisation MobileNetV2's logits differ by
    about ``1e-10`` between classes, so a ROAD prediction flips on rounding and
    two correct runs cannot be compared. Here the weights are random (seed 0),
    the batch-norm statistics are those of the samples and the classifier is
    scaled to logits of unit spread: the top-two margins are then ``1e-4`` to
    ``0.5``. Writes ``folder/images``, ``folder/weights.pt`` and
    ``folder/labels.txt`` (the model's predictions, so every image is correct).

    Args:
        model_name (str): a torchvision classifier with batch norm, e.g.
            ``"mobilenet_v2"``.
        folder (str or Path): where to write.
        image_size (int): the crop the run will use. Default: 224

    Returns:
        the image folder, the label file and the weights file.

    Examples::

        >>> images, labels, weights = calibrated_random_samples("mobilenet_v2", "s")
    """
    from captum_contrastive.presets.image_folder import foolbox_imagenet_samples
    from captum_contrastive.presets.user import image_transform
    from captum_contrastive.presets.user_model import ModelSpec

    folder = Path(folder)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    dataset = foolbox_imagenet_samples(image_transform(image_size))
    mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
    inputs = torch.stack([dataset[i].image for i in range(len(dataset.files))])
    inputs = (inputs - mean) / std
    torch.manual_seed(0)
    model = _calibrate(ModelSpec.parse(f"torchvision:{model_name}").build(), inputs)
    weights = folder / "weights.pt"
    torch.save(model.state_dict(), weights)
    with torch.no_grad():
        predictions = model(inputs).argmax(dim=1).tolist()
    lines = []
    for path, label in zip(dataset.files, predictions, strict=True):
        shutil.copy(path, images / path.name)
        lines.append(f"{path.name} {label}")
    labels = folder / "labels.txt"
    labels.write_text("\n".join(lines) + "\n")
    return images, labels, weights


@dataclass(frozen=True)
class RoadStudyCost:
    """The costs of one profiled ROAD run.

    Attributes:
        command_seconds: the whole command (selection, maps, ROAD, report),
            less the single-image timings.
        command_cpu_seconds: the process's CPU time in the command (all its
            threads), less the single-image timings: on a busy machine closer
            to the work done than the wall time.
        curve_seconds: the ROAD curves (imputations, forward passes, rankings,
            noise), less the single-image timings.
        profile: the raw counts and seconds
            (:class:`~captum_contrastive.metrics.road.RoadProfile`).
        exit_code: the command's exit code.
    """

    command_seconds: float
    command_cpu_seconds: float
    curve_seconds: float
    profile: RoadProfile
    exit_code: int

    def stacking_ratio(self) -> float:
        """In-study seconds per imputation over alone seconds per imputation."""
        return self.profile.per_imputation() / self.profile.per_alone_imputation()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the seconds, the ratio and the raw profile."""
        return {
            "command_seconds": self.command_seconds,
            "command_cpu_seconds": self.command_cpu_seconds,
            "curve_seconds": self.curve_seconds,
            "seconds_per_imputation_in_study": self.profile.per_imputation(),
            "seconds_per_imputation_alone": self.profile.per_alone_imputation(),
            "stacking_ratio": self.stacking_ratio(),
            "stacking_cpu_ratio": self.profile.cpu_ratio(),
            "seconds_per_forward_image": self.profile.per_forward_image(),
            "exit_code": self.exit_code,
            "profile": asdict(self.profile),
        }


def profile_road_study(argv: Sequence[str], time_alone: bool = True) -> RoadStudyCost:
    """Run ``captum-contrastive road ARGV`` with its ROAD costs recorded.

    Args:
        argv (sequence of str): the ``road`` command's arguments (model, data,
            ``--out``, ``--threads``, ...).
        time_alone (bool): also time every imputation alone, right after its
            stacked call. Default: True

    Returns:
        :class:`RoadStudyCost`.

    Examples::

        >>> cost = profile_road_study(["--out", "/tmp/road", "--threads", "1"])
        >>> cost.stacking_ratio()  # at most 1.5 is the goal
    """
    from captum_contrastive.cli import main

    with record_road_costs(time_alone=time_alone) as profile:
        start, cpu = time.perf_counter(), time.process_time()
        code = main(["road", *argv])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return RoadStudyCost(
        command_seconds=elapsed - profile.alone_seconds,
        command_cpu_seconds=cpu - profile.alone_cpu_seconds,
        curve_seconds=profile.curve_seconds,
        profile=profile,
        exit_code=int(code or 0),
    )


def format_road_cost(cost: RoadStudyCost) -> str:
    """A few lines of text: the seconds, per imputation and per forward image."""
    p = cost.profile
    lines = [
        f"ROAD curves: {cost.curve_seconds:.1f} s "
        f"(the command: {cost.command_seconds:.1f} s, "
        f"{cost.command_cpu_seconds:.1f} s of CPU)",
        f"imputations: {p.imputed_images} images in {p.imputation_calls} stacked "
        f"calls, {p.imputation_seconds:.1f} s, "
        f"{1000 * p.per_imputation():.1f} ms per image",
        f"forward passes: {p.forward_images} images in {p.forward_calls} passes, "
        f"{p.forward_seconds:.1f} s, {1000 * p.per_forward_image():.1f} ms per image",
    ]
    if p.alone_images:
        lines.append(
            f"same solver alone: {p.alone_images} single-image calls, "
            f"{1000 * p.per_alone_imputation():.1f} ms per image; in-study / alone "
            f"= {cost.stacking_ratio():.2f} (CPU time: {p.cpu_ratio():.2f})"
        )
    return "\n".join(lines)


def _road_records(path: str | Path) -> dict[str, Any]:
    """The ROAD study's per-image records of a run's ``records.json``."""
    return json.loads((Path(path) / "records.json").read_text())["road"]


def compare_road_results(first: str | Path, second: str | Path) -> dict[str, Any]:
    """Per-image agreement of the ROAD records of two runs' ``records.json``.

    Args:
        first (str or Path): an output folder with ``records.json``.
        second (str or Path): another, of the same images, rankings and orders.

    Returns:
        dict with ``curves`` (ranking and order pairs compared), ``predictions``
        (per-image, per-fraction predictions compared), ``different_predictions``,
        ``max_auc_difference`` and ``differences`` (the first few, as
        ``ranking/order/index/fraction``).

    Examples::

        >>> compare_road_results("/tmp/before", "/tmp/after")["different_predictions"]
        0
    """
    a, b = _road_records(first), _road_records(second)
    found: dict[str, Any] = {
        "curves": 0,
        "predictions": 0,
        "different_predictions": 0,
        "max_auc_difference": 0.0,
        "differences": [],
    }
    for name in a:
        for order in a[name]:
            found["curves"] += 1
            for left, right in zip(a[name][order], b[name][order], strict=True):
                found["max_auc_difference"] = max(
                    found["max_auc_difference"], abs(left["auc"] - right["auc"])
                )
                pairs = zip(left["predictions"], right["predictions"], strict=True)
                for column, (p, q) in enumerate(pairs):
                    found["predictions"] += 1
                    if p != q:
                        found["different_predictions"] += 1
                        if len(found["differences"]) < 10:
                            found["differences"].append(
                                f"{name}/{order}/{left['index']}/{column}"
                            )
    return found
