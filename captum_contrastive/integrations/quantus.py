r"""A bridge to Quantus 0.6, the toolkit of explanation metrics.

Quantus evaluates explanations with metrics (randomisation, faithfulness,
complexity, ...). A metric takes the maps in one of two ways; both are covered:

- :func:`explain_func`: any registered method of
  :data:`~captum_contrastive.methods.METHODS` as the ``explain_func`` that a
  metric calls as ``explain_func(model=..., inputs=..., targets=...,
  **explain_func_kwargs)``, whenever it needs maps of a model it changed
  (MPRT passes randomised copies, RandomLogit other classes);
- :func:`to_a_batch`: maps you already have (a tensor, or the
  :class:`~captum_contrastive.pipeline.stages.Maps` of a run's map cache) as the
  ``a_batch`` argument.

Channel reduction: Quantus takes one value per pixel. Maps ``(N, C, H, W)`` are
reduced to ``(N, 1, H, W)`` by summing over channels, signed (``reduce="sum"``,
the default) or of ``|map|`` (``reduce="abs_sum"``), as
:func:`~captum_contrastive.metrics.spatial_map` does; the same reduction is used by
the sanity checks of :mod:`captum_contrastive.studies.sanity`, so a Quantus metric
with ``abs=False`` sees the maps those checks compare.

Contrastive methods (e.g. ``enhanced_gbp``, ``contrastive_saliency``) explain a
class against a contrast class. Quantus passes only ``model``, ``inputs`` and
``targets`` (and does not split per-example keyword arguments into its batches),
so the contrast is derived on every call: the runner-up (highest-scoring class
other than the target) of the model Quantus passed, for each input. Under MPRT
that is the randomised model's runner-up, the default of
:func:`~captum_contrastive.studies.sanity.cascading_randomization`.

Quantus itself is only imported by :func:`import_quantus` and
:func:`numpy2_auc`; :func:`explain_func` and :func:`to_a_batch` work without it.
Install it with ``pip install "captum-contrastive[quantus]"`` (plain ``quantus``:
its ``[torch]`` extra cannot be installed beside torch 2 on Python 3.10).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from captum_contrastive.attr._targets import runner_up
from captum_contrastive.devices import model_device
from captum_contrastive.methods import (
    METHODS,
    MethodSettings,
    MethodSpec,
    build_methods,
    compute_maps,
)
from captum_contrastive.metrics.ranking import Reduce, spatial_map
from captum_contrastive.row_chunks import loaded

__all__ = [
    "INSTALL_HINT",
    "ExplainFunc",
    "explain_func",
    "import_quantus",
    "numpy2_auc",
    "runner_up_contrast",
    "to_a_batch",
]

#: How to install the optional Quantus dependency.
INSTALL_HINT = 'pip install "captum-contrastive[quantus]"'


def import_quantus() -> ModuleType:
    r"""The ``quantus`` module, imported on first use.

    Returns:
        *ModuleType*: the ``quantus`` package.

    Raises:
        ImportError: Quantus is not installed; the message says how to install it.

    Examples::

        >>> quantus = import_quantus()
        >>> metric = quantus.MPRT(layer_order="top_down", abs=False)
    """
    try:
        return importlib.import_module("quantus")
    except ImportError as error:
        raise ImportError(
            "captum_contrastive.integrations.quantus needs Quantus (0.6); install "
            f"it with: {INSTALL_HINT}"
        ) from error


def _trapezoid_auc(values: Any, dx: int = 1, batched: bool = False) -> np.ndarray:
    """Quantus 0.6's ``calculate_auc`` with ``np.trapezoid`` for ``np.trapz``."""
    return np.trapezoid(np.array(values), dx=dx, axis=1 if batched else -1)


@contextmanager
def numpy2_auc() -> Iterator[None]:
    r"""Within the block, Quantus's AUC helper runs on NumPy 2.

    Quantus 0.6 computes areas under curves with ``np.trapz``, which NumPy 2.0
    removed, so PixelFlipping, RegionPerturbation and Selectivity (their
    ``get_auc_score``) and IROF crash with ``AttributeError``. Inside this block
    ``quantus.helpers.utils.calculate_auc`` uses ``np.trapezoid`` (the same
    trapezoidal rule); it is put back on exit. NumPy itself is not touched, and
    nothing happens on NumPy 1 (which still has ``np.trapz``). Not thread-safe:
    the replacement is visible to every thread while the block runs.

    Examples::

        >>> quantus = import_quantus()
        >>> metric = quantus.PixelFlipping(features_in_step=16)
        >>> with numpy2_auc():
        ...     curves = metric(model=model, x_batch=x, y_batch=y, a_batch=a)
        ...     auc = metric.get_auc_score
    """
    import_quantus()
    utils = importlib.import_module("quantus.helpers.utils")
    if hasattr(np, "trapz"):
        yield
        return
    original = utils.calculate_auc
    utils.calculate_auc = _trapezoid_auc
    try:
        yield
    finally:
        utils.calculate_auc = original


def to_a_batch(maps: Tensor | np.ndarray | Any, reduce: Reduce = "sum") -> np.ndarray:
    r"""Maps as a Quantus ``a_batch``: ``(N, 1, H, W)`` float32 NumPy.

    Args:
        maps (Tensor, ndarray or Maps): ``(N, C, H, W)`` or ``(N, H, W)`` maps, or
            an object with a ``maps`` tensor, e.g. the
            :class:`~captum_contrastive.pipeline.stages.Maps` that
            :func:`~captum_contrastive.pipeline.stages.maps_for` reads from (or
            adds to) a run's map cache.
        reduce (str): ``"sum"``: signed sum over channels; ``"abs_sum"``: sum of
            ``|map|`` over channels. Default: ``"sum"``

    Returns:
        *ndarray*: ``(N, 1, H, W)`` float32, on the CPU.

    Examples::

        >>> maps = EnhancedGuidedBackprop(model).attribute(images, target=labels)
        >>> to_a_batch(maps).shape
        (4, 1, 32, 32)
    """
    maps = loaded(getattr(maps, "maps", maps))
    if isinstance(maps, np.ndarray):
        maps = torch.from_numpy(maps)
    if not isinstance(maps, Tensor):
        raise TypeError(
            "`maps` must be a Tensor, a NumPy array or an object with a `maps` "
            f"tensor, got {type(maps).__name__}"
        )
    spatial = spatial_map(maps.detach().cpu().float(), reduce)
    return spatial.unsqueeze(1).numpy().astype(np.float32, copy=False)


@torch.no_grad()
def runner_up_contrast(
    model: nn.Module, images: Tensor, targets: Tensor, batch_size: int = 64
) -> Tensor:
    r"""The runner-up class of ``model`` for each image: the contrast class.

    Args:
        model (nn.Module): the classifier (the one the maps are computed on).
        images (Tensor): ``(N, C, H, W)`` on the model's device.
        targets (Tensor): ``(N,)`` explained classes.
        batch_size (int): images per forward call. Default: 64

    Returns:
        *Tensor*: ``(N,)`` ``long`` classes on the CPU, each the highest-scoring
        class other than the target.

    Examples::

        >>> runner_up_contrast(model, images, torch.tensor([0, 3]))
        tensor([2, 1])
    """
    parts = [
        runner_up(model(images[i : i + batch_size]), targets[i : i + batch_size])
        for i in range(0, images.shape[0], batch_size)
    ]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


def _as_targets(targets: Any, n: int) -> Tensor:
    """Quantus's ``targets`` (an int, or one per input) as a ``(n,)`` long tensor."""
    values = np.asarray(
        targets.detach().cpu() if isinstance(targets, Tensor) else targets
    )
    if values.dtype.kind == "f" and np.all(np.mod(values, 1) == 0):
        values = values.astype(np.int64)
    if values.dtype.kind not in "iu":
        raise TypeError(f"`targets` must be class indices, got dtype {values.dtype}")
    if values.ndim == 0:
        values = np.full(n, int(values))
    values = values.reshape(-1)
    if values.shape[0] != n:
        raise ValueError(f"`targets` has {values.shape[0]} entries for {n} inputs")
    return torch.from_numpy(values.astype(np.int64))


def _as_images(inputs: Any, model: nn.Module) -> Tensor:
    """Quantus's ``inputs`` (NumPy, channels first) on the model's device."""
    if not isinstance(inputs, Tensor):
        inputs = torch.from_numpy(np.ascontiguousarray(inputs))
    images = inputs
    if images.ndim != 4:
        raise ValueError(
            f"`inputs` must be images (N, C, H, W), got shape {tuple(images.shape)}"
        )
    dtype = next(
        (p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32
    )
    return images.detach().to(device=model_device(model), dtype=dtype)


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside the block; every submodule's mode restored."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@dataclass(frozen=True)
class ExplainFunc:
    r"""One method as a Quantus ``explain_func`` (see :func:`explain_func`).

    Attributes:
        spec: the method.
        reduce: the channel reduction, ``"sum"`` or ``"abs_sum"``.
        seed: seeds the noise of sampling methods (SmoothGrad), drawn per image
            from the stream ``(seed, position in the batch Quantus passes)``.
        batch_size: images per attribution and forward call.
        options: extra keyword arguments of the method's ``attribute`` call.
    """

    spec: MethodSpec
    reduce: Reduce = "sum"
    seed: int = 0
    batch_size: int = 64
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(
        self,
        model: nn.Module,
        inputs: np.ndarray | Tensor,
        targets: np.ndarray | Tensor | int,
        device: Any = None,
        **options: Any,
    ) -> np.ndarray:
        r"""Maps of ``model`` for ``inputs`` and ``targets``, as Quantus wants them.

        The model is used as passed (never a copy captured earlier): on its own
        device, in eval mode for the call (each submodule's mode is restored
        after). Contrastive methods explain each target against
        :func:`runner_up_contrast` of this model.

        Args:
            model (nn.Module): the classifier Quantus explains.
            inputs (ndarray or Tensor): ``(N, C, H, W)`` images.
            targets (ndarray, Tensor or int): the classes to explain, one per
                input or one for all.
            device: accepted because Quantus passes its ``device`` argument;
                ignored, the maps are computed on the model's device.
            **options: extra keyword arguments of the method's ``attribute``
                call (Quantus's ``explain_func_kwargs``), over :attr:`options`.

        Returns:
            *ndarray*: ``(N, 1, H, W)`` float32 maps (:func:`to_a_batch`).
        """
        images = _as_images(inputs, model)
        classes = _as_targets(targets, images.shape[0])
        with _eval_mode(model), torch.enable_grad():
            contrast = None
            if self.spec.contrastive:
                contrast = runner_up_contrast(model, images, classes, self.batch_size)
            maps = compute_maps(
                self.spec,
                model,
                images,
                classes,
                list(range(images.shape[0])),
                self.seed,
                self.batch_size,
                contrast=contrast,
                options={**self.options, **options},
            )
        return to_a_batch(maps, self.reduce)


def _method_spec(
    method: str | MethodSpec, settings: MethodSettings | None
) -> MethodSpec:
    if isinstance(method, MethodSpec):
        return method
    specs = METHODS if settings is None else build_methods(settings)
    if method not in specs:
        raise ValueError(f"unknown method {method!r}; registered: {list(specs)}")
    return specs[method]


def explain_func(
    method: str | MethodSpec = "enhanced_gbp",
    *,
    reduce: Reduce = "sum",
    settings: MethodSettings | None = None,
    seed: int = 0,
    batch_size: int = 64,
    options: Mapping[str, Any] | None = None,
) -> ExplainFunc:
    r"""A registered method as a Quantus ``explain_func``.

    The returned callable builds the method on the model Quantus passes at each
    call (MPRT passes randomised copies), derives the contrast class of
    contrastive methods from that model (its runner-up for each input), and
    returns ``(N, 1, H, W)`` NumPy maps, summed over channels (``reduce``).

    Args:
        method (str or MethodSpec): a name of
            :func:`~captum_contrastive.methods.registered_methods` or a spec.
            Default: ``"enhanced_gbp"``
        reduce (str): ``"sum"``: signed sum over channels; ``"abs_sum"``: sum of
            ``|map|``. Default: ``"sum"``
        settings (MethodSettings, optional): IG steps, SmoothGrad sampling,
            Grad-CAM layer, for a method given by name. Default:
            ``MethodSettings()``
        seed (int): seeds the noise of sampling methods. Default: 0
        batch_size (int): images per attribution and forward call. Default: 64
        options (Mapping, optional): extra keyword arguments of the method's
            ``attribute`` call.

    Returns:
        :class:`ExplainFunc`: ``explain(model=..., inputs=..., targets=...)``.

    Examples::

        >>> import quantus
        >>> metric = quantus.MPRT(layer_order="top_down", abs=False)
        >>> scores = metric(model=model, x_batch=x, y_batch=y, a_batch=None,
        ...                 explain_func=explain_func("enhanced_gbp"))
    """
    if reduce not in ("sum", "abs_sum"):
        raise ValueError(f"`reduce` must be 'sum' or 'abs_sum', got {reduce!r}")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be positive, got {batch_size}")
    spec = _method_spec(method, settings)
    return ExplainFunc(spec, reduce, int(seed), batch_size, dict(options or {}))
