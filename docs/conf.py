"""Sphinx configuration for captum-contrastive.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Everything works offline: no intersphinx, no downloads. The benchmark figures are
optional; see ``_ext/benchmark_figures.py`` and ``make -C docs figures``. The
benchmark's defaults are read from ``BenchmarkConfig`` by ``_ext/benchmark_config.py``
(``.. benchmark-config-table::``, ``:benchmark-default:`` and ``:benchmark-full:``).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

import captum_contrastive  # noqa: E402

project = "captum-contrastive"
author = "captum-contrastive contributors"
copyright = "captum-contrastive contributors"
release = captum_contrastive.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "benchmark_figures",
    "benchmark_config",
    "cli_reference",
    "method_table",
]

# Offline build: no intersphinx mapping, and unresolved references do not warn.
nitpicky = False

root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = [
    "_build",
    "_ext",
    "benchmark",
]
templates_path: list[str] = []

# Captum-style docstrings: Google sections (Args:, Returns:) and "Examples::" literal
# blocks. __init__ docstrings hold the constructor's Args, so show both.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
napoleon_use_rtype = False
autoclass_content = "both"
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": True}
autodoc_inherit_docstrings = False

# Figures written by ``python benchmarks/run_all.py --out docs/benchmark``.
benchmark_figures_dir = "benchmark"

try:
    import sphinx_rtd_theme  # noqa: F401

    html_theme = "sphinx_rtd_theme"
except ImportError:  # Sphinx alone still builds, with its default theme
    html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"captum-contrastive {release}"
html_show_sourcelink = True
