"""Speed and peak memory of Enhanced GBP, GuidedBackprop and contrastive IG.

Compares, on the same inputs and classes, our methods with their naive Captum
equivalents and with a plain-autograd floor (see
:mod:`captum_contrastive.profiling.variants`), prints a table of medians, ratios and
peak memory, and writes every raw time to a JSON file.

Examples::

    python benchmarks/speed.py                      # vgg16 (224², batch 8) + shapes
    python benchmarks/speed.py --quick              # smoke run, 2-3 minutes
    python benchmarks/speed.py --models vgg16 --internal-batch-size 4
    python benchmarks/speed.py --device cuda
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch

from captum_contrastive.atomic_files import atomic_write_json
from captum_contrastive.environment import environment_info
from captum_contrastive.profiling import (
    MODEL_PRESETS,
    format_results,
    load_benchmark_model,
    make_inputs,
    run_speed_benchmark,
)


def _positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The options of ``captum-contrastive speed`` (``benchmarks/speed.py``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        epilog=f"Per-model defaults of --batch, --size, --repeats, --variants: "
        f"{_presets_text()}.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_workload_options(parser)
    _add_method_options(parser)
    _add_measurement_options(parser)
    return parser


def _presets_text() -> str:
    """Each model preset's defaults, for the epilog of ``--help``."""
    return "; ".join(
        f"{name}: batch {p.batch}, size {p.size}, repeats {p.repeats} "
        f"(--quick: {p.quick_batch}, {p.quick_size}, {p.quick_repeats}), "
        f"variants {','.join(p.variants)}"
        for name, p in MODEL_PRESETS.items()
    )


def _add_workload_options(parser: argparse.ArgumentParser) -> None:
    """What is timed: device, models, batch, image size, repeats and variants."""
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where to compute"
    )
    parser.add_argument(
        "--models",
        default="vgg16,shapes",
        help=f"comma-separated, from {','.join(MODEL_PRESETS)}",
    )
    per_model = argparse.SUPPRESS  # the per-model default is in MODEL_PRESETS
    parser.add_argument(
        "--batch", type=_positive_int, default=per_model, help="batch size"
    )
    parser.add_argument(
        "--size", type=_positive_int, default=per_model, help="image side"
    )
    parser.add_argument(
        "--repeats", type=_positive_int, default=per_model, help="timed rounds"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small batches and images, few repeats"
    )
    parser.add_argument(
        "--variants",
        default=per_model,
        help="comma-separated variant names (vgg16 skips IG unless named here)",
    )


def _add_method_options(parser: argparse.ArgumentParser) -> None:
    """The methods' own settings: internal batch sizes and IG steps."""
    parser.add_argument(
        "--internal-batch-size",
        type=_positive_int,
        help="also time egbp/gbp with this internal_batch_size",
    )
    parser.add_argument(
        "--ig-steps",
        type=_positive_int,
        default=32,
        help="Integrated Gradients n_steps",
    )
    parser.add_argument(
        "--ig-internal-batch-size", type=_positive_int, help="None means 8 x batch"
    )


def _add_measurement_options(parser: argparse.ArgumentParser) -> None:
    """How it is measured: peak memory, sample time, threads, seed, output."""
    parser.add_argument(
        "--memory",
        choices=("auto", "subprocess", "inprocess", "off"),
        default="auto",
        help="peak memory: one fresh process per variant (CPU), in-process, or off",
    )
    parser.add_argument(
        "--min-sample-time",
        type=float,
        default=0.25,
        help="fast variants repeat back-to-back until a sample lasts this long",
    )
    parser.add_argument("--threads", type=_positive_int, help="torch.set_num_threads")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the inputs and the round order"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("results/speed"), help="folder of the JSON"
    )


def parse_args(
    argv: list[str] | None = None, prog: str | None = None
) -> argparse.Namespace:
    """The parsed options; a non-positive ``--batch`` (or size, repeats, steps)
    is refused with exit status 2."""
    return build_parser(prog).parse_args(argv)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    for name in ("batch", "size", "repeats", "variants"):
        setattr(args, name, getattr(args, name, None))
    warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: CUDA is not available", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_path = args.out / f"speed-{stamp}{'-quick' if args.quick else ''}.json"
    record: dict = {"environment": environment_info(args.device), "models": {}}
    record["environment"]["argv"] = ["benchmarks/speed.py", *(argv or sys.argv[1:])]
    record["environment"]["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY")
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        if name not in MODEL_PRESETS:
            print(f"unknown model {name!r}; choose from {list(MODEL_PRESETS)}")
            return 2
        record["models"][name] = benchmark_model(name, args)
        if "skipped" not in record["models"][name]:
            write_record(record, out_path)
    write_record(record, out_path)
    print(f"\nwrote {out_path}")
    return 0


def benchmark_model(name: str, args: argparse.Namespace) -> dict:
    """Run the benchmark on model ``name`` and print its table; returns the
    result, or ``{"skipped": reason}`` when the model is not available."""
    preset = MODEL_PRESETS[name]
    model, note = load_benchmark_model(name, seed=args.seed)
    if model is None:
        print(f"\n== {name}: {note}")
        return {"skipped": note}
    batch = args.batch or (preset.quick_batch if args.quick else preset.batch)
    size = args.size or (preset.quick_size if args.quick else preset.size)
    repeats = args.repeats or (preset.quick_repeats if args.quick else preset.repeats)
    variants = (
        [v.strip() for v in args.variants.split(",") if v.strip()]
        if args.variants
        else list(preset.variants)
    )
    inputs = make_inputs(name, batch, size, seed=args.seed)
    print(f"\n== {name} ({note}), batch {batch}, {size}x{size}", flush=True)
    started = time.perf_counter()
    result = run_speed_benchmark(
        model,
        inputs,
        variants=variants,
        repeats=repeats,
        device=args.device,
        internal_batch_size=args.internal_batch_size,
        ig_n_steps=args.ig_steps,
        ig_internal_batch_size=args.ig_internal_batch_size,
        memory=args.memory,
        min_sample_time=args.min_sample_time,
        progress=progress,
        seed=args.seed,
    )
    result["model"] = {"name": name, "note": note}
    result["wall_s"] = time.perf_counter() - started
    print(format_results(result), flush=True)
    print(f"({result['wall_s']:.0f} s)")
    return result


def progress(line: str) -> None:
    """Print a timestamped progress line to stderr."""
    print(f"  [{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def write_record(record: dict, path: Path) -> None:
    """Write the JSON record atomically (indented by 2, as before)."""
    atomic_write_json(path, record, indent=2)


def ensure_passive_omp_wait(argv: list[str]) -> None:
    """Re-run this process with ``OMP_WAIT_POLICY=PASSIVE`` unless it is set.

    On a machine shared with other busy processes, OpenMP threads that spin
    while waiting steal the cores the working threads need: a conv on a tiny
    batch took 100x longer (0.3 s instead of 3 ms) with 2 threads on 2
    oversubscribed cores. The policy must be set before torch loads its OpenMP
    runtime, so it is set here and the process starts again. Set
    OMP_WAIT_POLICY yourself to override; the value is recorded in the JSON.
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, *argv])


if __name__ == "__main__":
    sys.exit(main())
