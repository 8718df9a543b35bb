"""One style per method name, the same in every figure and every run.

Colours come from the colour-blind-safe Okabe–Ito and Paul Tol (muted) palettes.
Fourteen base names have a fixed, hand-picked colour and marker; a signed method
ranked by its magnitude (``"<name> |abs|"``) keeps its base colour and gets a
dashed line and a hollow, different marker; a contrastive method's fixed-contrast
entry of the sanity checks (``"<name> (fixed contrast)"``) keeps its base colour
and marker and gets a dashed line. Any other name gets a style from a
stable hash of the name, chosen among (colour, marker, line style) combinations
that no fixed name uses, so a name's style never depends on which other names are
in the run. Two unknown names can still share a style (the hash space has several
hundred entries, so this is rare).

Examples::

    >>> method_style("enhanced_gbp").color
    '#D55E00'
    >>> ax.plot(x, y, **method_style("saliency").line_kwargs())
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import matplotlib

__all__ = [
    "ABS_SUFFIX",
    "FIXED_CONTRAST_SUFFIX",
    "HIGHLIGHTED",
    "KNOWN_STYLES",
    "MethodStyle",
    "display_name",
    "is_highlighted",
    "is_reference",
    "method_style",
    "paper_figure",
    "paper_style",
]

ABS_SUFFIX = " |abs|"
#: As :data:`captum_contrastive.studies.sanity.FIXED_CONTRAST_SUFFIX`.
FIXED_CONTRAST_SUFFIX = " (fixed contrast)"

# Okabe & Ito (2008) and Paul Tol's "muted" scheme; both colour-blind safe.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
TOL_MUTED = {
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


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn.

    Attributes:
        label (str): the name shown in legends and tick labels.
        color (str): hex colour.
        marker (str): matplotlib marker.
        linestyle (str): matplotlib line style.
        filled (bool): whether the marker is filled (hollow for ``|abs|``).
    """

    label: str
    color: str
    marker: str
    linestyle: str = "-"
    filled: bool = True

    def marker_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a marker (``plot``, ``errorbar``, ``scatter``-free)."""
        return {
            "marker": self.marker,
            "markeredgecolor": self.color,
            "markerfacecolor": self.color if self.filled else "white",
        }

    def line_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Axes.plot``/``errorbar``: colour, marker, line."""
        return {
            "color": self.color,
            "linestyle": self.linestyle,
            "label": self.label,
            **self.marker_kwargs(),
        }


# name: (label, colour, marker, line style)
_BASE: dict[str, tuple[str, str, str, str]] = {
    "enhanced_gbp": ("Enhanced GBP", OKABE_ITO["vermillion"], "o", "-"),
    "guided_backprop": ("GuidedBP", OKABE_ITO["blue"], "s", "-"),
    "random": ("random", OKABE_ITO["black"], "x", "--"),
    "oracle |x_adv - x|": ("oracle |x_adv − x|", "#555555", "*", "-."),
    "saliency": ("Saliency", OKABE_ITO["orange"], "^", "-"),
    "deconvolution": ("Deconvolution", OKABE_ITO["reddish_purple"], "v", "-"),
    "input_x_gradient": ("Input×Gradient", OKABE_ITO["sky_blue"], "D", "-"),
    "integrated_gradients": ("Integrated Gradients", TOL_MUTED["indigo"], "P", "-"),
    "deeplift": ("DeepLIFT", TOL_MUTED["olive"], "X", "-"),
    "smoothgrad": ("SmoothGrad", TOL_MUTED["sand"], "h", "-"),
    "guided_gradcam": ("Guided Grad-CAM", TOL_MUTED["wine"], "<", "-"),
    "layer_gradcam": ("Grad-CAM", TOL_MUTED["teal"], ">", "-"),
    "contrastive_saliency": ("Contrastive Saliency", TOL_MUTED["rose"], "p", "-"),
    "contrastive_ig": ("Contrastive IG", TOL_MUTED["green"], "d", "-"),
}
# The marker of a base method's |abs| ranking (hollow, dashed line).
_ABS_MARKER = {"o": "8", "s": "D", "^": "v", "v": "^", "D": "s", "P": "X", "X": "P"}
_ABS_MARKER.update({"h": "H", "<": ">", ">": "<", "p": "h", "d": "o", "x": "+"})
_ABS_MARKER.update({"*": "p"})

HIGHLIGHTED: tuple[str, ...] = (
    "enhanced_gbp",
    "guided_backprop",
    "random",
    "oracle |x_adv - x|",
)

_FALLBACK_COLORS = tuple(OKABE_ITO.values()) + tuple(TOL_MUTED.values())
_FALLBACK_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "h", "<", ">", "p", "d", "*")
_FALLBACK_LINESTYLES = ("-", "--", "-.", ":")


def _abs_variant(base: MethodStyle) -> MethodStyle:
    return MethodStyle(
        label=base.label + ABS_SUFFIX,
        color=base.color,
        marker=_ABS_MARKER.get(base.marker, base.marker),
        linestyle="--",
        filled=False,
    )


def _fixed_contrast_variant(base: MethodStyle) -> MethodStyle:
    return MethodStyle(
        label=base.label + FIXED_CONTRAST_SUFFIX,
        color=base.color,
        marker=base.marker,
        linestyle=":" if base.linestyle == "--" else "--",
        filled=base.filled,
    )


def _known() -> dict[str, MethodStyle]:
    styles = {name: MethodStyle(*spec) for name, spec in _BASE.items()}
    for name in list(styles):
        if name not in ("random", "oracle |x_adv - x|"):
            styles[name + ABS_SUFFIX] = _abs_variant(styles[name])
    return styles


KNOWN_STYLES: dict[str, MethodStyle] = _known()

_TAKEN = {(s.color, s.marker, s.linestyle) for s in KNOWN_STYLES.values()}
_TAKEN_PAIRS = {(s.color, s.marker) for s in KNOWN_STYLES.values()}
_FREE = tuple(
    (color, marker, linestyle)
    for color in _FALLBACK_COLORS
    for marker in _FALLBACK_MARKERS
    for linestyle in _FALLBACK_LINESTYLES
    if (color, marker) not in _TAKEN_PAIRS and (color, marker, linestyle) not in _TAKEN
)


def _hashed(name: str) -> MethodStyle:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    color, marker, linestyle = _FREE[int.from_bytes(digest[:8], "big") % len(_FREE)]
    return MethodStyle(name, color, marker, linestyle)


def method_style(name: str) -> MethodStyle:
    """The style of a method, independent of the other methods of the run.

    Args:
        name (str): a method name as in ``results.json`` (e.g. ``"saliency"``,
            ``"deeplift |abs|"``, ``"random"``, ``"oracle |x_adv - x|"``).

    Returns:
        :class:`MethodStyle`: the fixed style of a known name; for an unknown
        ``"<base> |abs|"`` the (hashed) base style made dashed and hollow; for
        ``"<base> (fixed contrast)"`` the base style made dashed (dotted if the
        base is dashed); for any other name a stable hash-based style that no
        known name uses.
    """
    if name in KNOWN_STYLES:
        return KNOWN_STYLES[name]
    if name.endswith(ABS_SUFFIX) and name != ABS_SUFFIX:
        return _abs_variant(method_style(name[: -len(ABS_SUFFIX)]))
    if name.endswith(FIXED_CONTRAST_SUFFIX) and name != FIXED_CONTRAST_SUFFIX:
        base = method_style(name[: -len(FIXED_CONTRAST_SUFFIX)])
        return _fixed_contrast_variant(base)
    return _hashed(name)


def display_name(name: str) -> str:
    """The label of ``name`` in figures (``method_style(name).label``)."""
    return method_style(name).label


def is_reference(name: str) -> bool:
    """Whether ``name`` is a reference ranking (random or the oracle), not a map."""
    return name == "random" or name.startswith("oracle")


def is_highlighted(name: str) -> bool:
    """Whether ``name`` is drawn in full colour: Enhanced GBP, GuidedBP, random,
    or an oracle."""
    return name in HIGHLIGHTED or is_reference(name)


PAPER_RC: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "savefig.dpi": 200,
}


@contextmanager
def paper_style() -> Iterator[None]:
    """Matplotlib settings for print (font sizes, embedded TrueType fonts)."""
    with matplotlib.rc_context(PAPER_RC):
        yield


_F = TypeVar("_F", bound=Callable[..., Any])


def paper_figure(function: _F) -> _F:
    """Decorator: run a plotting function under :func:`paper_style`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with paper_style():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
