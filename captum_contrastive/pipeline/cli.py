"""The command line of the study commands (``captum-contrastive run`` and one
command per study unit, :mod:`captum_contrastive.cli`)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

import torch
from torch.distributed.elastic.multiprocessing.errors import record

from captum_contrastive.methods import LayerNotFoundError
from captum_contrastive.pipeline.cache import MissingShardError
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.options import CLI_ONLY, Option, add_option, option_of
from captum_contrastive.pipeline.out_folder import (
    NoRoomError,
    OutFolderError,
    check_run_folder,
    check_writable,
    write_error,
)
from captum_contrastive.pipeline.ranks import (
    Ranks,
    RanksError,
    joined_ranks,
)
from captum_contrastive.pipeline.study_registry import (
    registered_units,
    resolve_studies,
)
from captum_contrastive.plugins import PluginError, load_plugins
from captum_contrastive.presets.checkpoints import WeightsUnavailableError

__all__ = [
    "build_parser",
    "config_from_args",
    "main",
    "option_error",
    "resolve_settings",
]


def _field_options() -> list[tuple[Field, Option]]:
    """The config fields the command line sets, with their options, in order."""
    found = [(f, option_of(f)) for f in fields(BenchmarkConfig)]
    return [(f, spec) for f, spec in found if spec is not None]


def _default(field: Field) -> Any:
    if field.default_factory is not MISSING:
        return field.default_factory()
    return field.default


def build_parser(
    description: str, default_out: str, prog: str | None = None
) -> argparse.ArgumentParser:
    """The parser of a study command: one option per config field that has one
    (:mod:`~captum_contrastive.pipeline.options`), in the fields' order, and the
    options of :data:`~captum_contrastive.pipeline.options.CLI_ONLY` in their
    places."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for field, spec in _field_options():
        for extra in (o for o in CLI_ONLY if o.before == field.name):
            add_option(parser, extra)
        add_option(parser, spec, _default(field), default_out)
    return parser


#: Config fields (and CLI-only settings) and the options that set them, for
#: error messages.
FIELD_OPTIONS: dict[str, str] = {
    **{f.name: spec.flag for f, spec in _field_options() if spec.renames()},
    "weights": "--weights",
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
    options = [(f.name, spec) for f, spec in _field_options()]
    options += [(spec.name, spec) for spec in CLI_ONLY if spec.in_file]
    values = {}
    for name, spec in options:
        value = getattr(args, spec.argument_dest())
        if value is not None:
            values[name] = value if spec.to_value is None else spec.to_value(value)
    return values


def resolve_settings(
    args: argparse.Namespace, studies: Sequence[str] | None, default_out: str
) -> dict[str, Any]:
    """Defaults, then ``--config``'s file, then the command line's options.

    ``studies``: the studies of the command (``None``: every study, which
    ``--studies`` may narrow); a command of some studies refuses other
    ``--studies``."""
    from captum_contrastive.pipeline.config_file import read_config_file

    values: dict[str, Any] = {"out": Path(default_out)}
    if args.config is not None:
        values.update(read_config_file(args.config))
    given = _option_values(args)
    values.update(given)
    if studies is not None:
        studies = resolve_studies(studies)
        if "studies" in given and resolve_studies(given["studies"]) != studies:
            raise ValueError(
                f"`studies` {','.join(given['studies'])} cannot be chosen here: this "
                f"command runs {','.join(studies)}; use `run --studies` instead"
            )
        values["studies"] = studies
    if values.get("preset", "shapes") != "shapes" or values.get("model") is not None:
        values.setdefault("n_images", 16)
    return values


def config_from_args(
    args: argparse.Namespace,
    studies: Sequence[str] | None = None,
    default_out: str = "results/benchmark",
) -> tuple[BenchmarkConfig, int]:
    """The checked config and the thread count the command line asks for; each
    study of the config then checks it (:meth:`StudyUnit.check_config
    <captum_contrastive.pipeline.units.base.StudyUnit.check_config>`) knowing
    which fields were chosen (``--config``'s file or an option)."""
    values = resolve_settings(args, studies, default_out)
    full, threads = values.pop("full", False), values.pop("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"`threads` must be at least 1, got {threads!r}")
    try:
        config = BenchmarkConfig.full(**values) if full else BenchmarkConfig(**values)
    except (TypeError, ValueError) as error:
        raise type(error)(_named_in_file(str(error), args)) from error
    chosen = frozenset(values) - {"out", "studies"}
    units = registered_units()
    for name in config.studies:
        units[name](config).check_config(chosen)
    return config, threads


def _named_in_file(message: str, args: argparse.Namespace) -> str:
    """``message`` with each field that ``--config``'s file set (and no option
    overrode) named as the file's key, so that the error points at the file
    rather than at an option the user did not type."""
    if args.config is None:
        return message
    from captum_contrastive.pipeline.config_file import read_config_file

    given = _option_values(args)
    for name in read_config_file(args.config):
        if name not in given:
            message = message.replace(f"`{name}`", f"{name} in {args.config}")
    return message


#: Exit status of ``--merge-only`` when work items are missing.
EXIT_MISSING_UNITS = 3
#: Exit status of a run stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
#: Exit status of an error the user can fix (argparse's).
EXIT_USAGE = 2


def main(
    argv: Sequence[str] | None = None,
    studies: Sequence[str] | None = None,
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
    studies: Sequence[str] | None,
    description: str,
    default_out: str,
    prog: str | None,
) -> int:
    try:
        load_plugins()  # their methods, attacks and studies are choices
    except PluginError as error:
        print(f"{prog or os.path.basename(sys.argv[0])}: {error}", file=sys.stderr)
        return 2
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
    done = f"{account.get('work_items', 0)} work items"
    if run.ranks.mode == "shard":
        return (
            f"{run.ranks.describe()}: {done} computed in {seconds:.0f} s; run "
            "without --shard to merge once every part is done"
        )
    return f"{run.ranks.describe()}: {done} computed in {seconds:.0f} s"
