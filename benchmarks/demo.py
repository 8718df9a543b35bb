"""Guided Backpropagation vs Enhanced Guided Backpropagation on real photos.

Uses torchvision's VGG16 with *random* weights (nothing is downloaded) and the
ImageNet sample photos that ship inside foolbox, and writes one PNG grid.

    python benchmarks/demo.py --out results/demo
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import foolbox as fb
import torch
import torchvision

from captum_contrastive import EnhancedGuidedBackprop, GuidedBackprop
from captum_contrastive.presets.base import Normalize
from captum_contrastive.presets.imagenet import IMAGENET_MEAN, IMAGENET_STD
from captum_contrastive.visualization import save_map_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/demo"))
    parser.add_argument("--n-images", type=int, default=4)
    parser.add_argument("--arch", default="vgg16")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    classifier = torchvision.models.get_model(args.arch, weights=None).eval()
    model = torch.nn.Sequential(Normalize(IMAGENET_MEAN, IMAGENET_STD), classifier)
    fmodel = fb.PyTorchModel(model.eval(), bounds=(0, 1), device="cpu")
    images, labels = fb.utils.samples(
        fmodel,
        dataset="imagenet",
        batchsize=args.n_images,
        data_format="channels_first",
    )
    start = time.perf_counter()
    predictions = model(images).argmax(dim=1)
    guided = GuidedBackprop(model).attribute(images, target=predictions)
    enhanced = EnhancedGuidedBackprop(model).attribute(images, target=predictions)
    seconds = time.perf_counter() - start
    path = save_map_grid(
        args.out / "guided_vs_enhanced.png",
        images,
        {"GuidedBP": guided, "Enhanced GuidedBP": enhanced},
        row_labels=[
            f"label {int(y)}, pred {int(p)}"
            for y, p in zip(labels, predictions, strict=True)
        ],
    )
    print(f"{args.arch} (random weights), {len(images)} foolbox ImageNet samples")
    print(f"attributions took {seconds:.1f} s; wrote {path}")


if __name__ == "__main__":
    main()
