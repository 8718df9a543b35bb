"""The study-unit protocol's checks."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from captum_contrastive.pipeline.units.base import (
    ReportSection,
    StudyResult,
    StudyUnit,
    check_summary_type,
)


@dataclass(frozen=True)
class _Summary:
    score: float


class _Undeclared(StudyUnit):
    name = "undeclared"

    def evaluate(self, data):  # noqa: ANN001, ANN201
        return StudyResult(self.name, "", _Summary(0.5))

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        return ReportSection()


class _Declared(_Undeclared):
    name = "declared"
    summary_type = _Summary


def test_a_typed_summary_needs_its_declared_type() -> None:
    with pytest.raises(TypeError, match="add `summary_type = _Summary` to _Undeclared"):
        check_summary_type(_Undeclared(None), _Undeclared(None).evaluate(None))
    check_summary_type(_Declared(None), _Declared(None).evaluate(None))
    check_summary_type(_Undeclared(None), StudyResult("undeclared", "", {"a": 1}))
