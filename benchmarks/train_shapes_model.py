"""Retrain the shapes classifier from scratch (reproducible for a given seed).

The shipped weights were produced by::

    python benchmarks/train_shapes_model.py \
        --out captum_contrastive/presets/weights/shapes_vgg.pt
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from captum_contrastive.presets.shapes_model import DEFAULT_WIDTHS
from captum_contrastive.presets.shapes_training import train_shapes_model


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="state dict path (.pt)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batches-per-epoch", type=int, default=190)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--multi-fraction", type=float, default=0.4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--widths", type=int, nargs="+", default=list(DEFAULT_WIDTHS))
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--pooled-size", type=int, default=4)
    parser.add_argument(
        "--batch-norm", action=argparse.BooleanOptionalAction, default=True
    )
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--multi-test-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, train, and print the metrics.

    Args:
        argv: command-line arguments (``sys.argv[1:]`` when ``None``).

    Returns:
        The metrics returned by :func:`train_shapes_model`.
    """
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    metrics = train_shapes_model(
        args.out,
        seed=args.seed,
        epochs=args.epochs,
        batches_per_epoch=args.batches_per_epoch,
        batch_size=args.batch_size,
        multi_fraction=args.multi_fraction,
        lr=args.lr,
        weight_decay=args.weight_decay,
        widths=args.widths,
        hidden=args.hidden,
        dropout=args.dropout,
        pooled_size=args.pooled_size,
        batch_norm=args.batch_norm,
        test_size=args.test_size,
        multi_test_size=args.multi_test_size,
        num_threads=args.threads,
        progress=not args.no_progress,
        metadata={
            "command": shlex.join(["python", "benchmarks/train_shapes_model.py", *argv])
        },
    )
    summary = {k: v for k, v in metrics.items() if k != "history"}
    print(json.dumps(summary, indent=2))
    return metrics


if __name__ == "__main__":
    main()
