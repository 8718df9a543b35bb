"""The command line shared by the scripts in ``benchmarks/``."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.distributed.elastic.multiprocessing.errors import record

from captum_contrastive.methods import LayerNotFoundError, registered_methods
from captum_contrastive.pipeline.cache import MissingShardError
from captum_contrastive.pipeline.config import ATTACK_FAMILIES, STUDIES, BenchmarkConfig
from captum_contrastive.pipeline.out_folder import (
    NoRoomError,
    OutFolderError,
    check_run_folder,
    check_writable,
    write_error,
)
from captum_contrastive.pipeline.ranks import (
    DEFAULT_TIMEOUT_S,
    Ranks,
    RanksError,
    joined_ranks,
)
from captum_contrastive.presets.checkpoints import WeightsUnavailableError

__all__ = [
    "build_parser",
    "config_from_args",
    "main",
    "option_error",
    "resolve_settings",
]


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not comma-separated numbers: {text!r}"
        ) from None


def _integer_or(word: str):
    """An argparse type: an integer, or ``word`` itself."""

    def parse(text: str) -> int | str:
        if text == word:
            return text
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not an integer or {word!r}: {text!r}"
            ) from None

    return parse


_image_size = _integer_or("native")
_depth = _integer_or("all")


def _memory(text: str) -> float:
    from captum_contrastive.pipeline.memory import parse_memory

    try:
        return parse_memory(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


#: The default of ``--bim-calibration-bounds``, as typed.
_BIM_BOUNDS = ",".join(f"{b:.4g}" for b in BenchmarkConfig.bim_calibration_bounds)


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
        help="--model or imagenet-vgg16: an ImageFolder directory, or an image "
        "directory with --labels; default: the 20 foolbox ImageNet samples",
    )
    parser.add_argument(
        "--labels",
        help="with a flat --data directory: the label file (one label per line in "
        "sorted file order, or 'file label' lines)",
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
    parser.add_argument(
        "--bim-epsilon",
        type=float,
        help="BIM's fixed L-infinity radius in pixel units (default 3/255, the "
        "paper's)",
    )
    parser.add_argument(
        "--bim-calibrate-failure",
        type=float,
        metavar="SHARE",
        help="instead of a fixed radius, calibrate BIM's per model so that this "
        "share of its attacks fails (e.g. 0.5), by bisection on the first "
        "--bim-calibration-images selected images; the chosen radius is recorded "
        "in results.json",
    )
    parser.add_argument(
        "--bim-calibration-images",
        type=int,
        metavar="K",
        help="images of the BIM calibration subset (default "
        f"{BenchmarkConfig.bim_calibration_images})",
    )
    parser.add_argument(
        "--bim-calibration-bounds",
        type=_floats,
        metavar="LOW,HIGH",
        help="the smallest and largest radius the BIM calibration tries "
        f"(default {_BIM_BOUNDS})",
    )
    parser.add_argument(
        "--studies",
        type=_names,
        help=f"comma-separated, from: {', '.join(STUDIES)} (default: every study "
        "of the command)",
    )
    parser.add_argument(
        "--sanity-images",
        type=int,
        help="clean images of the sanity checks (default "
        f"{BenchmarkConfig.sanity_images})",
    )
    parser.add_argument(
        "--sanity-depth",
        type=_depth,
        help="cascading randomisation steps before 'all', or 'all' for every layer "
        f"(default {BenchmarkConfig.sanity_depth})",
    )
    parser.add_argument(
        "--sanity-data-randomization",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also retrain the shapes model on permuted labels and compare its "
        "maps (data randomisation; shapes preset only; a few minutes, cached; on "
        "by default with --full)",
    )
    parser.add_argument(
        "--road-images",
        type=int,
        help=f"clean images of ROAD (default {BenchmarkConfig.road_images})",
    )
    parser.add_argument(
        "--max-memory",
        type=_memory,
        help="memory budget, e.g. 4G or 3500M (default 4G): every pass is split "
        "to fit, and the peak is in report.md",
    )
    parser.add_argument(
        "--attack-workers",
        type=int,
        help="attack shards computed at once in threads (default: one per CPU "
        "core, at most 4; the results do not depend on it)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="a .toml (or a run's config.json) setting any option by its config "
        "field name; options given here win over the file",
    )
    parser.add_argument("--out", type=Path, help=f"default: {default_out}")
    parser.add_argument("--seed", type=int, help="default: 0")
    parser.add_argument(
        "--sample-order",
        choices=["random", "index"],
        help="the order the first --n-images correctly classified images are "
        "taken in: random (default: seeded, class-balanced when labels are "
        "known) or index (dataset index order, as in earlier versions)",
    )
    parser.add_argument(
        "--device",
        help="cpu, cuda or cuda:N (default: cpu); under torchrun, cuda means "
        "cuda:LOCAL_RANK on each rank",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="compute part I of N of the attacks and maps, without a process "
        "group (array jobs), and stop; then run the same command without "
        "--shard to merge and write the outputs",
    )
    parser.add_argument(
        "--merge-only",
        action="store_true",
        help="compute no attack or map: write the outputs from the cache, or "
        "name the missing work units and stop (exit status 3)",
    )
    parser.add_argument(
        "--report-out",
        type=Path,
        metavar="DIR",
        help="re-render the reports of the finished run in --out into DIR, "
        "reading --out's cache and writing nothing there (e.g. on read-only "
        "media); computes no attack or map",
    )
    parser.add_argument(
        "--dist-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="under torchrun, how long a rank waits for the others before it "
        f"fails (default: {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default 1: on small models more threads are "
        "slower, measured 14x slower with 2 on a 2-core machine)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        default=None,
        help="more images and C&W steps (slower)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_false",
        dest="progress",
        default=None,
        help="hide the progress bars",
    )
    return parser


#: Config fields and the options that set them, for error messages.
FIELD_OPTIONS = {
    "preset": "--preset",
    "data": "--data",
    "labels_file": "--labels",
    "weights_path": "--weights",
    "weights": "--weights",
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
    "bim_epsilon": "--bim-epsilon",
    "bim_calibrate_failure": "--bim-calibrate-failure",
    "bim_calibration_images": "--bim-calibration-images",
    "bim_calibration_bounds": "--bim-calibration-bounds",
    "studies": "--studies",
    "sanity_images": "--sanity-images",
    "sanity_depth": "--sanity-depth",
    "sanity_data_randomization": "--sanity-data-randomization",
    "road_images": "--road-images",
    "attack_workers": "--attack-workers",
    "max_memory": "--max-memory",
    "seed": "--seed",
    "sample_order": "--sample-order",
    "device": "--device",
    "out": "--out",
    "threads": "--threads",
    "shard": "--shard",
}


def option_error(error: Exception) -> str:
    """The library's error message in the command line's words: each config
    field or argument, written ```name``` or ``name=``, named by its option."""
    message = str(error)
    for name, option in FIELD_OPTIONS.items():
        message = message.replace(f"`{name}`", f"`{option}`")
        message = re.sub(rf"\b{name}=(?=[\s,)]|$)", option, message)
    return message


def _option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line, by config field name."""
    values = {
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
        "seed": args.seed,
        "sample_order": args.sample_order,
        "device": args.device,
        "out": args.out,
        "progress": args.progress,
        "n_images": args.n_images,
        "image_size": args.image_size,
        "methods": args.methods,
        "attacks": args.attacks,
        "recovery_attacks": args.recovery_attacks,
        "extra_attacks": tuple(args.extra_attacks) if args.extra_attacks else None,
        "bim_epsilon": args.bim_epsilon,
        "bim_calibrate_failure": args.bim_calibrate_failure,
        "bim_calibration_images": args.bim_calibration_images,
        "bim_calibration_bounds": args.bim_calibration_bounds,
        "full": args.full,
        "threads": args.threads,
        "studies": args.studies,
        "sanity_images": args.sanity_images,
        "sanity_data_randomization": args.sanity_data_randomization,
        "road_images": args.road_images,
        "attack_workers": args.attack_workers,
        "max_memory": args.max_memory,
    }
    values = {k: v for k, v in values.items() if v is not None}
    if args.sanity_depth is not None:
        values["sanity_depth"] = (
            None if args.sanity_depth == "all" else args.sanity_depth
        )
    return values


def resolve_settings(
    args: argparse.Namespace, studies: Sequence[str], default_out: str
) -> dict[str, Any]:
    """Defaults, then ``--config``'s file, then the command line's options."""
    from captum_contrastive.pipeline.config_file import read_config_file

    values: dict[str, Any] = {"out": Path(default_out)}
    if args.config is not None:
        values.update(read_config_file(args.config))
    given = _option_values(args)
    values.update(given)
    if tuple(studies) != STUDIES:
        if "studies" in given and tuple(given["studies"]) != tuple(studies):
            raise ValueError(
                f"`studies` {','.join(given['studies'])} cannot be chosen here: this "
                f"command runs {','.join(studies)}; use `run --studies` instead"
            )
        values["studies"] = tuple(studies)
    values.setdefault("studies", tuple(studies))
    if values.get("preset", "shapes") != "shapes" or values.get("model") is not None:
        values.setdefault("n_images", 16)
    return values


def config_from_args(
    args: argparse.Namespace,
    studies: Sequence[str],
    default_out: str = "results/benchmark",
) -> tuple[BenchmarkConfig, int]:
    """The checked config and the thread count the command line asks for."""
    values = resolve_settings(args, studies, default_out)
    full, threads = values.pop("full", False), values.pop("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"`threads` must be at least 1, got {threads!r}")
    config = BenchmarkConfig.full(**values) if full else BenchmarkConfig(**values)
    _check_recovery_attacks(config, "recovery_attacks" in values)
    return config, threads


def _check_recovery_attacks(config: BenchmarkConfig, chosen: bool) -> None:
    """A recovery attack that ``attacks`` does not run is an error when it was
    chosen (``--recovery-attacks`` or the config file), or when the recovery
    study is all the command runs: the study would have no attack at all."""
    if "recovery" not in config.studies:
        return
    missing = [
        a
        for a in config.recovery_attacks
        if a in ATTACK_FAMILIES and a not in config.attacks
    ]
    only_study = tuple(config.studies) == ("recovery",) and not config.recovery_runs()
    if missing and (chosen or only_study):
        run = ",".join(config.attacks) or "none"
        these = "it" if len(missing) == 1 else "them"
        raise ValueError(
            f"`recovery_attacks` {','.join(missing)}: not among `attacks` ({run}); "
            f"add {these} to `attacks`, or choose `recovery_attacks` from {run}"
        )


#: Exit status of ``--merge-only`` when work units are missing.
EXIT_MISSING_UNITS = 3
#: Exit status of a run stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
#: Exit status of an error the user can fix (argparse's).
EXIT_USAGE = 2


def main(
    argv: Sequence[str] | None = None,
    studies: Sequence[str] = STUDIES,
    description: str = "Run the paper's evaluations.",
    default_out: str = "results/benchmark",
    prog: str | None = None,
) -> int:
    """Parse ``argv``, run the studies, write the outputs; returns an exit code.

    Under ``torchrun`` every rank runs this; rank 0 writes the outputs. A rank
    that raises ends with its error (recorded for ``torchrun``'s summary), and
    ``torchrun`` stops the others.
    """
    arguments = (argv, studies, description, default_out, prog)
    if "TORCHELASTIC_ERROR_FILE" in os.environ:
        return record(_main)(*arguments)
    return _main(*arguments)


def _main(
    argv: Sequence[str] | None,
    studies: Sequence[str],
    description: str,
    default_out: str,
    prog: str | None,
) -> int:
    parser = build_parser(description, default_out, prog)
    args = parser.parse_args(argv)
    try:
        config, threads = config_from_args(args, studies, default_out)
    except (TypeError, ValueError) as error:
        parser.error(option_error(error))
    if args.merge_only and args.shard is not None:
        parser.error("`--merge-only` merges the parts: leave out `--shard`")
    if args.dist_timeout <= 0:
        parser.error(f"`--dist-timeout` must be positive, got {args.dist_timeout}")
    if args.report_out is not None and args.shard is not None:
        parser.error("`--report-out` re-renders a finished run: leave out `--shard`")
    try:
        _check_folders(config.out, args.report_out)
    except OutFolderError as error:
        return _fail(parser, error)
    torch.set_num_threads(threads)
    try:
        with joined_ranks(args.shard, config.device, args.dist_timeout) as ranks:
            return _run(parser, config, ranks, args)
    except RanksError as error:
        parser.error(option_error(error))
    except KeyboardInterrupt:
        print(
            f"\n{parser.prog}: interrupted; run the same command again to resume "
            f"from the cache in {config.out / 'cache'}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except OSError as error:
        if (message := write_error(error)) is None:
            raise
        return _fail(parser, message)


def _fail(parser: argparse.ArgumentParser, error: Exception | str) -> int:
    """Print one line, the error in the command line's words; the usage status."""
    print(f"{parser.prog}: error: {option_error(error)}", file=sys.stderr)
    return EXIT_USAGE


def _check_folders(out: Path, report_out: Path | None) -> None:
    """The folder the outputs go to can be written; with ``--report-out``, ``out``
    holds a run (it need not be writable)."""
    if report_out is None:
        check_writable(out, "`--out`")
        return
    check_run_folder(out)
    check_writable(report_out, "`--report-out`")


def _run(
    parser: argparse.ArgumentParser,
    config: BenchmarkConfig,
    ranks: Ranks,
    args: argparse.Namespace,
) -> int:
    """One process's part of the run; the main process writes the outputs."""
    from captum_contrastive.pipeline.report import write_outputs
    from captum_contrastive.pipeline.runner import (
        MethodNotApplicableError,
        load_preset,
        run_benchmark,
    )
    from captum_contrastive.pipeline.shared_work import MissingWorkError
    from captum_contrastive.pipeline.stages import NotEnoughImagesError

    start = time.perf_counter()
    try:
        preset = load_preset(config)
    except (ValueError, OSError, WeightsUnavailableError) as error:
        parser.error(f"the model and data cannot be used: {option_error(error)}")
    try:
        run = run_benchmark(
            config,
            preset,
            ranks=ranks,
            merge_only=args.merge_only,
            write_cache=args.report_out is None,
        )
    except (
        LayerNotFoundError,
        NotEnoughImagesError,
        MethodNotApplicableError,
    ) as error:
        parser.error(option_error(error))
    except NoRoomError as error:
        return _fail(parser, error)
    except (MissingWorkError, MissingShardError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return EXIT_MISSING_UNITS
    if run.partial:
        print(_share_line(run, time.perf_counter() - start))
        return 0
    run.timings["total"] = time.perf_counter() - start
    paths = write_outputs(run, args.report_out)
    seconds = run.timings["total"]
    print(f"wrote {paths['report']} and {paths['html'].name} ({seconds:.0f} s)")
    return 0


def _share_line(run: Any, seconds: float) -> str:
    account = next(
        (a for a in run.rank_accounts if a.get("rank") == run.ranks.rank), {}
    )
    done = f"{account.get('units', 0)} work units"
    if run.ranks.mode == "shard":
        return (
            f"{run.ranks.describe()}: {done} computed in {seconds:.0f} s; run "
            "without --shard to merge once every part is done"
        )
    return f"{run.ranks.describe()}: {done} computed in {seconds:.0f} s"
