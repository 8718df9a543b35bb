"""Catch Captum baselines that silently turn into another method on a model.

Captum's DeepLift hooks activation modules by their exact type: on a model whose
activation is a *subclass* of ``nn.ReLU`` it returns InputXGradient exactly.
Captum's GuidedBackprop and Deconvolution hook ``nn.ReLU`` modules only: on a
model calling ``F.relu`` they return the plain gradient. Each such baseline is
compared with its degenerate twin (the ``twin`` of its row in the method table,
:class:`~captum_contrastive.methods.Twin`) on a few images; a row that equals its twin
is flagged in the report (and an exact implementation named where we have one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from captum_contrastive.methods import MethodSpec, compute_maps

__all__ = ["BaselineCheck", "check_baselines"]


@dataclass(frozen=True)
class BaselineCheck:
    """One baseline compared with its degenerate twin.

    Attributes:
        method: the baseline's registry key.
        twin: what it degenerates to (the twin's key, with options).
        max_abs_difference: the largest ``|baseline - twin|`` over the images.
        max_abs_value: the largest ``|twin|``, the scale of the difference.
        degenerate: the two are equal up to ``rtol`` of that scale.
        exact_alternative: our implementation that does not degenerate, if any.
    """

    method: str
    twin: str
    max_abs_difference: float
    max_abs_value: float
    degenerate: bool
    exact_alternative: str | None

    def to_json(self) -> dict:
        return asdict(self)

    def message(self) -> str:
        text = (
            f"`{self.method}` equals `{self.twin}` on this model (max |diff| "
            f"{self.max_abs_difference:.2e} of max |value| {self.max_abs_value:.2e}): "
            f"its rows measure {self.twin}, not {self.method}."
        )
        if self.exact_alternative:
            text += f" Use `{self.exact_alternative}`, which is exact here."
        return text


def check_baselines(
    model: nn.Module,
    images: Tensor,
    targets: Tensor | Sequence[int],
    specs: Mapping[str, MethodSpec],
    methods: Sequence[str],
    rtol: float = 1e-6,
) -> list[BaselineCheck]:
    """Compare each method in ``methods`` that has a degenerate twin with it.

    Args:
        model (nn.Module): the pixel-space classifier, in eval mode.
        images (Tensor): a few ``(N, C, H, W)`` images.
        targets (Tensor or sequence of int): ``(N,)`` classes to explain.
        specs (Mapping[str, MethodSpec]): the method registry of the run.
        methods (sequence of str): the run's methods.
        rtol (float): equal when ``max|a - b| <= rtol * max|b|``. Default: 1e-6

    Returns:
        One :class:`BaselineCheck` per checked baseline.
    """
    checks = []
    indices = list(range(images.shape[0]))
    for method in (m for m in methods if specs[m].twin is not None):
        twin = specs[method].twin
        found = compute_maps(specs[method], model, images, targets, indices, 0)
        reference = compute_maps(
            specs[twin.method], model, images, targets, indices, 0, options=twin.options
        )
        difference = float((found - reference).abs().max())
        scale = float(reference.abs().max())
        degenerate = difference <= rtol * max(scale, torch.finfo(torch.float32).tiny)
        checks.append(
            BaselineCheck(
                method, twin.describe(), difference, scale, degenerate, twin.exact
            )
        )
    return checks
