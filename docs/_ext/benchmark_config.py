"""The benchmark's settings, read from the code: a table directive and two roles.

The defaults in :doc:`benchmark` must never be typed in: they are read from
:class:`~captum_contrastive.pipeline.config.BenchmarkConfig` when the page is
built, so the page cannot drift from the code.

``.. benchmark-config-table::``
    A table of every field of ``BenchmarkConfig``: its name, its default
    (``BenchmarkConfig()``), its value under ``--full``
    (``BenchmarkConfig.full_settings()``; "same" when ``--full`` leaves it) and
    its description from the class docstring's ``Attributes:`` section. Option
    ``:fields: a, b, c`` limits the table to these fields. Each row is a
    reference target ``benchmark-config-<field>`` (the first table that shows the
    field owns it).

``:benchmark-default:`field``` and ``:benchmark-full:`field```
    The field's default value, or its ``--full`` value, inline (as a literal),
    linked to the field's row of the table. ``:benchmark-full:`` on a field that
    ``--full`` leaves unchanged gives the default.

``:code-value:`package.module.NAME```
    The value of any module constant, inline, linked to its API entry (for
    numbers that are not config fields, e.g. a verdict threshold).

Values are shown as a reader would type them: tuples as comma-separated lists,
multiples of 1/255 as ``8/255``, paths and names as plain text.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import sys
from pathlib import PurePath
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective, SphinxRole
from sphinx.util.nodes import make_refnode


def _config_class() -> type:
    from captum_contrastive.pipeline.config import BenchmarkConfig

    return BenchmarkConfig


def note_sources(env) -> None:
    """Rebuild the page when the config (or a module its defaults come from)
    changes; Sphinx otherwise only watches the .rst file."""
    cls = _config_class()
    modules = {cls.__module__}
    for f in dataclasses.fields(cls):
        value = default_value(f.name)
        if isinstance(value, tuple) and value:
            modules.update(
                m.__name__
                for m in sys.modules.values()
                if getattr(m, "__name__", "").startswith("captum_contrastive.")
                and any(v is value for v in vars(m).values())
            )
    for name in sorted(modules):
        source = inspect.getsourcefile(sys.modules[name])
        if source:
            env.note_dependency(source)


def field_names() -> list[str]:
    """Every field of ``BenchmarkConfig``, in declaration order."""
    return [f.name for f in dataclasses.fields(_config_class())]


def default_value(name: str) -> Any:
    """The field's value in ``BenchmarkConfig()``."""
    _check(name)
    return getattr(_config_class()(), name)


def full_value(name: str) -> Any:
    """The field's value under ``--full`` (``BenchmarkConfig.full_settings()``);
    the default when ``--full`` leaves it."""
    _check(name)
    return _config_class().full_settings().get(name, default_value(name))


def changed_by_full(name: str) -> bool:
    return name in _config_class().full_settings()


def _check(name: str) -> None:
    if name not in field_names():
        raise ValueError(
            f"{name!r} is not a BenchmarkConfig field; "
            f"fields: {', '.join(field_names())}"
        )


def descriptions() -> dict[str, str]:
    """Field name -> description, from the ``Attributes:`` section of the class
    docstring (an entry ``a, b: text`` describes both ``a`` and ``b``)."""
    doc = inspect.getdoc(_config_class()) or ""
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return {}
    entry = re.compile(
        r"^(?P<names>[A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_]\w*)*)\s*:\s*(?P<text>.*)$"
    )
    found: dict[str, str] = {}
    names: list[str] = []
    text: list[str] = []
    indent = None

    def flush() -> None:
        for n in names:
            found[n] = " ".join(text).strip()

    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:  # the next section
            break
        match = entry.match(line.strip()) if width == indent else None
        if match:
            flush()
            names = [n.strip() for n in match["names"].split(",")]
            text = [match["text"]]
        else:
            text.append(line.strip())
    flush()
    return found


def format_value(value: Any) -> str:
    """``value`` as a reader would type it (plain text, no markup)."""
    if isinstance(value, tuple | list):
        return ", ".join(format_value(v) for v in value) if value else "(none)"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, float):
        if value.is_integer():
            return f"{value:g}"
        # a pixel-unit radius like 8 / 255 (a short decimal such as 0.2 stays one)
        steps = round(value * 255)
        if len(repr(value)) > 8 and steps and math.isclose(steps / 255, value):
            return f"{steps}/255"
        return f"{value:g}"
    return str(value)


def _target(name: str) -> str:
    return f"benchmark-config-{name}"


class BenchmarkConfigTable(SphinxDirective):
    """``.. benchmark-config-table::`` (option ``:fields:`` to show a subset)."""

    has_content = False
    option_spec = {"fields": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        note_sources(self.env)
        names = field_names()
        if "fields" in self.options:
            chosen = [n.strip() for n in self.options["fields"].split(",") if n.strip()]
            for name in chosen:
                try:
                    _check(name)
                except ValueError as error:
                    raise self.error(str(error)) from error
            names = chosen
        texts = descriptions()
        std = self.env.domains.standard_domain
        table = nodes.table(classes=["benchmark-config-table", "longtable"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (22, 20, 20, 38):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(["field", "default", "--full", "meaning"], header=True)
        body = nodes.tbody()
        group += body
        for name in names:
            full = format_value(full_value(name)) if changed_by_full(name) else "same"
            row = self._row(
                [name, format_value(default_value(name)), full, texts.get(name, "")]
            )
            label = _target(name)
            if label not in std.anonlabels:
                node_id = label
                row["ids"].append(node_id)
                std.note_hyperlink_target(
                    label, self.env.docname, node_id, f"BenchmarkConfig.{name}"
                )
            body += row
        return [table]

    def _row(self, cells: list[str], header: bool = False) -> nodes.row:
        row = nodes.row()
        for index, text in enumerate(cells):
            entry = nodes.entry()
            if header:
                # a literal, so that "--full" is not turned into a dash
                if text.startswith("-"):
                    entry += nodes.paragraph("", "", nodes.literal(text=text))
                else:
                    entry += nodes.paragraph(text=text)
            elif index in (1, 2) and text == "same":
                entry += nodes.paragraph(text=text)
            elif index in (0, 1, 2):
                entry += nodes.paragraph("", "", nodes.literal(text=text))
            else:
                # descriptions are reStructuredText (roles, literals)
                # resolve :data:`STUDIES` and friends in the config's module
                container = nodes.container()
                context = self.env.ref_context
                saved = context.get("py:module")
                context["py:module"] = _config_class().__module__
                try:
                    self.state.nested_parse(
                        self._lines(text), self.content_offset, container
                    )
                finally:
                    if saved is None:
                        context.pop("py:module", None)
                    else:
                        context["py:module"] = saved
                entry += container.children
            row += entry
        return row

    def _lines(self, text: str):
        from docutils.statemachine import StringList

        return StringList([text], source=self.get_source_info()[0])


class BenchmarkValue(SphinxRole):
    """``:benchmark-default:`field``` / ``:benchmark-full:`field```."""

    def __init__(self, full: bool) -> None:
        self.full = full

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        field = self.text.strip()
        note_sources(self.env)
        try:
            value = full_value(field) if self.full else default_value(field)
        except ValueError as error:
            message = self.inliner.reporter.error(str(error), line=self.lineno)
            problem = self.inliner.problematic(self.rawtext, self.rawtext, message)
            return [problem], [message]
        reference = addnodes.pending_xref(
            self.rawtext,
            refdomain="",
            reftype=_REFTYPE,
            reftarget=_target(field),
            refdoc=self.env.docname,
            refexplicit=True,
            refwarn=True,
        )
        reference += nodes.literal(text=format_value(value))
        return [reference], []


def _import_value(path: str) -> Any:
    """The object at a dotted path: the longest importable module, then attributes
    (``pkg.module.Class.attribute`` works)."""
    import importlib

    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise ImportError(f"no module in {path!r}")


def _source_of(path: str) -> str | None:
    """The source file of the module that holds ``path``."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is not None:
            return inspect.getsourcefile(module)
    return None


class CodeValue(SphinxRole):
    """``:code-value:`package.module.CONSTANT```: a module constant's value, inline,
    linked to its API entry (for numbers that are not ``BenchmarkConfig`` fields,
    such as a verdict threshold)."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        path = self.text.strip()
        try:
            value = _import_value(path)
            source = _source_of(path)
            if source:
                self.env.note_dependency(source)
        except (ImportError, AttributeError, ValueError) as error:
            message = self.inliner.reporter.error(
                f"code-value: cannot read {path!r}: {error}", line=self.lineno
            )
            problem = self.inliner.problematic(self.rawtext, self.rawtext, message)
            return [problem], [message]
        reference = addnodes.pending_xref(
            self.rawtext,
            refdomain="py",
            reftype="obj",
            reftarget=path,
            refdoc=self.env.docname,
            refexplicit=True,
            refwarn=False,
        )
        reference += nodes.literal(text=format_value(value))
        return [reference], []


_REFTYPE = "benchmark-config"


def _resolve(app: Sphinx, env, node, contnode):
    """Link a value role to the table row that owns its field."""
    if node.get("reftype") != _REFTYPE:
        return None
    target = env.domains.standard_domain.anonlabels.get(node["reftarget"])
    if target is None:
        return None  # Sphinx warns: no table shows this field
    docname, node_id = target
    return make_refnode(
        app.builder, node["refdoc"], docname, node_id, contnode, node["reftarget"]
    )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", _resolve)
    app.add_directive("benchmark-config-table", BenchmarkConfigTable)
    app.add_role("benchmark-default", BenchmarkValue(full=False))
    app.add_role("benchmark-full", BenchmarkValue(full=True))
    app.add_role("code-value", CodeValue())
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
