"""Peak memory of whole benchmark runs on ImageNet-size models.

:func:`self_labelled_samples` writes the 20 Foolbox ImageNet samples into a
folder with a label file of a model's own predictions (random weights classify
nothing correctly otherwise). :func:`measure_run` runs the ``captum-contrastive``
command on it in a child process under ``/usr/bin/time -v`` and reads its peak
resident memory and wall time, so nothing of the parent process counts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from captum_contrastive.presets.image_folder import foolbox_imagenet_samples
from captum_contrastive.presets.user_model import ModelSpec

__all__ = ["RunMemory", "measure_run", "self_labelled_samples"]


def self_labelled_samples(
    model_name: str, folder: Path, image_size: int = 224
) -> tuple[Path, Path]:
    """Copy the Foolbox samples into ``folder/images``, save random weights of
    ``torchvision:<model_name>`` (seed 0) to ``folder/weights.pt`` and write
    ``folder/labels.txt`` with that model's predictions.

    Returns:
        the label file and the weights file.
    """
    from captum_contrastive.presets.user import image_transform

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    dataset = foolbox_imagenet_samples(image_transform(image_size))
    torch.manual_seed(0)
    model = ModelSpec.parse(f"torchvision:{model_name}").build().eval()
    weights = folder / "weights.pt"
    torch.save(model.state_dict(), weights)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    lines = []
    with torch.no_grad():
        for index, path in enumerate(dataset.files):
            image = dataset[index].image[None]
            label = int(model((image - mean) / std).argmax())
            shutil.copy(path, images / path.name)
            lines.append(f"{path.name} {label}")
    labels = folder / "labels.txt"
    labels.write_text("\n".join(lines) + "\n")
    return labels, weights


@dataclass(frozen=True)
class RunMemory:
    """One measured run: the command, its peak resident memory and wall time."""

    model: str
    n_images: int
    peak_rss_gib: float
    wall_seconds: float
    returncode: int
    command: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure_run(
    model_name: str,
    data: Path,
    labels: Path,
    weights: Path,
    n_images: int,
    out: Path,
    extra: list[str] | None = None,
) -> RunMemory:
    """Run ``captum-contrastive run`` on ``torchvision:<model_name>`` with random
    weights under ``/usr/bin/time -v``; its own peak RSS and wall time."""
    command = [
        sys.executable,
        "-m",
        "captum_contrastive",
        "run",
        "--model",
        f"torchvision:{model_name}",
        "--data",
        str(data),
        "--labels",
        str(labels),
        "--weights",
        str(weights),
        "--n-images",
        str(n_images),
        "--out",
        str(out),
        "--no-progress",
        *(extra or []),
    ]
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    peak = int(found.group(1)) / 2**20 if found else float("nan")
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
    return RunMemory(model_name, n_images, peak, wall, done.returncode, command)
