"""The report's Markdown, as HTML: the subset that ``report.md`` uses.

Headings, paragraphs, bullet lists, pipe tables (rendered sortable, like every
table of the page), fenced code, ``**bold**``, ``*emphasis*`` and
```code```. Everything else is escaped text; nothing the report holds is ever
read as raw HTML.
"""

from __future__ import annotations

import html
import re

__all__ = ["inline", "markdown_html"]

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")


def inline(text: str) -> str:
    """One line of Markdown as escaped HTML with code, bold and emphasis.

    Examples::

        >>> inline("**3. a < b:** `x`")
        '<strong>3. a &lt; b:</strong> <code>x</code>'
    """
    parts = _CODE.split(text)
    out = []
    for position, part in enumerate(parts):
        if position % 2:
            out.append(f"<code>{html.escape(part)}</code>")
            continue
        escaped = html.escape(part, quote=False)
        escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
        out.append(_EMPHASIS.sub(r"<em>\1</em>", escaped))
    return "".join(out)


def _cells(line: str) -> list[str]:
    """The cells of a pipe-table line; ``\\|`` is a literal bar."""
    body = line.strip().strip("|")
    cells = re.split(r"(?<!\\)\|", body)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def _table(lines: list[str]) -> str:
    header = _cells(lines[0])
    rows = [_cells(line) for line in lines[2:]]
    head = "".join(f'<th scope="col">{inline(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        '<div class="table-wrap"><table class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def markdown_html(text: str, heading_offset: int = 1) -> str:
    """``text`` (Markdown as ``report.md`` writes it) as HTML.

    Args:
        text (str): the Markdown.
        heading_offset (int): added to each heading's level (``## x`` becomes
            ``<h3>`` with the default), so sections nest under the page's.

    Returns:
        The HTML.
    """
    out: list[str] = []
    lines = text.splitlines()
    position = 0
    while position < len(lines):
        line = lines[position]
        stripped = line.strip()
        if not stripped:
            position += 1
        elif stripped.startswith("```"):
            end = position + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                end += 1
            code = html.escape("\n".join(lines[position + 1 : end]))
            out.append(f"<pre><code>{code}</code></pre>")
            position = end + 1
        elif stripped.startswith("#"):
            level = min(6, len(stripped) - len(stripped.lstrip("#")) + heading_offset)
            out.append(f"<h{level}>{inline(stripped.lstrip('#').strip())}</h{level}>")
            position += 1
        elif stripped.startswith("|"):
            end = position
            while end < len(lines) and lines[end].strip().startswith("|"):
                end += 1
            out.append(_table(lines[position:end]))
            position = end
        elif stripped.startswith("- "):
            items = []
            while position < len(lines) and lines[position].strip().startswith("- "):
                items.append(f"<li>{inline(lines[position].strip()[2:])}</li>")
                position += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            paragraph = []
            while (
                position < len(lines)
                and lines[position].strip()
                and not any(
                    lines[position].strip().startswith(s)
                    for s in ("#", "|", "- ", "```")
                )
            ):
                paragraph.append(lines[position].strip())
                position += 1
            out.append(f"<p>{inline(' '.join(paragraph))}</p>")
    return "\n".join(out)
