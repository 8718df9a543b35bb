"""How a setting is spelled on the command line: the schema the parser is built from.

A :class:`~captum_contrastive.pipeline.config.BenchmarkConfig` field that the
command line sets carries an :class:`Option` in its metadata (:func:`option`); the
parser (:func:`~captum_contrastive.pipeline.cli.build_parser`), the error messages
in the command line's words (:data:`~captum_contrastive.pipeline.cli.FIELD_OPTIONS`)
and the ``--config`` file's keys are all read from it. The switches that are not
config fields (``--config``, ``--shard``, ``--threads``...) are in :data:`CLI_ONLY`.

Examples::

    >>> from dataclasses import fields
    >>> from captum_contrastive.pipeline.config import BenchmarkConfig
    >>> spec = option_of(next(f for f in fields(BenchmarkConfig) if f.name == "seed"))
    >>> spec.flag
    '--seed'
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from captum_contrastive.pipeline.ranks import DEFAULT_TIMEOUT_S

__all__ = [
    "CLI_ONLY",
    "Option",
    "add_option",
    "floats",
    "integer_or",
    "memory",
    "names",
    "option",
    "option_of",
]

#: The metadata key of a field's :class:`Option`.
OPTION = "option"


def names(text: str) -> tuple[str, ...]:
    """``"a, b,"`` as ``("a", "b")``."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def floats(text: str) -> tuple[float, ...]:
    """``"0.1,0.2"`` as ``(0.1, 0.2)``."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not comma-separated numbers: {text!r}"
        ) from None


def integer_or(word: str) -> Callable[[str], int | str]:
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


def memory(text: str) -> float:
    """``"4G"`` or ``"3500M"`` in GiB
    (:func:`~captum_contrastive.pipeline.memory_plan.parse_memory`)."""
    from captum_contrastive.pipeline.memory_plan import parse_memory

    try:
        return parse_memory(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@dataclass(frozen=True)
class Option:
    """One command-line option.

    Attributes:
        flag: its spelling, e.g. ``"--n-images"``.
        help: the ``--help`` text; ``{default}`` is the field's default (numbers
            joined by commas), ``{choices}`` the names :attr:`listed` returns,
            ``{default_out}`` the command's output folder.
        type: parses the text (``int``, :func:`names`...); ``None``: a string.
        metavar: the value's name in ``--help``.
        choices: the values argparse accepts.
        listed: the names ``{choices}`` lists, read when the parser is built (a
            method registered later is listed too).
        action: an argparse action (``"append"``, ``"store_false"``...).
        dest: the parsed value's name, when it is not the flag's.
        parser_default: argparse's default (``None``: the option is left out
            of the settings when it is not given).
        to_value: turns the parsed value into the field's (``"all"`` -> ``None``).
        name: the name in the settings (CLI-only options; fields use theirs).
        in_file: a CLI-only option a ``--config`` file may also set.
        before: a CLI-only option's place in ``--help``: before this field's.
    """

    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: Sequence[str] | None = None
    listed: Callable[[], Sequence[str]] | None = None
    action: Any = None
    dest: str | None = None
    parser_default: Any = None
    to_value: Callable[[Any], Any] | None = None
    name: str | None = None
    in_file: bool = False
    before: str | None = None

    def argument_dest(self) -> str:
        """The attribute of the parsed namespace that holds the value."""
        return self.dest or self.flag.lstrip("-").replace("-", "_")

    def renames(self) -> bool:
        """Whether an error message naming the field names this option instead
        (``--no-progress`` does not name ``progress``)."""
        return self.action != "store_false"


def option(default: Any = dataclasses.MISSING, **spec: Any) -> Any:
    """A dataclass field with ``default`` (a callable ``default_factory=`` works
    too) that the command line sets as ``Option(**spec)``."""
    factory = spec.pop("default_factory", dataclasses.MISSING)
    return dataclasses.field(
        default=default, default_factory=factory, metadata={OPTION: Option(**spec)}
    )


def option_of(field: dataclasses.Field) -> Option | None:
    """The :class:`Option` of a config field, ``None`` if the command line does
    not set it."""
    return field.metadata.get(OPTION)


def _shown(default: Any) -> str:
    if isinstance(default, tuple):
        return ",".join(f"{v:.4g}" if isinstance(v, float) else v for v in default)
    return f"{default:g}" if isinstance(default, float) else str(default)


def add_option(
    parser: argparse.ArgumentParser,
    spec: Option,
    default: Any = None,
    default_out: str = "",
) -> None:
    """Add ``spec`` to ``parser``; ``default`` is the field's default (a CLI-only
    option's is its ``parser_default``)."""
    shown = spec.parser_default if default is None else default
    values = {"default": _shown(shown), "default_out": default_out}
    if spec.listed is not None:
        values["choices"] = ", ".join(spec.listed())
    settings = {
        "type": spec.type,
        "metavar": spec.metavar,
        "choices": spec.choices,
        "action": spec.action,
        "dest": spec.dest,
        "default": spec.parser_default,
    }
    settings = {k: v for k, v in settings.items() if v is not None or k == "default"}
    parser.add_argument(spec.flag, help=spec.help.format(**values), **settings)


#: The options that are not config fields, each with its place in ``--help``.
CLI_ONLY: tuple[Option, ...] = (
    Option(
        "--config",
        "a .toml (or a run's config.json) setting any option by its config "
        "field name; options given here win over the file",
        type=Path,
        before="out",
    ),
    Option(
        "--shard",
        "compute part I of N of the attacks and maps, without a process "
        "group (array jobs), and stop; then run the same command without "
        "--shard to merge and write the outputs",
        metavar="I/N",
        before="progress",
    ),
    Option(
        "--merge-only",
        "compute no attack or map: write the outputs from the cache, or "
        "name the missing work items and stop (exit status 3)",
        action="store_true",
        parser_default=False,
        before="progress",
    ),
    Option(
        "--report-out",
        "re-render the reports of the finished run in --out into DIR, "
        "reading --out's cache and writing nothing there (e.g. on read-only "
        "media); computes no attack or map",
        type=Path,
        metavar="DIR",
        before="progress",
    ),
    Option(
        "--dist-timeout",
        "under torchrun, how long a rank waits for the others before it "
        "fails (default: {default})",
        type=float,
        metavar="SECONDS",
        parser_default=DEFAULT_TIMEOUT_S,
        before="progress",
    ),
    Option(
        "--threads",
        "torch CPU threads (default 1: on small models more threads are "
        "slower, measured 14x slower with 2 on a 2-core machine)",
        type=int,
        name="threads",
        in_file=True,
        before="progress",
    ),
    Option(
        "--full",
        "more images and C&W steps (slower)",
        action="store_true",
        name="full",
        in_file=True,
        before="progress",
    ),
)
