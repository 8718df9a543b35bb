"""``report.html``: a run's report as one offline page, with an image explorer.

Written by :func:`~captum_contrastive.pipeline.report.write_outputs` beside
``report.md``. One concept per module:

- :mod:`.explorer`: the explorer's cards, gathered from the run a shard at a
  time, with the bound past which it holds a seeded sample;
- :mod:`.encoding`: images, maps and perturbations as PNG ``data:`` URIs;
- :mod:`.tables`, :mod:`.verdicts`, :mod:`.markdown`: the tables, the verdict
  cards and the report's Markdown as HTML;
- :mod:`.page`: the page, with its style and script (``assets/``) inlined.

It is part of the report layer: it may import the pipeline's stage layer, the
studies and the foundation modules; only
:mod:`captum_contrastive.pipeline.report` imports it.
"""

from captum_contrastive.report_html.explorer import ExplorerBound, explorer_data
from captum_contrastive.report_html.page import (
    FILE_NAME,
    render_page,
    write_report_html,
)

__all__ = [
    "ExplorerBound",
    "FILE_NAME",
    "explorer_data",
    "render_page",
    "write_report_html",
]
