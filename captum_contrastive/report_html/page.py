"""Assemble ``report.html``: one offline file beside ``report.md``.

The page holds the verdict cards, the run's figures, the number tables (the
rows of ``summary.csv``, sortable by any column) and the image explorer. Its
style and script (``assets/``, package data) and every picture are inlined; a
Content-Security-Policy allows nothing but the page's own inline code and
``data:`` images, so a browser makes no request at all when it opens the page,
from ``file://`` or elsewhere.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from captum_contrastive.atomic_files import atomic_write_text
from captum_contrastive.report_html.explorer import ExplorerBound, explorer_data
from captum_contrastive.report_html.markdown import inline, markdown_html
from captum_contrastive.report_html.tables import attacks_table, summary_table
from captum_contrastive.report_html.verdicts import claim_cards, sanity_cards

__all__ = ["FILE_NAME", "render_page", "study_title", "write_report_html"]

#: The page's file name, beside ``report.md``.
FILE_NAME = "report.html"
_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


def _asset(name: str) -> str:
    return (resources.files(__package__) / "assets" / name).read_text("utf-8")


def study_title(unit: Any) -> str:
    """The heading of a study unit's section: its ``title``, else its name."""
    return unit.title or unit.name


def study_anchor(unit_name: str) -> str:
    """The id of a study's section on the page."""
    return f"study-{unit_name}"


def _figure(name: str, path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode()
    label = html.escape(name)
    return (
        f'<figure id="figure-{html.escape(path.stem)}"><img alt="{label}" '
        f'src="data:image/png;base64,{encoded}"><figcaption>{label} '
        f"(<code>{html.escape(path.name)}</code>; PDF beside it)</figcaption></figure>"
    )


def _figures(figures: dict[str, list[Path]]) -> str:
    items = [
        _figure(name, path)
        for name, paths in figures.items()
        for path in paths
        if path.suffix == ".png" and path.exists()
    ]
    if not items:
        return '<p class="note">This run drew no figure.</p>'
    return '<div class="figures">' + "\n".join(items) + "</div>"


def _study_section(unit: Any, section: Any) -> str:
    unit_name = unit.name
    anchor = study_anchor(unit_name)
    title = study_title(unit)
    rows = [row.to_csv() for row in section.rows]
    parts = [f'<section class="study" id="{anchor}"><h3>{html.escape(title)}</h3>']
    if section.markdown:
        parts.append(markdown_html(section.markdown, heading_offset=2))
    if rows:
        table_id = f"numbers-{unit_name}"
        table = summary_table(unit_name, rows).replace(
            "<table ", f'<table id="{table_id}" ', 1
        )
        parts.append(
            f'<details class="numbers" id="{anchor}-numbers"><summary>Every number '
            f"of this study as in <code>summary.csv</code> ({len(rows)} rows)"
            f'</summary><input class="table-filter" type="search" '
            f'data-table="{table_id}" placeholder="filter rows, e.g. cw-k0 spearman" '
            f'aria-label="filter the rows of {html.escape(title)}">{table}</details>'
        )
    parts.append("</section>")
    return "\n".join(parts)


def _sample_note(sample: dict[str, Any], n_runs: int) -> str:
    shown, total = sample["shown"], sample["of"]
    cards = f"{shown * n_runs} cards: {shown} images × {n_runs} attack runs"
    if not sample["sampled"]:
        return f"All {total} selected images are shown ({cards})."
    return (
        f"<b>A sample:</b> this run selected {total} images, more than the "
        f"explorer holds (its pictures are bounded to {sample['bound_pixels']:,} "
        f"pixels, each at most {sample['max_side']} pixels a side), so it shows a "
        f"seeded random sample of {shown} of them (seed {sample['seed']}), "
        f"{cards}. Every number in the tables is over all {total} images."
    )


def _explorer(data: dict[str, Any]) -> str:
    if not data["cards"]:
        return (
            '<p class="note">No attack run of this run has maps (the adversarial '
            "study did not run), so there is nothing to explore.</p>"
        )
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f"""
<p class="note">{_sample_note(data["sample"], len(data["runs"]))} Each card: the
clean image, the adversarial image and the perturbation (amplified around grey);
every method's map of the clean image for the true class and of the adversarial
image for the adversarial class (positive part, each map scaled to its largest
value; the contrast class of the contrastive methods below it), and the image's
Spearman ρ between the two (low: the map changed).</p>
<p class="note keys">Keys: <kbd>j</kbd>/<kbd>k</kbd> (or <kbd>↓</kbd>/<kbd>↑</kbd> on a
card) next and previous card; each card's <b>#</b> is its permalink. Sort by a
method's ρ minus another's, ascending, for the images where the first changed most
and the second least.</p>
{_asset("explorer_controls.html")}
<noscript><p>The explorer needs JavaScript; the tables and figures do
not.</p></noscript>
<div class="cards"></div>
<script type="application/json" id="explorer-data">{blob}</script>"""


def render_page(
    run: Any,
    sections: Sequence[Any],
    verdicts: Sequence[Any],
    figures: dict[str, list[Path]],
    caveats: Sequence[str],
    results: dict[str, Any],
    bound: ExplorerBound | None = None,
) -> str:
    """The page's HTML.

    Args:
        run (BenchmarkRun): the finished run.
        sections: each unit's ``ReportSection``, aligned with ``run.units``.
        verdicts: the claims' verdicts.
        figures: the figures written, by name (the PNGs are embedded).
        caveats: the report's caveats.
        results (dict): the content of ``results.json``.
        bound (ExplorerBound, optional): what the explorer may hold.

    Returns:
        The page, one self-contained HTML document.
    """
    title = f"captum-contrastive benchmark: {run.preset.get('name', '')}"
    parts = [
        _verdicts_part(_claims(run, sections, verdicts), results),
        _explorer_part(explorer_data(run, bound)),
        _tables_part(run, sections, results),
        _figures_part(figures),
        _caveats_part(caveats, results),
        _footer(results),
    ]
    return f"""{_head(title)}
<body>
{_page_header(title, run.preset.get("description", ""))}
<main>
{chr(10).join(parts)}
</main>
<script>{_asset("report.js")}</script>
</body></html>
"""


def _claims(
    run: Any, sections: Sequence[Any], verdicts: Sequence[Any]
) -> list[tuple[Any, str, str]]:
    """Each verdict with the anchor and title of its study (else the tables')."""
    anchors = {}
    for unit, section in zip(run.units, sections, strict=True):
        for verdict in section.verdicts:
            anchors[verdict.key] = (
                study_anchor(unit.name),
                study_title(unit),
            )
    return [(v, *anchors.get(v.key, ("tables", "Tables"))) for v in verdicts]


def _head(title: str) -> str:
    """The doctype and ``<head>``: the security policy, title and inlined style."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_asset("report.css")}</style></head>"""


def _page_header(title: str, description: str) -> str:
    """The page's header: title, where the numbers are, the model and the menu."""
    model = f" Model and data: {html.escape(description)}." if description else ""
    return f"""<header class="page"><h1>{html.escape(title)}</h1>
<p class="note">Every number on this page was computed by this run; the same
numbers are in <code>report.md</code>, <code>results.json</code> and
<code>summary.csv</code> beside this file.{model}</p>
<nav class="sections"><a href="#verdicts">Verdicts</a><a href="#explorer">Image
explorer</a><a href="#tables">Tables</a><a href="#figures">Figures</a><a
href="#caveats">Caveats</a></nav></header>"""


def _verdicts_part(claims: list[tuple[Any, str, str]], results: dict[str, Any]) -> str:
    """The verdicts part: the claims' cards, then the sanity checks' if any."""
    sanity = sanity_cards(results.get("sanity", {}), study_anchor("sanity"))
    sanity_part = (
        f'<h3>Sanity checks</h3><div class="verdicts">{sanity}</div>' if sanity else ""
    )
    return f"""<section class="part" id="verdicts"><h2>Verdicts</h2>
<h3>The paper's claims</h3><div class="verdicts">{claim_cards(claims)}</div>
{sanity_part}
</section>"""


def _explorer_part(data: dict[str, Any]) -> str:
    """The image explorer's part of the page."""
    return f"""<section class="part" id="explorer"><h2>Image explorer</h2>
{_explorer(data)}</section>"""


def _tables_part(run: Any, sections: Sequence[Any], results: dict[str, Any]) -> str:
    """The tables part: the attacks' table, then each study's section."""
    studies = "\n".join(
        _study_section(unit, section)
        for unit, section in zip(run.units, sections, strict=True)
    )
    return f"""<section class="part" id="tables"><h2>Tables</h2>
<h3 id="attacks">Attacks</h3>{attacks_table(results["attacks"])}
{studies}</section>"""


def _figures_part(figures: dict[str, list[Path]]) -> str:
    """The figures part of the page."""
    figures_html = _figures(figures)
    return (
        f'<section class="part" id="figures"><h2>Figures</h2>{figures_html}</section>'
    )


def _caveats_part(caveats: Sequence[str], results: dict[str, Any]) -> str:
    """The caveats part: the report's caveats, then the skipped parts if any."""
    caveat_items = "".join(f"<li>{inline(c)}</li>" for c in caveats)
    skipped = results.get("skipped", {})
    skipped_html = (
        "<h3>Skipped</h3><ul>"
        + "".join(f"<li>{inline(f'{k}: {v}')}</li>" for k, v in skipped.items())
        + "</ul>"
        if skipped
        else ""
    )
    return f"""<section class="part" id="caveats"><h2>Caveats</h2>
<ul>{caveat_items}</ul>{skipped_html}</section>"""


def _footer(results: dict[str, Any]) -> str:
    """The footer: the versions of the run's libraries."""
    versions = ", ".join(f"{k} {v}" for k, v in results["run"]["versions"].items())
    return f'<footer class="note"><p>{html.escape(versions)}</p></footer>'


def write_report_html(
    run: Any,
    out: Path,
    sections: Sequence[Any],
    verdicts: Sequence[Any],
    figures: dict[str, list[Path]],
    caveats: Sequence[str],
    results: dict[str, Any],
    bound: ExplorerBound | None = None,
) -> Path:
    """Write ``report.html`` into ``out`` (atomically); arguments as for
    :func:`render_page`. Returns its path.

    Examples::

        >>> path = write_report_html(run, out, sections, verdicts, figures, [], results)
        >>> path.name
        'report.html'
    """
    page = render_page(run, sections, verdicts, figures, caveats, results, bound)
    return atomic_write_text(Path(out) / FILE_NAME, page)
