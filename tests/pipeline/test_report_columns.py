"""The report's terminal table and protocol block come from the units: each
unit's terminal_columns and protocol, in unit order, none named by the report."""

import json
from pathlib import Path
from types import SimpleNamespace

from captum_contrastive.pipeline.report import (
    _protocol,
    study_columns,
    study_protocols,
    terminal_summary,
)
from captum_contrastive.pipeline.units.base import (
    ReportSection,
    StudyResult,
    StudyUnit,
    Verdict,
)


class _Toy(StudyUnit):
    """A study that declares two columns and a protocol from its summary."""

    name = "toy"

    def evaluate(self, data):  # noqa: ANN001, ANN201
        raise AssertionError("not evaluated here")

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        return ReportSection()

    def terminal_columns(self, result: StudyResult) -> dict[str, dict[str, str]]:
        scores = result.summary["scores"]
        return {
            "toy score": {m: f"{v:.2f}" for m, v in scores.items()},
            "toy rank": {m: str(i + 1) for i, m in enumerate(sorted(scores))},
        }

    def protocol(self, result: StudyResult) -> dict:
        return {"steps": result.summary["steps"]}


class _Quiet(StudyUnit):
    """A study that declares neither (the defaults)."""

    name = "quiet"

    def evaluate(self, data):  # noqa: ANN001, ANN201
        raise AssertionError("not evaluated here")

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        return ReportSection()


def _run(*units: StudyUnit, summaries: dict) -> SimpleNamespace:
    results = {u.name: StudyResult(u.name, "", summaries.get(u.name)) for u in units}
    return SimpleNamespace(units=list(units), results=results)


def _later(name: str, column: str) -> StudyUnit:
    class Later(_Quiet):
        def terminal_columns(self, result: StudyResult) -> dict:
            return {column: {"a": "late", "extra": "x"}}

    Later.name = name
    return Later(None)


def test_columns_follow_the_units_and_missing_cells_read_na() -> None:
    run = _run(
        _Toy(None),
        _Quiet(None),
        _later("later", "later col"),
        summaries={"toy": {"scores": {"b": 0.5, "a": 0.25}, "steps": 3}},
    )
    columns = study_columns(run)
    assert list(columns) == ["toy score", "toy rank", "later col"]
    verdict = Verdict(2, "toy", "a toy claim", "holds")
    lines = terminal_summary(["a", "b", "c"], columns, [verdict]).splitlines()
    assert lines[0].split("  ")[0] == "method"
    assert [line.split()[0] for line in lines[1:5]] == ["a", "b", "c", "extra"]
    assert lines[1].split() == ["a", "0.25", "1", "late"]
    assert lines[3].split() == ["c", "n/a", "n/a", "n/a"]
    assert lines[4].split() == ["extra", "n/a", "n/a", "x"]
    assert lines[5] == "claim 2 (toy): holds"
    for header in ("toy score", "toy rank", "later col"):  # aligned columns
        at = lines[0].index(header)
        assert all(row[at - 2 : at] == "  " and row[at] != " " for row in lines[1:5])


def test_protocol_block_has_the_run_info_then_each_units_protocol() -> None:
    run = _run(_Quiet(None), _Toy(None), summaries={"toy": {"scores": {}, "steps": 7}})
    assert study_protocols(run) == {"quiet": None, "toy": {"steps": 7}}
    info = {"config": {"seed": 0}, "methods": {"a": {}}, "model": "m", "data": "d"}
    block = _protocol(run, {"run": {**info, "indices": [1, 2]}})
    parsed = json.loads(block.removeprefix("```json\n").removesuffix("\n```\n"))
    assert list(parsed) == ["config", "methods", "model", "data", "quiet", "toy"]
    assert parsed["toy"] == {"steps": 7} and parsed["quiet"] is None
