"""Whether two runs of the benchmark give the same results: their verdicts, and
their ``summary.csv`` numbers within a stated tolerance.

A CUDA run cannot give the CPU's numbers bit for bit: cuDNN chooses other
convolution algorithms (TF32 among them), sums in another order and uses atomic
additions in some backward passes, so every map differs in its last digits. The
attacks iterate (Carlini-Wagner for hundreds of steps), and their thresholded
decisions (success, the binary search over c) can turn those digits into a
different adversarial image for an image near a decision boundary. A difference
of that kind is one more source of per-image variation, like the choice of
images, so it is judged against the sampling uncertainty the numbers already
carry: each mean may move by at most a fraction of its CPU confidence
interval's half-width (default a quarter: one or two of 16 images changing),
or by a small absolute amount where the interval is empty. Counts ``n`` may
differ by one image where an attack's success flipped. Verdicts must be equal.

Two kinds of row may move by a whole half-width (``wide_ci_fraction``):

- a method that adds random noise (SmoothGrad) draws it from the generator of
  the input's device (Captum's ``NoiseTunnel``), so on a GPU its maps are another
  draw of the same estimator, not the CPU's maps rounded differently;
- a share of images with a yes/no outcome (the recovery study's
  ``accuracy@fraction``: is the prediction back to the true class?) counts
  Carlini-Wagner images that the attack left within rounding of the decision
  boundary (at kappa 0 by design), so rounding alone flips some of them: on one
  H200 against the CPU, 59 of 640 such rows moved by more than a quarter
  half-width (at most 4 of 80 images), while the median row of the run moved by
  0.0003 of its allowed difference.

A device bug (a tensor on the wrong device, another normalisation, a missing
hook) moves whole studies, far beyond either allowance.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RowDifference",
    "SummaryComparison",
    "SummaryTolerance",
    "compare_runs",
    "read_summary",
    "verdicts_of",
]

RowKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class SummaryTolerance:
    """How far a row of one run may be from the reference run's.

    Attributes:
        ci_fraction: a mean may move by this share of the reference's 95% CI
            half-width.
        noisy_methods: methods whose noise is drawn on the device.
        yes_no_measures: prefixes of the measures that are shares of images
            with a yes/no outcome.
        wide_ci_fraction: the share of the half-width for both kinds.
        absolute: ... or by this much, relative to ``max(1, |mean|)``, where
            the interval is narrower.
        n_slack: the counts may differ by this many images.
    """

    ci_fraction: float = 0.25
    absolute: float = 1e-4
    n_slack: int = 1
    noisy_methods: tuple[str, ...] = ()
    yes_no_measures: tuple[str, ...] = ("accuracy@",)
    wide_ci_fraction: float = 1.0

    def allowed(self, key: RowKey, reference: dict[str, float]) -> float:
        """The largest difference allowed from the ``reference`` row ``key``."""
        half_width = (reference["ci_high"] - reference["ci_low"]) / 2
        scale = max(1.0, abs(reference["mean"]))
        wide = key[2] in self.noisy_methods or key[3].startswith(self.yes_no_measures)
        fraction = self.wide_ci_fraction if wide else self.ci_fraction
        return max(fraction * half_width, self.absolute * scale)


@dataclass(frozen=True)
class RowDifference:
    """One ``summary.csv`` row of both runs: ``(study, attack, method,
    measure)``, both means and counts, and the difference allowed."""

    key: RowKey
    reference_mean: float
    mean: float
    reference_n: int
    n: int
    allowed: float

    @property
    def difference(self) -> float:
        return abs(self.mean - self.reference_mean)

    @property
    def share_of_allowed(self) -> float:
        return self.difference / self.allowed if self.allowed else float("inf")

    def within(self, tolerance: SummaryTolerance) -> bool:
        same_n = abs(self.n - self.reference_n) <= tolerance.n_slack
        close = self.difference <= self.allowed
        return same_n and (_same(self.mean, self.reference_mean) or close)


@dataclass
class SummaryComparison:
    """The comparison of a run with a reference run.

    Attributes:
        rows: every row both runs have.
        missing: rows only the reference has.
        extra: rows only the compared run has.
        verdicts: ``path: (reference, compared)`` for every verdict that differs.
        tolerance: the tolerance applied.
    """

    rows: list[RowDifference]
    missing: list[RowKey] = field(default_factory=list)
    extra: list[RowKey] = field(default_factory=list)
    verdicts: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    verdict_count: int = 0
    tolerance: SummaryTolerance = field(default_factory=SummaryTolerance)

    @property
    def outside(self) -> list[RowDifference]:
        return [row for row in self.rows if not row.within(self.tolerance)]

    @property
    def identical(self) -> bool:
        """Every mean and count equal, and the same rows and verdicts."""
        same = all(
            _same(r.mean, r.reference_mean) and r.n == r.reference_n for r in self.rows
        )
        return same and self.agrees

    @property
    def agrees(self) -> bool:
        return not (self.missing or self.extra or self.verdicts or self.outside)

    def lines(self) -> list[str]:
        """What a person reads: counts, the largest differences, what failed."""
        worst = max(self.rows, key=lambda r: r.share_of_allowed, default=None)
        lines = [
            f"{len(self.rows)} rows compared, {len(self.outside)} outside the "
            f"tolerance ({self.tolerance.ci_fraction:g} x CI half-width, or "
            f"{self.tolerance.absolute:g} x max(1, |mean|); n within "
            f"{self.tolerance.n_slack}); {self.verdict_count} verdicts, "
            f"{len(self.verdicts)} differ",
        ]
        if worst is not None:
            lines.append(
                f"largest difference: {'/'.join(worst.key)} "
                f"{worst.reference_mean:.6g} vs {worst.mean:.6g} "
                f"({worst.share_of_allowed:.2f} of allowed)"
            )
        lines += [
            f"outside: {'/'.join(r.key)} {r.reference_mean:.6g} (n {r.reference_n}) vs "
            f"{r.mean:.6g} (n {r.n}), allowed {r.allowed:.3g}"
            for r in self.outside[:10]
        ]
        lines += [f"missing row: {'/'.join(k)}" for k in self.missing[:10]]
        lines += [f"extra row: {'/'.join(k)}" for k in self.extra[:10]]
        lines += [f"verdict {p}: {a!r} vs {b!r}" for p, (a, b) in self.verdicts.items()]
        return lines


def _same(a: float, b: float) -> bool:
    """Equal, counting two NaNs (a measure undefined in both runs) as equal."""
    return a == b or (math.isnan(a) and math.isnan(b))


def read_summary(path: Path) -> dict[RowKey, dict[str, float]]:
    """The rows of a ``summary.csv``, by ``(study, attack, method, measure)``."""
    with open(path, newline="") as handle:
        return {
            (row["study"], row["attack"], row["method"], row["measure"]): {
                "mean": float(row["mean"]),
                "ci_low": float(row["ci_low"]),
                "ci_high": float(row["ci_high"]),
                "n": int(row["n"]),
            }
            for row in csv.DictReader(handle)
        }


def verdicts_of(results: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every verdict in a ``results.json`` tree: ``(path, verdict)`` for each
    string under a key named ``verdict``."""
    if isinstance(results, dict):
        for key, value in results.items():
            where = f"{path}/{key}"
            if key == "verdict" and isinstance(value, str):
                yield where, value
            else:
                yield from verdicts_of(value, where)
    elif isinstance(results, list):
        for index, value in enumerate(results):
            yield from verdicts_of(value, f"{path}[{index}]")


def compare_runs(
    reference: Path, compared: Path, tolerance: SummaryTolerance | None = None
) -> SummaryComparison:
    """Compare the run folder ``compared`` with ``reference``: ``summary.csv``
    row by row, and every verdict of ``results.json``.

    Examples::

        >>> comparison = compare_runs(Path("cpu_run"), Path("cuda_run"))
        >>> comparison.agrees, comparison.lines()[0]  # doctest: +SKIP
    """
    tolerance = tolerance or SummaryTolerance()
    expected = read_summary(reference / "summary.csv")
    found = read_summary(compared / "summary.csv")
    rows = [
        RowDifference(
            key,
            expected[key]["mean"],
            found[key]["mean"],
            int(expected[key]["n"]),
            int(found[key]["n"]),
            tolerance.allowed(key, expected[key]),
        )
        for key in expected
        if key in found
    ]
    verdicts_expected = dict(verdicts_of(_results(reference)))
    verdicts_found = dict(verdicts_of(_results(compared)))
    differing = {
        where: (verdicts_expected.get(where), verdicts_found.get(where))
        for where in sorted(set(verdicts_expected) | set(verdicts_found))
        if verdicts_expected.get(where) != verdicts_found.get(where)
    }
    return SummaryComparison(
        rows=rows,
        missing=[key for key in expected if key not in found],
        extra=[key for key in found if key not in expected],
        verdicts=differing,
        verdict_count=len(verdicts_expected),
        tolerance=tolerance,
    )


def _results(run: Path) -> Any:
    return json.loads((run / "results.json").read_text())
