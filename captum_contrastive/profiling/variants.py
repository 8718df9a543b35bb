"""The variants timed by the speed benchmark, as zero-argument callables.

Variants (the letters are those of the project's issue 5):

==================  ===  =============================================================
``egbp``            (a)  :class:`captum_contrastive.EnhancedGuidedBackprop`: one
                         forward pass, two guided backward passes.
``captum_gbp_x2``   (b)  two :class:`captum.attr.GuidedBackprop` calls (class k, then
                         m), then :func:`captum_contrastive.contrast_maps`.
``floor``           (c)  plain autograd: one forward, two ``torch.autograd.grad``
                         calls with ``retain_graph``; no guiding, no normalization.
``gbp``             (d)  :class:`captum_contrastive.GuidedBackprop`, class k.
``captum_gbp``      (d)  :class:`captum.attr.GuidedBackprop`, class k.
``contrastive_ig``  (e)  ``ContrastiveAttribution(IntegratedGradients(model))``.
``captum_ig_x2``    (e)  two :class:`captum.attr.IntegratedGradients` calls, then
                         :func:`captum_contrastive.contrast_maps`.
``egbp_chunked``    (a)  ``egbp`` with ``internal_batch_size`` (only when given).
``gbp_chunked``     (d)  ``gbp`` with ``internal_batch_size`` (only when given).
==================  ===  =============================================================

Every variant gets the same explicit ``target`` (k) and ``contrast_target`` (m)
tensors, computed once beforehand from the model's prediction (top-1 and top-2), so
no variant pays for choosing the classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from captum_contrastive.methods import METHODS

__all__ = [
    "ALL_VARIANTS",
    "CHUNKED_VARIANTS",
    "GUIDED_VARIANTS",
    "VARIANT_DESCRIPTIONS",
    "VARIANT_METHODS",
    "build_variants",
    "expand_variants",
]

#: name -> (letter of issue 5, the key of the method it times in the method
#: table or ``None`` (the floor is no method), how it calls it).
VARIANT_METHODS: dict[str, tuple[str, str | None, str]] = {
    "egbp": ("a", "enhanced_gbp", "1 forward, 2 guided backward"),
    "captum_gbp_x2": ("b", "guided_backprop", "2 calls (k, m) + contrast_maps"),
    "floor": ("c", None, "plain autograd: 1 forward, 2 autograd.grad, no guiding"),
    "gbp": ("d", "guided_backprop_exact", "class k"),
    "captum_gbp": ("d", "guided_backprop", "class k"),
    "contrastive_ig": ("e", "contrastive_ig", "1 call (k vs m)"),
    "captum_ig_x2": ("e", "integrated_gradients", "2 calls (k, m) + contrast_maps"),
    "egbp_chunked": ("a", "enhanced_gbp", "internal_batch_size"),
    "gbp_chunked": ("d", "guided_backprop_exact", "internal_batch_size"),
}


def _description(method: str | None, how: str) -> str:
    return how if method is None else f"{METHODS[method].label}: {how}"


#: name -> (letter of issue 5, one-line description), in the order of the table;
#: each description opens with the method's label in the method table
#: (``"GuidedBP (Captum): class k"``).
VARIANT_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    name: (letter, _description(method, how))
    for name, (letter, method, how) in VARIANT_METHODS.items()
}

#: Variants (a)-(d): guided backpropagation and its floor.
GUIDED_VARIANTS: tuple[str, ...] = (
    "egbp",
    "captum_gbp_x2",
    "floor",
    "gbp",
    "captum_gbp",
)
#: Variants (a)-(e).
ALL_VARIANTS: tuple[str, ...] = (*GUIDED_VARIANTS, "contrastive_ig", "captum_ig_x2")

#: Variant -> its ``internal_batch_size`` twin.
CHUNKED_VARIANTS: dict[str, str] = {"egbp": "egbp_chunked", "gbp": "gbp_chunked"}

_Calls = dict[str, Callable[[], Any]]


def expand_variants(names: Sequence[str], internal_batch_size: int | None) -> list[str]:
    r"""``names`` without duplicates, plus the chunked twin of ``egbp`` / ``gbp``
    when ``internal_batch_size`` is given."""
    expanded = list(dict.fromkeys(names))
    if internal_batch_size is not None:
        for base, chunked in CHUNKED_VARIANTS.items():
            if base in expanded and chunked not in expanded:
                expanded.append(chunked)
    return expanded


def build_variants(
    model: Callable[..., Tensor],
    inputs: Tensor,
    target: Tensor,
    contrast_target: Tensor,
    names: Sequence[str] = GUIDED_VARIANTS,
    internal_batch_size: int | None = None,
    ig_n_steps: int = 32,
    ig_internal_batch_size: int | None = None,
) -> dict[str, Callable[[], Any]]:
    r"""Zero-argument callables, one per variant, over the same inputs and classes.

    The attribution objects are built here, once; each callable only runs
    ``attribute`` (and the normalization where the variant has one).

    Args:
        model (Callable[..., Tensor]): returns ``(N, num_classes)`` logits.
        inputs (Tensor): ``(N, C, H, W)`` images.
        target (Tensor): ``(N,)`` class k per example.
        contrast_target (Tensor): ``(N,)`` class m per example.
        names (Sequence[str]): variant names (see the module docstring).
            Default: :data:`GUIDED_VARIANTS`
        internal_batch_size (int, optional): chunk size of ``egbp_chunked`` and
            ``gbp_chunked``. Default: None
        ig_n_steps (int): Integrated Gradients steps. Default: 32
        ig_internal_batch_size (int, optional): Captum's ``internal_batch_size``
            for Integrated Gradients (counts expanded examples, batch x steps).
            Default: None (``8 * N``)

    Returns:
        *dict[str, Callable[[], Any]]* name -> callable.

    Examples::

        >>> model = TinyCNN().eval()
        >>> x = torch.rand(2, 3, 16, 16)
        >>> calls = build_variants(model, x, torch.tensor([0, 1]),
        ...                        torch.tensor([2, 3]), ["egbp", "floor"])
        >>> maps = calls["egbp"]()
    """
    ig_batch = ig_internal_batch_size or 8 * inputs.shape[0]
    table: _Calls = {
        **_guided_calls(model, inputs, target, contrast_target, internal_batch_size),
        **_integrated_gradients_calls(
            model, inputs, target, contrast_target, ig_n_steps, ig_batch
        ),
    }
    table = {name: table[name] for name in VARIANT_DESCRIPTIONS}  # the table's order
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {list(table)}")
    if internal_batch_size is None and any(n.endswith("_chunked") for n in names):
        raise ValueError("the *_chunked variants need `internal_batch_size`")
    return {name: table[name] for name in names}


def _guided_calls(
    model: Callable[..., Tensor],
    inputs: Tensor,
    k: Tensor,
    m: Tensor,
    internal_batch_size: int | None,
) -> _Calls:
    """Variants (a)-(d): guided backpropagation, chunked or not, and the floor."""
    import captum.attr as captum_attr

    from captum_contrastive import EnhancedGuidedBackprop, GuidedBackprop, contrast_maps

    egbp = EnhancedGuidedBackprop(model)
    gbp = GuidedBackprop(model)
    captum_gbp = captum_attr.GuidedBackprop(model)

    def two_captum_gbp() -> Tensor:
        return contrast_maps(
            captum_gbp.attribute(inputs, target=k),
            captum_gbp.attribute(inputs, target=m),
        )

    return {
        "egbp": lambda: egbp.attribute(inputs, target=k, contrast_target=m),
        "captum_gbp_x2": two_captum_gbp,
        "floor": _autograd_floor(model, inputs, k, m),
        "gbp": lambda: gbp.attribute(inputs, target=k),
        "captum_gbp": lambda: captum_gbp.attribute(inputs, target=k),
        "egbp_chunked": lambda: egbp.attribute(
            inputs,
            target=k,
            contrast_target=m,
            internal_batch_size=internal_batch_size,
        ),
        "gbp_chunked": lambda: gbp.attribute(
            inputs, target=k, internal_batch_size=internal_batch_size
        ),
    }


def _autograd_floor(
    model: Callable[..., Tensor], inputs: Tensor, k: Tensor, m: Tensor
) -> Callable[[], tuple[Tensor, Tensor]]:
    """Variant (c): one forward, two ``autograd.grad`` calls, no guiding."""
    k_column, m_column = k.view(-1, 1), m.view(-1, 1)

    def floor() -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            leaf = inputs.detach().requires_grad_(True)
            logits = model(leaf)
            (grad_k,) = torch.autograd.grad(
                logits.gather(1, k_column).sum(), leaf, retain_graph=True
            )
            (grad_m,) = torch.autograd.grad(logits.gather(1, m_column).sum(), leaf)
        return grad_k, grad_m

    return floor


def _integrated_gradients_calls(
    model: Callable[..., Tensor],
    inputs: Tensor,
    k: Tensor,
    m: Tensor,
    n_steps: int,
    internal_batch_size: int,
) -> _Calls:
    """Variants (e): contrastive Integrated Gradients and two Captum calls."""
    import captum.attr as captum_attr

    from captum_contrastive import ContrastiveAttribution, contrast_maps

    captum_ig = captum_attr.IntegratedGradients(model)
    contrastive_ig = ContrastiveAttribution(captum_attr.IntegratedGradients(model))
    steps = {"n_steps": n_steps, "internal_batch_size": internal_batch_size}

    def two_captum_ig() -> Tensor:
        return contrast_maps(
            captum_ig.attribute(inputs, target=k, **steps),
            captum_ig.attribute(inputs, target=m, **steps),
        )

    return {
        "contrastive_ig": lambda: contrastive_ig.attribute(
            inputs, target=k, contrast_target=m, **steps
        ),
        "captum_ig_x2": two_captum_ig,
    }
