"""The check that variants computing the same maps do return the same maps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["AGREEMENT_CHECKS", "AGREEMENT_RTOL", "check_agreement"]

#: Tolerance of the maximum difference, relative to the largest value. Chunking
#: changes the batch size, so oneDNN may pick another convolution algorithm: vgg16
#: chunked maps differ by about 1e-5 of the maximum.
AGREEMENT_RTOL = 1e-4

#: Pairs of variants that must return the same maps, up to float rounding.
AGREEMENT_CHECKS: tuple[tuple[str, str], ...] = (
    ("egbp", "captum_gbp_x2"),
    ("gbp", "captum_gbp"),
    ("egbp_chunked", "egbp"),
    ("gbp_chunked", "gbp"),
    ("contrastive_ig", "captum_ig_x2"),
)


def check_agreement(outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    r"""Compare the outputs of every pair of :data:`AGREEMENT_CHECKS` that ran.

    Args:
        outputs (Mapping[str, Any]): variant name -> its output (a tensor, or a
            tuple whose first element is compared).

    Returns:
        *list[dict]*, JSON-ready, one per pair, with ``variants``,
        ``max_abs_difference``, ``max_abs_value`` and ``agree``.
    """
    checks = []
    for a, b in AGREEMENT_CHECKS:
        if a in outputs and b in outputs:
            difference, scale = _max_abs_difference(outputs[a], outputs[b])
            checks.append(
                {
                    "variants": [a, b],
                    "max_abs_difference": difference,
                    "max_abs_value": scale,
                    "agree": difference <= AGREEMENT_RTOL * max(scale, 1e-30),
                }
            )
    return checks


def _max_abs_difference(a: Any, b: Any) -> tuple[float, float]:
    a_tensor = a[0] if isinstance(a, tuple) else a
    b_tensor = b[0] if isinstance(b, tuple) else b
    difference = (a_tensor.double() - b_tensor.double()).abs().max().item()
    scale = max(a_tensor.abs().max().item(), b_tensor.abs().max().item())
    return float(difference), float(scale)
