"""The ``captum-contrastive`` command (also ``python -m captum_contrastive``).

``captum-contrastive run`` runs every study, as ``benchmarks/run_all.py`` does;
``captum-contrastive recovery|adversarial|class|localization|sanity|road`` runs
one study;
``captum-contrastive speed`` times the methods against Captum. Each takes
``--help`` (:func:`help_text`, from which the documentation's command-line
reference is generated).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "command_names", "help_text", "main"]

#: Subcommand: (studies, description, default output folder); ``None``: every
#: study of :data:`~captum_contrastive.pipeline.config.STUDIES`.
COMMANDS: dict[str, tuple[tuple[str, ...] | None, str, str]] = {
    "run": (
        None,
        "Run every study of the paper and write report.md.",
        "results/benchmark",
    ),
    "recovery": (
        ("recovery",),
        "Perturbation recovery (paper Fig. 4) against Captum's methods.",
        "results/recovery",
    ),
    "adversarial": (
        ("adversarial",),
        "How each method's map changes from clean to adversarial images.",
        "results/adversarial",
    ),
    "class": (
        ("class",),
        "Class discriminativity on multi-object images (paper Fig. 1).",
        "results/class_discriminativity",
    ),
    "localization": (
        ("localization",),
        "Share of each map's positive mass on the object.",
        "results/localization",
    ),
    "sanity": (
        ("sanity",),
        "Sanity checks: model-parameter randomisation and RandomLogit.",
        "results/sanity",
    ),
    "road": (
        ("road",),
        "ROAD (remove and debias): MoRF and LeRF with noisy linear imputation.",
        "results/road",
    ),
}


#: The ``speed`` command's line in the usage (it is not a study command).
SPEED = "Speed and peak memory against Captum."


def _usage() -> str:
    lines = ["usage: captum-contrastive COMMAND [options]", "", "commands:"]
    lines += [f"  {name:13s} {spec[1]}" for name, spec in COMMANDS.items()]
    lines.append(f"  {'speed':13s} {SPEED}")
    lines.append("\n'captum-contrastive COMMAND --help' lists a command's options.")
    return "\n".join(lines)


def command_names() -> list[str]:
    """Every command, in the order of the usage."""
    return [*COMMANDS, "speed"]


def help_text(command: str | None = None, width: int = 88) -> str:
    """What ``captum-contrastive [COMMAND] --help`` prints, ``width`` columns
    wide: the documentation's CLI reference is generated from it."""
    if command is None:
        return _usage() + "\n"
    if command == "speed":
        from captum_contrastive.profiling.cli import build_parser as speed_parser

        parser = speed_parser(f"captum-contrastive {command}")
    elif command in COMMANDS:
        from captum_contrastive.pipeline.cli import build_parser

        _, description, out = COMMANDS[command]
        parser = build_parser(description, out, f"captum-contrastive {command}")
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
    """Dispatch ``argv`` (default: ``sys.argv[1:]``) to a subcommand."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "speed":
        from captum_contrastive.profiling import cli as speed_cli

        speed_cli.ensure_passive_omp_wait(["-m", "captum_contrastive", *argv])
        return speed_cli.main(rest, "captum-contrastive speed")
    if command not in COMMANDS:
        print(f"captum-contrastive: unknown command {command!r}\n", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    from captum_contrastive.pipeline.cli import main as run_studies
    from captum_contrastive.pipeline.config import STUDIES

    studies, description, out = COMMANDS[command]
    studies = STUDIES if studies is None else studies
    return run_studies(rest, studies, description, out, f"captum-contrastive {command}")
