"""Figures for a paper from a run's results (``results.json``/``records.json``).

Every ``plot_*`` function takes the JSON-shaped result of one study and an output
path stem, writes ``<stem>.png`` and ``<stem>.pdf`` atomically and returns a
:class:`SavedFigure`. Methods are styled by one registry
(:func:`method_style`), the same in every figure and every run.

It may import the foundation modules and :mod:`captum_contrastive.methods` (for
the method table); never the pipeline.
"""

from captum_contrastive.plots.decomposition import change_interval, plot_decomposition
from captum_contrastive.plots.discriminativity import plot_class_discriminativity
from captum_contrastive.plots.energy import plot_energy_share
from captum_contrastive.plots.forest import plot_recovery_forest
from captum_contrastive.plots.kappa import plot_kappa_sweep
from captum_contrastive.plots.maps import plot_maps_grid
from captum_contrastive.plots.recovery import plot_recovery_curves, plot_recovery_panels
from captum_contrastive.plots.road import plot_road_curves, plot_road_gap
from captum_contrastive.plots.sanity import plot_sanity_cascade, plot_sanity_examples
from captum_contrastive.plots.saving import SavedFigure, interval, save_png_pdf
from captum_contrastive.plots.style import (
    KNOWN_STYLES,
    MethodStyle,
    display_name,
    is_highlighted,
    method_style,
    paper_style,
)

__all__ = [
    "KNOWN_STYLES",
    "MethodStyle",
    "SavedFigure",
    "change_interval",
    "display_name",
    "interval",
    "is_highlighted",
    "method_style",
    "paper_style",
    "plot_class_discriminativity",
    "plot_decomposition",
    "plot_energy_share",
    "plot_kappa_sweep",
    "plot_maps_grid",
    "plot_recovery_curves",
    "plot_recovery_forest",
    "plot_recovery_panels",
    "plot_road_curves",
    "plot_road_gap",
    "plot_sanity_cascade",
    "plot_sanity_examples",
    "save_png_pdf",
]
