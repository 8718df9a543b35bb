"""Which saliency methods apply to which torchvision architectures.

Builds each model with random weights (nothing is downloaded), probes every
method on one seeded image with
:func:`captum_contrastive.applicability.applicability_table`, and prints a
Markdown table (ok / degenerate / fails, with footnoted reasons)::

    python benchmarks/architectures.py --out architectures.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torchvision  # noqa: E402

from captum_contrastive.applicability import (  # noqa: E402
    applicability_table,
    markdown_table,
)
from captum_contrastive.methods import DEFAULT_METHODS  # noqa: E402

MODELS = (
    "resnet18",
    "resnet50",
    "vgg16",
    "densenet121",
    "googlenet",
    "mobilenet_v2",
    "efficientnet_b0",
    "convnext_tiny",
    "vit_b_16",
)
METHODS = (*DEFAULT_METHODS, "guided_backprop_exact", "deconvolution_exact")


def perturb_biases(model: torch.nn.Module, seed: int, scale: float = 0.1) -> None:
    """Give every bias and batch-norm running mean small seeded random values.

    torchvision initialises biases to zero and batch norm to the identity; with a
    zero baseline, DeepLift then equals InputXGradient on any ReLU network (a
    property of the initialisation, not of the architecture). Trained models have
    non-zero biases, which this imitates.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if name.endswith(("bias", "running_mean")):
                noise = torch.randn(tensor.shape, generator=generator)
                tensor.add_(scale * noise.to(tensor.dtype))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--size", type=int, default=224, help="image side (224)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--keep-init",
        action="store_true",
        help="keep torchvision's initialisation (zero biases, identity batch norm)",
    )
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows = {}
    for name in args.models:
        start = time.perf_counter()
        torch.manual_seed(args.seed)
        kwargs = (
            {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        )
        model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
        if not args.keep_init:
            perturb_biases(model, args.seed)
        rows[name] = applicability_table(
            model, args.methods, (3, args.size, args.size), seed=args.seed
        )
        seconds = time.perf_counter() - start
        print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    table = markdown_table(rows)
    print(table)
    if args.out:
        with open(args.out, "w") as file:
            file.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
