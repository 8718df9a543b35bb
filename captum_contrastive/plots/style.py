"""One style per method name, the same in every figure and every run.

Colours come from the colour-blind-safe Okabe–Ito and Paul Tol (muted) palettes
(:mod:`captum_contrastive.palette`). Every method of the method table
(:data:`~captum_contrastive.methods.METHODS`) is labelled by its row's ``label``;
a row with a ``style`` and the two references (random, the oracle) have a fixed,
hand-picked colour and marker; a signed method
ranked by its magnitude (``"<name> |abs|"``) keeps its base colour and gets a
dashed line and a hollow, different marker; a contrastive method's fixed-contrast
entry of the sanity checks (``"<name> (fixed contrast)"``) keeps its base colour
and marker and gets a dashed line. Any other name gets a style from a
stable hash of the name (and the method's label), chosen among (colour, marker,
line style) combinations that no fixed name uses, so a name's style never depends
on which other names are in the run. Two unknown names can still share a style
(the hash space has several hundred entries, so this is rare).

Examples::

    >>> method_style("enhanced_gbp").color
    '#D55E00'
    >>> ax.plot(x, y, **method_style("saliency").line_kwargs())
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import matplotlib

from captum_contrastive.methods import METHODS
from captum_contrastive.palette import OKABE_ITO, TOL_MUTED

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


# The reference rankings, which are not methods: name -> (label, colour, marker,
# line style). The methods' labels and styles are rows of the method table.
_REFERENCES: dict[str, tuple[str, str, str, str]] = {
    "random": ("random", OKABE_ITO["black"], "x", "--"),
    "oracle |x_adv - x|": ("oracle |x_adv − x|", "#555555", "*", "-."),
}
# The marker of a base method's |abs| ranking (hollow, dashed line).
_ABS_MARKER = {"o": "8", "s": "D", "^": "v", "v": "^", "D": "s", "P": "X", "X": "P"}
_ABS_MARKER.update({"h": "H", "<": ">", ">": "<", "p": "h", "d": "o", "x": "+"})
_ABS_MARKER.update({"*": "p"})

_FALLBACK_COLORS = tuple(OKABE_ITO.values()) + tuple(TOL_MUTED.values())
_FALLBACK_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "h", "<", ">", "p", "d", "*")
_FALLBACK_LINESTYLES = ("-", "--", "-.", ":")


def _fixed_styles() -> dict[str, MethodStyle]:
    """The references and every registered method that has a style."""
    styles = {name: MethodStyle(*row) for name, row in _REFERENCES.items()}
    for name, spec in METHODS.items():
        if spec.style is not None:
            look = spec.style
            styles[name] = MethodStyle(
                spec.label, look.color, look.marker, look.linestyle
            )
            styles[name + ABS_SUFFIX] = _abs_variant(styles[name])
    return styles


class _KnownStyles(Mapping[str, MethodStyle]):
    """The fixed styles, read from the method table at each access: a method
    registered after import is in it too."""

    def _styles(self) -> dict[str, MethodStyle]:
        return _fixed_styles()

    def __getitem__(self, name: str) -> MethodStyle:
        return self._styles()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._styles())

    def __len__(self) -> int:
        return len(self._styles())


#: Every fixed style by name: the references, each styled method of the
#: method table and its ``|abs|`` ranking (read live from the table).
KNOWN_STYLES: Mapping[str, MethodStyle] = _KnownStyles()


def _highlighted() -> tuple[str, ...]:
    methods = (n for n, s in METHODS.items() if s.style and s.style.highlighted)
    return (*methods, *_REFERENCES)


#: The names drawn in full colour, highlighted methods first (Enhanced GBP,
#: GuidedBP (Captum)), then the references.
HIGHLIGHTED: tuple[str, ...] = _highlighted()


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


def _free(taken: Iterable[MethodStyle]) -> tuple[tuple[str, str, str], ...]:
    """The (colour, marker, line style) combinations no fixed style uses."""
    taken = list(taken)
    triples = {(s.color, s.marker, s.linestyle) for s in taken}
    pairs = {(s.color, s.marker) for s in taken}
    return tuple(
        (color, marker, linestyle)
        for color in _FALLBACK_COLORS
        for marker in _FALLBACK_MARKERS
        for linestyle in _FALLBACK_LINESTYLES
        if (color, marker) not in pairs and (color, marker, linestyle) not in triples
    )


def _hashed(name: str, label: str, fixed: Mapping[str, MethodStyle]) -> MethodStyle:
    free = _free(fixed.values())
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    color, marker, linestyle = free[int.from_bytes(digest[:8], "big") % len(free)]
    return MethodStyle(label, color, marker, linestyle)


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
    fixed = _fixed_styles()
    if name in fixed:
        return fixed[name]
    if name.endswith(ABS_SUFFIX) and name != ABS_SUFFIX:
        return _abs_variant(method_style(name[: -len(ABS_SUFFIX)]))
    if name.endswith(FIXED_CONTRAST_SUFFIX) and name != FIXED_CONTRAST_SUFFIX:
        base = method_style(name[: -len(FIXED_CONTRAST_SUFFIX)])
        return _fixed_contrast_variant(base)
    label = METHODS[name].label if name in METHODS else name
    return _hashed(name, label, fixed)


def display_name(name: str) -> str:
    """The label of ``name`` in figures (``method_style(name).label``)."""
    return method_style(name).label


def is_reference(name: str) -> bool:
    """Whether ``name`` is a reference ranking (random or the oracle), not a map."""
    return name == "random" or name.startswith("oracle")


def is_highlighted(name: str) -> bool:
    """Whether ``name`` is drawn in full colour: a method whose style is
    highlighted in the method table (Enhanced GBP, GuidedBP (Captum)), random,
    or an oracle."""
    if is_reference(name):
        return True
    spec = METHODS.get(name)
    return spec is not None and spec.style is not None and spec.style.highlighted


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
