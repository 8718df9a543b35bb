"""The command line's help, generated from its parsers: it cannot drift.

``.. cli-help::`` [COMMAND]
    What ``captum-contrastive [COMMAND] --help`` prints, as a console block
    (:func:`captum_contrastive.cli.help_text`).

``.. cli-reference::``
    One section per command of :func:`captum_contrastive.cli.command_names`,
    each with its ``--help``; a new command appears without editing a page, and
    so does a new option: a study command's options are generated from the
    metadata of :class:`~captum_contrastive.pipeline.config.BenchmarkConfig`'s
    fields (:mod:`captum_contrastive.pipeline.options`).
"""

from __future__ import annotations

import inspect
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _note_sources(directive: SphinxDirective) -> None:
    """Rebuild the page when a parser changes (Sphinx watches the .rst only):
    the study commands' options are generated from the config's fields, the
    option schema, and the method and attack-family tables they list."""
    from captum_contrastive import cli, methods
    from captum_contrastive.pipeline import attack_families, config, options
    from captum_contrastive.pipeline import cli as pipeline_cli
    from captum_contrastive.profiling import cli as speed_cli

    sources = (cli, pipeline_cli, config, options, attack_families, methods)
    for module in (*sources, speed_cli):
        source = inspect.getsourcefile(module)
        if source:
            directive.env.note_dependency(source)


def _help_block(command: str | None) -> nodes.literal_block:
    from captum_contrastive.cli import help_text

    words = "captum-contrastive" + (f" {command}" if command else "")
    text = f"$ {words} --help\n{help_text(command)}".rstrip()
    block = nodes.literal_block(text, text)
    block["language"] = "console"
    return block


class CliHelp(SphinxDirective):
    """``.. cli-help:: [COMMAND]``: one command's ``--help``."""

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        _note_sources(self)
        return [_help_block(self.arguments[0] if self.arguments else None)]


class CliReference(SphinxDirective):
    """``.. cli-reference::``: every command's ``--help``, a section each."""

    def run(self) -> list[nodes.Node]:
        from captum_contrastive.cli import command_names

        _note_sources(self)
        found: list[nodes.Node] = []
        for command in command_names():
            name = f"cli-{command}"
            section = nodes.section(ids=[name], names=[name])
            title = f"captum-contrastive {command}"
            section += nodes.title(title, title)
            section += _help_block(command)
            self.state.document.note_explicit_target(section)
            found.append(section)
        return found


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("cli-help", CliHelp)
    app.add_directive("cli-reference", CliReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
