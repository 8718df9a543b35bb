"""The documentation builds without warnings, and every Python example in it runs.

Examples are the ``.. code-block:: python`` blocks of the pages under ``docs/``
(API docstrings are not executed here). A page's blocks run in order in one
namespace, as a reader would paste them. Other languages (``bash``, ``text``) are
not run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.glob("*.rst"))
SHAPES_PAGES = {"adversarial.rst", "benchmark.rst"}

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block::[ \t]+python[ \t]*$")
_OPTION = re.compile(r"^[ \t]+:[\w-]+:")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line number, source)`` of every ``.. code-block:: python`` in ``text``."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        indent = len(match["indent"].expandtabs())
        while i < len(lines) and _OPTION.match(lines[i]):
            i += 1
        start = i
        body = []
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            body.append(line)
            i += 1
        while body and not body[0].strip():
            body.pop(0)
            start += 1
        source = textwrap.dedent("\n".join(body)).rstrip()
        assert source, f"empty code block at line {start}"
        blocks.append((start + 1, source + "\n"))
    return blocks


def test_extractor_finds_blocks_and_stops_at_dedent() -> None:
    text = (
        "Intro\n\n.. code-block:: python\n   :caption: x\n\n   a = 1\n\n   b = a + 1\n"
        "\nText.\n\n.. code-block:: bash\n\n   echo no\n\n"
        "  .. code-block:: python\n\n     c = 3\n"
    )
    blocks = python_blocks(text)
    assert [source for _, source in blocks] == ["a = 1\n\nb = a + 1\n", "c = 3\n"]


def test_every_page_is_listed_and_has_examples_where_expected() -> None:
    names = {p.name for p in PAGES}
    assert {
        "index.rst",
        "getting_started.rst",
        "method.rst",
        "guided_engine.rst",
        "adversarial.rst",
        "benchmark.rst",
    } <= names
    for name in ("getting_started.rst", "method.rst", "guided_engine.rst"):
        assert python_blocks((DOCS / name).read_text()), name


@pytest.mark.skipif(
    importlib.util.find_spec("sphinx") is None,
    reason="Sphinx is not installed (pip install -e '.[docs]')",
)
def test_sphinx_build_has_no_warnings(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "html" / "index.html").is_file()
    assert (tmp_path / "html" / "api" / "top_level.html").is_file()


@pytest.fixture
def shapes_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The shipped shapes weights, or stand-ins when they are not in the checkout.

    The stand-ins are a seeded, untrained :class:`ShapesVGG` state dict, so the
    walkthrough's code paths still run; its numbers then mean nothing.
    """
    from captum_contrastive.presets import shapes_model

    if shapes_model.SHAPES_WEIGHTS.is_file():
        return "shipped"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        state = shapes_model.ShapesVGG().state_dict()
    path = tmp_path / "shapes_vgg.pt"
    torch.save(state, path)
    monkeypatch.setattr(shapes_model, "SHAPES_WEIGHTS", path)
    return "untrained stand-in"


@pytest.mark.parametrize("page", [p.name for p in PAGES])
def test_page_examples_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request
) -> None:
    blocks = python_blocks((DOCS / page).read_text())
    if not blocks:
        pytest.skip(f"{page} has no Python examples")
    if page in SHAPES_PAGES:
        request.getfixturevalue("shapes_weights")
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    # one thread: the examples are tiny, and on a busy shared machine spinning
    # OpenMP workers make small convolutions far slower
    torch.set_num_threads(1)
    namespace: dict = {"__name__": f"docs.{page}"}
    try:
        # examples seed torch; leave the global random state as it was
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            for line, source in blocks:
                # pad so that tracebacks show the line numbers of the .rst file
                code = compile("\n" * (line - 1) + source, f"docs/{page}", "exec")
                exec(code, namespace)  # noqa: S102
    finally:
        torch.set_num_threads(threads)


def test_the_cli_reference_is_generated_from_the_parsers() -> None:
    """No page copies the command's help by hand; the reference page lists
    every command, by the directives of ``docs/_ext/cli_reference.py``."""
    from captum_contrastive.cli import command_names, help_text, study_commands

    assert command_names() == [*study_commands(), "speed"]
    usage = help_text()
    for command in command_names():
        assert f"\n  {command} " in usage, command
        assert help_text(command).startswith(f"usage: captum-contrastive {command}")
    for page in PAGES:
        assert "usage: captum-contrastive" not in page.read_text(), page.name
    reference = (DOCS / "cli.rst").read_text()
    assert ".. cli-help::" in reference and ".. cli-reference::" in reference
    assert ".. cli-help::" in (DOCS / "your_model.rst").read_text()
    assert "cli" in (DOCS / "index.rst").read_text().split()
