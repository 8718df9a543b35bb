"""The method table, generated from the registry: it cannot drift.

``.. method-table::``
    One row per registered method (:data:`captum_contrastive.methods.METHODS`):
    its key (the ``method`` column of ``summary.csv``), the label the report,
    the figures and the profiling show, whose implementation it is, its kind,
    its degenerate twin and whether the default run has it.
"""

from __future__ import annotations

import inspect
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _rows() -> list[list[str]]:
    from captum_contrastive.methods import DEFAULT_METHODS, METHODS

    rows = []
    for name, spec in METHODS.items():
        kind = ", ".join(k.name.lower() for k in type(spec.kind) if k in spec.kind)
        twin = f"``{spec.twin.describe()}``" if spec.twin else ""
        if spec.twin is not None and spec.twin.exact:
            twin += f"; exact: ``{spec.twin.exact}``"
        default = "yes" if name in DEFAULT_METHODS else ""
        rows.append(
            [f"``{name}``", spec.label, spec.owner, kind or "plain", twin, default]
        )
    return rows


def _list_table(rows: list[list[str]]) -> list[str]:
    header = ["key", "label", "implementation", "kind", "degenerate twin", "default"]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return lines


class MethodTable(SphinxDirective):
    """``.. method-table::``: every registered method, a row each."""

    def run(self) -> list[nodes.Node]:
        from captum_contrastive import methods

        source = inspect.getsourcefile(methods)
        if source:
            self.env.note_dependency(source)
        container = nodes.container()
        text = StringList(_list_table(_rows()), source="method-table")
        self.state.nested_parse(text, self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("method-table", MethodTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
