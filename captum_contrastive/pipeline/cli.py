"""The command line shared by the scripts in ``benchmarks/``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from captum_contrastive.methods import LayerNotFoundError, registered_methods
from captum_contrastive.pipeline.config import ATTACK_FAMILIES, STUDIES, BenchmarkConfig

__all__ = ["build_parser", "config_from_args", "main", "option_error"]


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not comma-separated numbers: {text!r}"
        ) from None


def _image_size(text: str) -> int | str:
    if text == "native":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an integer or 'native': {text!r}"
        ) from None


def build_parser(
    description: str, default_out: str, prog: str | None = None
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--preset",
        default="shapes",
        choices=["shapes", "imagenet-vgg16"],
        help="shapes: offline default; imagenet-vgg16: torchvision VGG16 with "
        "ImageNet weights (from the torch hub cache or --weights)",
    )
    parser.add_argument(
        "--data",
        help="imagenet-vgg16: ImageFolder directory, or an image directory with "
        "--labels; default: the 20 foolbox ImageNet samples",
    )
    parser.add_argument(
        "--labels",
        help="imagenet-vgg16 with a flat image directory: the label file (one label "
        "per line in sorted file order, or 'file label' lines)",
    )
    parser.add_argument(
        "--model",
        help="your classifier instead of a preset: torchvision:NAME, timm:NAME, "
        "path/to/file.py:factory or package.module:factory",
    )
    parser.add_argument(
        "--weights",
        help="a local state dict (.pt, .pth or .safetensors) for --model or the "
        "ImageNet preset; never downloaded",
    )
    parser.add_argument("--num-classes", type=int, help="--model's class count")
    parser.add_argument(
        "--mean",
        type=_floats,
        help="R,G,B normalization mean --model expects (default: ImageNet's; a "
        "model that normalizes inside: 0,0,0)",
    )
    parser.add_argument(
        "--std", type=_floats, help="R,G,B normalization std (inside: 1,1,1)"
    )
    parser.add_argument(
        "--image-size",
        type=_image_size,
        help="resize and centre crop to N (default 224), or 'native' for none",
    )
    parser.add_argument("--class-names", help="a file with one class name per line")
    parser.add_argument(
        "--cam-layer", help="the Grad-CAM layer's name (default: the last Conv2d)"
    )
    parser.add_argument("--n-images", type=int, help="correctly classified images")
    parser.add_argument(
        "--methods",
        type=_names,
        help=f"comma-separated, from: {', '.join(registered_methods())}",
    )
    parser.add_argument(
        "--attacks",
        type=_names,
        help=f"comma-separated, from: {', '.join(ATTACK_FAMILIES)}",
    )
    parser.add_argument(
        "--attack",
        action="append",
        dest="extra_attacks",
        metavar="NAME:SETTING=VALUE,...",
        help="one more attack run from the attack registry, e.g. "
        "'pgd_l2:epsilon=0.5,steps=20' (repeatable)",
    )
    parser.add_argument(
        "--recovery-attacks",
        type=_names,
        help="attacks that get the perturbation-recovery study (default: cw)",
    )
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on small models more threads are "
        "slower, measured 14x slower with 2 on a 2-core machine)",
    )
    parser.add_argument(
        "--full", action="store_true", help="more images and C&W steps (slower)"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the progress bars"
    )
    return parser


#: Config fields and the options that set them, for error messages.
FIELD_OPTIONS = {
    "preset": "--preset",
    "data": "--data",
    "labels_file": "--labels",
    "weights_path": "--weights",
    "model": "--model",
    "num_classes": "--num-classes",
    "mean": "--mean",
    "std": "--std",
    "image_size": "--image-size",
    "class_names_file": "--class-names",
    "cam_layer": "--cam-layer",
    "n_images": "--n-images",
    "methods": "--methods",
    "attacks": "--attacks",
    "recovery_attacks": "--recovery-attacks",
    "extra_attacks": "--attack",
    "seed": "--seed",
    "device": "--device",
    "out": "--out",
}


def option_error(error: ValueError) -> str:
    """The config's error message, with each field named by its option."""
    message = str(error)
    for name, option in FIELD_OPTIONS.items():
        message = message.replace(f"`{name}`", f"`{option}`")
    return message


def config_from_args(
    args: argparse.Namespace, studies: Sequence[str]
) -> BenchmarkConfig:
    overrides = {
        "preset": args.preset,
        "data": args.data,
        "labels_file": args.labels,
        "weights_path": args.weights,
        "model": args.model,
        "num_classes": args.num_classes,
        "mean": args.mean,
        "std": args.std,
        "class_names_file": args.class_names,
        "cam_layer": args.cam_layer,
        "studies": tuple(studies),
        "seed": args.seed,
        "device": args.device,
        "out": args.out,
        "progress": not args.no_progress,
    }
    optional = {
        "n_images": args.n_images,
        "image_size": args.image_size,
        "methods": args.methods,
        "attacks": args.attacks,
        "recovery_attacks": args.recovery_attacks,
        "extra_attacks": tuple(args.extra_attacks) if args.extra_attacks else None,
    }
    overrides.update({k: v for k, v in optional.items() if v is not None})
    if args.preset != "shapes" or args.model is not None:
        overrides.setdefault("n_images", min(overrides.get("n_images", 16), 16))
    return (
        BenchmarkConfig.full(**overrides) if args.full else BenchmarkConfig(**overrides)
    )


def main(
    argv: Sequence[str] | None = None,
    studies: Sequence[str] = STUDIES,
    description: str = "Run the paper's evaluations.",
    default_out: str = "results/benchmark",
    prog: str | None = None,
) -> int:
    """Parse ``argv``, run the studies, write the outputs; returns an exit code."""
    from captum_contrastive.pipeline.report import write_outputs
    from captum_contrastive.pipeline.runner import load_preset, run_benchmark

    parser = build_parser(description, default_out, prog)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    try:
        config = config_from_args(args, studies)
    except ValueError as error:
        parser.error(option_error(error))
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    try:
        preset = load_preset(config)
    except (ValueError, OSError) as error:
        parser.error(f"the model and data cannot be used: {option_error(error)}")
    try:
        run = run_benchmark(config, preset)
    except LayerNotFoundError as error:
        parser.error(option_error(error))
    run.timings["total"] = time.perf_counter() - start
    paths = write_outputs(run)
    print(f"wrote {paths['report']} ({run.timings['total']:.0f} s)")
    return 0
