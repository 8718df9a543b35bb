"""The ``captum-contrastive`` command (also ``python -m captum_contrastive``).

``captum-contrastive run`` runs every study, as ``benchmarks/run_all.py`` does;
``captum-contrastive recovery|adversarial|class|localization|sanity|road`` runs
one study;
``captum-contrastive speed`` times the methods against Captum. Each takes
``--help``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

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


def _usage() -> str:
    lines = ["usage: captum-contrastive COMMAND [options]", "", "commands:"]
    lines += [f"  {name:13s} {spec[1]}" for name, spec in COMMANDS.items()]
    lines.append(f"  {'speed':13s} Speed and peak memory against Captum.")
    lines.append("\n'captum-contrastive COMMAND --help' lists a command's options.")
    return "\n".join(lines)


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
        return speed_cli.main(rest)
    if command not in COMMANDS:
        print(f"captum-contrastive: unknown command {command!r}\n", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    from captum_contrastive.pipeline.cli import main as run_studies
    from captum_contrastive.pipeline.config import STUDIES

    studies, description, out = COMMANDS[command]
    studies = STUDIES if studies is None else studies
    return run_studies(rest, studies, description, out, f"captum-contrastive {command}")
