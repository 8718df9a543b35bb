"""The protocol every study unit follows.

A unit declares its name, command and title, the attack runs and maps it needs
and anything it prepares besides them; it evaluates the run's per-image data into
a :class:`StudyResult`, and renders its own report section, figures,
``summary.csv`` rows and claim verdicts. Units are registered with
:func:`~captum_contrastive.pipeline.study_registry.register_unit`; the
orchestrator knows none of them by name.
"""

from __future__ import annotations

import dataclasses
import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from captum_contrastive.metrics.intervals import Interval
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.run_data import MapRequest, RunData
from captum_contrastive.pipeline.study_registry import UNITS, register_unit
from captum_contrastive.presets.base import Preset
from captum_contrastive.typed_json import from_json, to_json

__all__ = [
    "MapRequest",
    "ReportSection",
    "RunData",
    "StudyResult",
    "StudyUnit",
    "SummaryRow",
    "UNITS",
    "Verdict",
    "check_summary_type",
    "json_ready",
    "register_unit",
]


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain Python."""
    return json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


@dataclass(frozen=True)
class SummaryRow:
    """One row of ``summary.csv`` (a public format: names are never changed)."""

    study: str
    attack: str
    method: str
    measure: str
    interval: Interval | dict[str, Any]

    def to_csv(self) -> dict[str, Any]:
        interval = self.interval
        if isinstance(interval, Interval):
            interval = interval.to_json()
        return {
            "study": self.study,
            "attack": self.attack,
            "method": self.method,
            "measure": self.measure,
            "mean": interval.get("mean"),
            "ci_low": interval.get("ci_low"),
            "ci_high": interval.get("ci_high"),
            "n": interval.get("n"),
        }


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict, or why it was not evaluated.

    Attributes:
        number: the claim's number in the report.
        key: its key in ``results.json``'s ``verdicts``.
        claim: the claim in words.
        verdict: ``"holds"``, ``"does not hold"``, ``"inconclusive"`` or
            ``"not evaluated"``.
        details: the numbers that decide it (``why`` when not evaluated).
        text: the report paragraph after the verdict.
    """

    number: int
    key: str
    claim: str
    verdict: str
    details: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def not_evaluated(cls, number: int, key: str, claim: str, why: str) -> Verdict:
        return cls(number, key, claim, "not evaluated", {"why": why}, f"Why: {why}.")

    def markdown(self) -> str:
        """The verdict's paragraph in the report."""
        return f"**{self.number}. {self.claim}: {self.verdict}.** {self.text}\n"

    def to_json(self) -> dict[str, Any]:
        return {"claim": self.claim, "verdict": self.verdict, **self.details}


@dataclass
class StudyResult:
    """A unit's typed result.

    Attributes:
        study: the unit's name.
        key: digest of the study stage's key (its inputs and settings).
        summary: the unit's summary, an instance of its
            :attr:`StudyUnit.summary_type` (``None`` when nothing was evaluated);
            :meth:`to_json` writes it as plain JSON values, and the runner
            reads every result (fresh or cached) back through :meth:`from_json`,
            so a fresh result equals a cached one.
        records: JSON-ready per-image records (written to ``records.json``).
        skipped: parts not evaluated, with the reason.
    """

    study: str
    key: str
    summary: Any
    records: Any = None
    skipped: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "key": self.key,
            "summary": json_ready(to_json(self.summary)),
            "records": self.records,
            "skipped": self.skipped,
        }

    @classmethod
    def from_json(
        cls, values: dict[str, Any], summary_type: Any = dict[str, Any]
    ) -> StudyResult:
        """The result :meth:`to_json` wrote, its summary read into
        ``summary_type`` (a unit's :attr:`StudyUnit.summary_type`)."""
        summary = values["summary"]
        if summary is not None and summary != {}:
            summary = from_json(summary_type, summary, f"{values['study']} summary")
        return cls(**{**values, "summary": summary})


@dataclass
class ReportSection:
    """What a unit contributes to the outputs."""

    markdown: str = ""
    figures: dict[str, list[Path]] = field(default_factory=dict)
    rows: list[SummaryRow] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)


class StudyUnit(ABC):
    """A study: what it is called, what it needs, how it evaluates, how it
    reports.

    A unit declares everything the orchestrator, the command line and the
    report need to know about it; nothing outside the unit names it.

    Args:
        config (BenchmarkConfig): the run's configuration.
    """

    #: The study's name: in ``--studies``, ``results.json``, ``records.json``
    #: and the ``study`` column of ``summary.csv``.
    name: ClassVar[str]
    #: Its own subcommand of ``captum-contrastive`` (``None``: none; it runs
    #: with ``run``; not ``run`` or ``speed``), which ``--studies`` also
    #: accepts for the study; the command's one-line description and default
    #: output folder (empty: ``results/<name>``).
    command: ClassVar[str | None] = None
    description: ClassVar[str] = ""
    default_out: ClassVar[str] = ""
    #: The heading of its section in ``report.html`` (default: :attr:`name`).
    title: ClassVar[str] = ""
    #: The name its stage key, stage-key entry and timing are stored under,
    #: when it is not :attr:`name` (a renamed study keeps its cache valid).
    stored_name: ClassVar[str | None] = None
    #: The type of :attr:`StudyResult.summary`: a dataclass, read back from the
    #: cache with :func:`~captum_contrastive.typed_json.from_json`.
    summary_type: ClassVar[Any] = dict[str, Any]
    #: Seconds the unit's evaluation took on the default shapes run (measured),
    #: for sharing the studies out over ``torchrun`` ranks.
    relative_cost: ClassVar[float] = 1.0

    def __init__(self, config: BenchmarkConfig) -> None:
        self.config = config

    @classmethod
    def stage_name(cls) -> str:
        """The name in the unit's stage key and in ``results.json``'s
        ``stage_keys`` and ``timings``: :attr:`stored_name`, else :attr:`name`."""
        return cls.stored_name or cls.name

    def check_config(self, chosen: frozenset[str]) -> None:
        """Refuse (``ValueError`` naming the fields) a config this study cannot
        run with, before any work. ``chosen``: the config fields the user set
        (on the command line or in a config file), as opposed to defaults.
        Default: every config is fine."""
        return None

    def runs_needed(self) -> list[str]:
        """The attack runs this unit needs."""
        return []

    def maps_needed(self, data: RunData) -> list[MapRequest]:
        """The maps this unit needs, given the attacks that ran."""
        return []

    def settings(self) -> dict[str, Any]:
        """The unit's own settings, part of its stage key."""
        return {}

    def prepare(self, data: RunData, preset: Preset | None) -> None:
        """Prepare what the unit needs besides the run's images, attacks and
        maps (called once every attack and map is there, before
        :meth:`evaluate`); the unit keeps what it prepared. ``preset``: the
        second data set given to
        :func:`~captum_contrastive.pipeline.runner.run_benchmark`
        (``multi_object_preset``), ``None`` when none was given. Default:
        nothing."""
        return None

    def stage_key_extra(self) -> Any:
        """What the unit's result depends on beyond its settings, the methods,
        the selection and its attacks and maps (what :meth:`prepare` chose);
        JSON-ready, part of its stage key. Default: ``None``."""
        return None

    def shard_work(self, shard: RunData, run: str | None) -> None:
        """Per-image work the unit can do on one shard as soon as its maps are
        there (cached, so :meth:`evaluate` finds it): called on the attack chain
        of ``run`` (``None``: the clean maps) of a split run. Default: none."""
        return None

    @abstractmethod
    def evaluate(self, data: RunData) -> StudyResult:
        """Evaluate the run's data."""

    @abstractmethod
    def render(self, result: StudyResult, out: Path) -> ReportSection:
        """The report section, summary rows and verdicts."""

    def figures(self, result: StudyResult, out: Path) -> dict[str, list[Path]]:
        """The unit's figures, drawn into ``out``: paths (PNG before PDF) by
        figure group. Default: none."""
        return {}

    def terminal_columns(self, result: StudyResult) -> dict[str, dict[str, str]]:
        """Columns of the terminal's summary table: header -> method -> cell.
        Default: none."""
        return {}

    def protocol(self, result: StudyResult) -> Any:
        """The JSON-ready protocol of the study (its settings as run), for the
        report's protocol block. Default: none."""
        return None


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; ``|`` inside a cell (``"saliency |abs|"``) is escaped."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def percent(value: float | None) -> str:
    """``value`` as a percentage, ``n/a`` when missing."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.0%}"


def check_summary_type(unit: StudyUnit, result: StudyResult) -> None:
    """Refuse a typed summary from a unit that does not declare its type: the
    cache would read it back as a plain dict, and the unit's ``render`` would
    then fail on a later run only.

    Raises:
        TypeError: ``result.summary`` is a dataclass but ``unit.summary_type``
            is still the default ``dict[str, Any]``.
    """
    summary = result.summary
    if dataclasses.is_dataclass(summary) and unit.summary_type == dict[str, Any]:
        kind = type(summary).__name__
        raise TypeError(
            f"study unit {unit.name!r} returned a {kind} summary but declares no "
            f"summary_type: add `summary_type = {kind}` to {type(unit).__name__}"
        )
