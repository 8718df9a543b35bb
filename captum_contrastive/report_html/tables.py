"""The page's number tables: ``summary.csv``'s rows per study, and the attacks.

Each cell carries the exact value ``summary.csv`` holds in ``data-value`` (the
text ``csv`` writes for it) and shows it rounded; the page sorts on
``data-value``, so sorting is numeric where the column is.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

__all__ = ["attacks_table", "csv_text", "summary_table"]

#: The columns of ``summary.csv``
#: (:data:`~captum_contrastive.pipeline.report.SUMMARY_COLUMNS`).
COLUMNS = ("study", "attack", "method", "measure", "mean", "ci_low", "ci_high", "n")
_NUMERIC = {"mean", "ci_low", "ci_high", "n"}


def csv_text(value: Any) -> str:
    """``value`` as :mod:`csv` writes it (``None`` is empty, a float its repr).

    Examples::

        >>> csv_text(0.1), csv_text(None), csv_text(6)
        ('0.1', '', '6')
    """
    return "" if value is None else str(value)


def _shown(value: Any) -> str:
    """A number rounded for reading (4 significant digits); text unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return csv_text(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def _cell(value: Any, numeric: bool) -> str:
    kind = ' class="num"' if numeric else ""
    exact = html.escape(csv_text(value))
    return f'<td{kind} data-value="{exact}">{html.escape(_shown(value))}</td>'


def _table(
    header: Iterable[str], rows: Iterable[list[Any]], numeric: set[str], attrs: str
) -> str:
    header = list(header)
    head = "".join(
        f'<th scope="col"{" class=num" if h in numeric else ""}>{html.escape(h)}</th>'
        for h in header
    )
    body = "\n".join(
        "<tr>"
        + "".join(_cell(v, h in numeric) for h, v in zip(header, row, strict=True))
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="table-wrap"><table class="sortable" {attrs}>'
        f"<thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>"
    )


def summary_table(study: str, rows: list[dict[str, Any]]) -> str:
    """One study's ``summary.csv`` rows (``SummaryRow.to_csv()`` dicts) as a
    sortable table (class ``summary-table``), in ``summary.csv``'s order."""
    values = [[row[c] for c in COLUMNS] for row in rows]
    attrs = f'data-study="{html.escape(study)}" data-summary="1"'
    return _table(COLUMNS, values, _NUMERIC, attrs).replace(
        'class="sortable"', 'class="sortable summary-table"', 1
    )


def attacks_table(attacks: dict[str, Any]) -> str:
    """The attack runs (``results.json``'s ``attacks``): size, success rate,
    median norms of the successful attacks and the parameters."""
    header = ["run", "n", "success rate", "median L2 (success)"]
    header += ["median L∞ (success)", "parameters"]
    rows = [
        [
            name,
            found["n"],
            found["success_rate"],
            found["median_l2_success"],
            found["median_linf_success"],
            ", ".join(
                f"{k}={v}"
                for k, v in found["params"].items()
                if k not in ("bounds", "foolbox_version")
            ),
        ]
        for name, found in attacks.items()
    ]
    numeric = set(header[1:5])
    return _table(header, rows, numeric, 'id="attacks-table"')
