"""The ``captum-contrastive`` command (also ``python -m captum_contrastive``).

``captum-contrastive run`` runs every study, as ``benchmarks/run_all.py`` does;
each registered study unit with a ``command`` adds a command that runs that
study alone (``recovery``, ``adversarial``, ``class``, ``localization``,
``sanity``, ``road``: :func:`study_commands`); ``captum-contrastive speed``
times the methods against Captum. Each takes ``--help`` (:func:`help_text`, from
which the documentation's command-line reference is generated).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "RUN",
    "StudyCommand",
    "command_names",
    "help_text",
    "main",
    "study_commands",
]


@dataclass(frozen=True)
class StudyCommand:
    """A command that runs studies.

    Attributes:
        name: the subcommand.
        studies: the studies it runs; ``None``: every registered study
            (``--studies`` narrows them).
        description: its line in the usage and its ``--help``.
        default_out: its output folder when ``--out`` is not given.
    """

    name: str
    studies: tuple[str, ...] | None
    description: str
    default_out: str


#: The command that runs every study.
RUN = StudyCommand(
    "run",
    None,
    "Run every study of the paper and write report.md.",
    "results/benchmark",
)


def study_commands() -> dict[str, StudyCommand]:
    """:data:`RUN`, then each registered study unit's command, in registration
    order (:mod:`~captum_contrastive.pipeline.study_registry`)."""
    from captum_contrastive.pipeline.study_registry import registered_units

    commands = {RUN.name: RUN}
    for name, unit in registered_units().items():
        if unit.command:
            commands[unit.command] = StudyCommand(
                unit.command,
                (name,),
                unit.description,
                unit.default_out or f"results/{name}",
            )
    return commands


#: The ``speed`` command's line in the usage (it is not a study command).
SPEED = "Speed and peak memory against Captum."


def _usage() -> str:
    lines = ["usage: captum-contrastive COMMAND [options]", "", "commands:"]
    lines += [f"  {c.name:13s} {c.description}" for c in study_commands().values()]
    lines.append(f"  {'speed':13s} {SPEED}")
    lines.append("\n'captum-contrastive COMMAND --help' lists a command's options.")
    return "\n".join(lines)


def command_names() -> list[str]:
    """Every command, in the order of the usage."""
    return [*study_commands(), "speed"]


def help_text(command: str | None = None, width: int = 88) -> str:
    """What ``captum-contrastive [COMMAND] --help`` prints, ``width`` columns
    wide: the documentation's CLI reference is generated from it."""
    if command is None:
        return _usage() + "\n"
    commands = study_commands()
    if command == "speed":
        from captum_contrastive.profiling.cli import build_parser as speed_parser

        parser = speed_parser(f"captum-contrastive {command}")
    elif command in commands:
        from captum_contrastive.pipeline.cli import build_parser

        found = commands[command]
        parser = build_parser(
            found.description, found.default_out, f"captum-contrastive {command}"
        )
    else:
        raise ValueError(f"unknown command {command!r}; choose from {command_names()}")
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        return parser.format_help()
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``argv`` (default: ``sys.argv[1:]``) to a subcommand, after
    importing the plug-ins (:mod:`captum_contrastive.plugins`), whose studies
    are commands too."""
    from captum_contrastive.plugins import PluginError, load_plugins

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        load_plugins()
    except PluginError as error:
        print(f"captum-contrastive: {error}", file=sys.stderr)
        return 2
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "speed":
        from captum_contrastive.profiling import cli as speed_cli

        speed_cli.ensure_passive_omp_wait(["-m", "captum_contrastive", *argv])
        return speed_cli.main(rest, "captum-contrastive speed")
    commands = study_commands()
    if command not in commands:
        print(f"captum-contrastive: unknown command {command!r}\n", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    from captum_contrastive.pipeline.cli import main as run_studies

    found = commands[command]
    return run_studies(
        rest,
        found.studies,
        found.description,
        found.default_out,
        f"captum-contrastive {command}",
    )
