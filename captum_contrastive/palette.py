"""The colour-blind-safe palettes the methods' plot styles are drawn from.

Okabe & Ito (2008) and Paul Tol's "muted" scheme. Kept apart from
:mod:`captum_contrastive.plots` so that the method table
(:mod:`captum_contrastive.methods`) can name its colours without matplotlib.
"""

from __future__ import annotations

__all__ = ["OKABE_ITO", "TOL_MUTED"]

OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
TOL_MUTED: dict[str, str] = {
    "indigo": "#332288",
    "cyan": "#88CCEE",
    "teal": "#44AA99",
    "green": "#117733",
    "olive": "#999933",
    "sand": "#DDCC77",
    "rose": "#CC6677",
    "wine": "#882255",
    "purple": "#AA4499",
}
