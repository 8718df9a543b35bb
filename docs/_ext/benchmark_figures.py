"""``.. benchmark-figure::``: a benchmark PNG if it was generated, else a note.

The benchmark writes its figures with::

    python benchmarks/run_all.py --out docs/benchmark

(``make -C docs figures``). On a fresh clone they do not exist, and a plain
``.. figure::`` would make the ``-W`` build fail. This directive shows the figure
when the file is there and otherwise an admonition that names the file and the
command that makes it. Either way the file is recorded as a dependency of the page,
so the page is rebuilt as soon as the figure appears or changes.

Usage::

    .. benchmark-figure:: recovery_cw-k0.png

       Caption text (reStructuredText).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

FIGURES_COMMAND = "make -C docs figures"


class BenchmarkFigure(SphinxDirective):
    required_arguments = 1
    has_content = True
    option_spec = {"width": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        folder = self.config.benchmark_figures_dir.strip("/")
        relative = f"{folder}/{name}"
        self.env.note_dependency(relative)
        exists = (Path(self.env.srcdir) / relative).is_file()
        caption = [f"   {line}" if line else "" for line in self.content]
        if exists:
            lines = [
                f".. figure:: /{relative}",
                f"   :width: {self.options.get('width', '100%')}",
                f"   :alt: {name}",
                "",
                *caption,
            ]
        else:
            lines = [
                f".. admonition:: Figure not generated: ``{relative}``",
                "",
                *caption,
                "",
                f"   Run ``{FIGURES_COMMAND}`` (the shapes benchmark, CPU only) and "
                "rebuild to show it here.",
            ]
        container = nodes.container(classes=["benchmark-figure"])
        self.state.nested_parse(
            StringList(lines, source=self.get_source_info()[0]),
            self.content_offset,
            container,
        )
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("benchmark_figures_dir", "benchmark", "env")
    app.add_directive("benchmark-figure", BenchmarkFigure)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
