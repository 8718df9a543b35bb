"""The declarative base of the Foolbox adapters: settings as fields, data in the call.

Every subclass of :class:`FoolboxAttack` is a frozen dataclass: its settings are
fields, and ``repr``, :meth:`~FoolboxAttack.hyperparameters`,
:meth:`~FoolboxAttack.params` and :meth:`~FoolboxAttack.settings` are all derived
from them, so they cannot drift from the code. The call machinery (validation of
the data, chunking, re-verification, bookkeeping) is shared; see
:mod:`captum_contrastive.attacks.foolbox_attacks` for what the result means.
"""

from __future__ import annotations

import math
import numbers
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

import foolbox as fb
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.attacks.model_state import model_device, preserved_model_state

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # pragma: no cover - Python 3.10

    def dataclass_transform(**_: Any) -> Callable[[type], type]:
        return lambda cls: cls


__all__ = ["BOUNDS", "FoolboxAttack"]

BOUNDS = (0.0, 1.0)

#: Field metadata key: ``True`` for fields that say how an attack runs rather than
#: what it computes (``batch_size``, ``progress``). They are not hyper-parameters
#: and appear in the ``repr`` only when they differ from their default.
RUN = "run"
#: Field metadata key: ``False`` for fields that cannot change the adversarial
#: images (``progress``). They are left out of :meth:`FoolboxAttack.settings`.
AFFECTS_RESULT = "affects_result"

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
@dataclass(frozen=True, repr=False)
class FoolboxAttack(ABC):
    """Base class: declarative settings, validation, chunking and re-verification.

    Settings go in the constructor, data in the call. Every subclass is made a
    frozen dataclass automatically (do not decorate it with ``@dataclass``): its
    annotated class attributes are its settings, validated in ``__post_init__``,
    which must call ``super().__post_init__()``; there
    ``self._validate_field(name, check)`` stores a checked value in the frozen
    instance. A subclass names the Foolbox attack (:meth:`foolbox_attack`) and its
    ``epsilons`` argument (:meth:`foolbox_epsilons`);
    :func:`~captum_contrastive.attacks.register_attack` gives it its name.

    Args:
        batch_size: images per Foolbox call; ``None`` attacks all at once.
        progress: show a tqdm progress bar over the images.

    Examples::

        >>> @register_attack("my_fgsm")
        ... class MyFGSM(FoolboxAttack):
        ...     epsilon: float = 0.03
        ...
        ...     def foolbox_attack(self, targeted=False):
        ...         return fb.attacks.LinfFastGradientAttack(random_start=False)
        ...
        ...     def foolbox_epsilons(self):
        ...         return self.epsilon
        >>> MyFGSM(epsilon=0.1, batch_size=8)
        MyFGSM(epsilon=0.1, batch_size=8)
    """

    name: ClassVar[str]
    zero_means_failure: ClassVar[bool] = False

    batch_size: int | None = field(default=None, kw_only=True, metadata={RUN: True})
    progress: bool = field(
        default=False,
        kw_only=True,
        repr=False,
        compare=False,
        metadata={RUN: True, AFFECTS_RESULT: False},
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True, repr=False)(cls)

    def __post_init__(self) -> None:
        self._validate_field("batch_size", _optional(_positive_int))
        self._validate_field("progress", _flag)

    def _validate_field(self, name: str, check: Callable[[str, Any], Any]) -> None:
        """Replace field ``name`` with ``check(name, value)``; it raises if bad."""
        object.__setattr__(self, name, check(name, getattr(self, name)))

    @abstractmethod
    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        """The configured Foolbox attack object for an (un)targeted run."""

    @abstractmethod
    def foolbox_epsilons(self) -> float | None:
        """The ``epsilons`` argument of the Foolbox call."""

    def hyperparameters(self) -> dict[str, Any]:
        """The attack's own settings, one entry per field, in field order.

        Returns:
            Every field except those that say how the attack runs
            (``batch_size``, ``progress``), as JSON-ready values.
        """
        return {
            f.name: _json_ready(f.name, getattr(self, f.name))
            for f in fields(self)
            if not f.metadata.get(RUN, False)
        }

    def settings(self) -> dict[str, Any]:
        """Everything the adversarial images depend on, as a JSON-ready dict.

        Meant to be hashed into cache keys: it holds the registry name, every
        field that can change the result (``batch_size`` included: C&W with early
        abort depends on its chunk, and batched kernels may round differently),
        the pixel bounds and the Foolbox version; it leaves out what cannot
        (``progress``). Call data (images, targets, preprocessing, device) is not
        part of it.

        Returns:
            ``{"attack": name, <field>: value, ..., "bounds": [0.0, 1.0],
            "foolbox_version": ...}``.

        Examples::

            >>> FGSM(epsilon=0.03).settings()
            {'attack': 'fgsm', 'epsilon': 0.03, 'batch_size': None, 'bounds': [0.0, 1.0], 'foolbox_version': '3.3.4'}
        """  # noqa: E501
        run = {
            f.name: _json_ready(f.name, getattr(self, f.name))
            for f in fields(self)
            if f.metadata.get(RUN, False) and f.metadata.get(AFFECTS_RESULT, True)
        }
        return {
            "attack": self.name,
            **self.hyperparameters(),
            **run,
            "bounds": list(BOUNDS),
            "foolbox_version": fb.__version__,
        }

    def params(self, targeted: bool = False) -> dict[str, Any]:
        """Everything needed to reproduce a run (``AdversarialBatch.params``).

        Args:
            targeted: whether the run is targeted.

        Returns:
            The hyper-parameters plus ``targeted``, ``bounds``, ``batch_size`` and
            ``foolbox_version``.
        """
        return {
            **self.hyperparameters(),
            "targeted": targeted,
            "bounds": list(BOUNDS),
            "batch_size": self.batch_size,
            "foolbox_version": fb.__version__,
        }

    def __repr__(self) -> str:
        shown = dict(self.hyperparameters())
        for f in fields(self):
            value = getattr(self, f.name)
            if f.repr and f.metadata.get(RUN, False) and value != f.default:
                shown[f.name] = value
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}({args})"

    def __call__(
        self,
        model: nn.Module,
        images: Tensor,
        labels: Tensor | Sequence[int],
        *,
        preprocessing: dict[str, Any] | None = None,
        indices: Tensor | Sequence[int] | None = None,
        targets: Tensor | Sequence[int] | None = None,
    ) -> AdversarialBatch:
        """Attack ``images`` and re-verify every result with a fresh forward pass.

        The model keeps its device, its train/eval mode, and its parameters'
        ``requires_grad`` flags and ``.grad`` tensors, also when the attack raises.

        Args:
            model: classifier taking normalized images, returning logits.
            images: ``(N, C, H, W)`` float images in ``[0, 1]``.
            labels: ``(N,)`` true class indices.
            preprocessing: Foolbox preprocessing, ``dict(mean=..., std=...,
                axis=-3)``, e.g. ``Preset.preprocessing()``; ``None`` for a model
                that takes ``[0, 1]`` images directly.
            indices: ``(N,)`` dataset indices of the images; default
                ``arange(N)``.
            targets: ``(N,)`` target classes for a targeted attack (Foolbox's
                ``TargetedMisclassification``); ``None`` for an untargeted one.

        Returns:
            An :class:`AdversarialBatch` on the device of ``images``. See the
            module documentation of
            :mod:`~captum_contrastive.attacks.foolbox_attacks` for what
            ``success`` means.

        Examples::

            >>> attack = FGSM(epsilon=8 / 255)
            >>> batch = attack(model, images, labels, preprocessing=dict(
            ...     mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], axis=-3))
            >>> batch.success_rate
        """
        images, labels, indices, targets = _validate(images, labels, indices, targets)
        out_device = images.device
        device = model_device(model)
        n = images.shape[0]
        chunk = self.batch_size or n
        with preserved_model_state(model), torch.enable_grad():
            fmodel = fb.PyTorchModel(
                model, bounds=BOUNDS, preprocessing=preprocessing, device=device
            )
            x = images.detach().to(device=device, dtype=_model_dtype(model))
            y = labels.to(device)
            t = None if targets is None else targets.to(device)
            clean_logits = _logits(fmodel, x, chunk)
            _check_classes(clean_logits.shape[1], labels, targets)
            clean_pred = clean_logits.argmax(1)
            raw = torch.empty_like(x)
            bar = tqdm(total=n, desc=self.name, unit="img", disable=not self.progress)
            with bar:
                for rows in _chunks(n, chunk):
                    goal = None if t is None else t[rows]
                    raw[rows] = self._attack_chunk(fmodel, x[rows], y[rows], goal)
                    bar.update(rows.stop - rows.start)
            raw_pred = _logits(fmodel, raw, chunk).argmax(1)

        goal = y if t is None else t
        returned = torch.ones(n, dtype=torch.bool, device=raw.device)
        if self.zero_means_failure:
            returned = ~(_all_zero(raw) & ~_all_zero(x))
        adversarial = torch.where(returned.view(-1, 1, 1, 1), raw, x)
        adv_pred = torch.where(returned, raw_pred, clean_pred)
        success = _meets(adv_pred, goal, targeted=t is not None)
        delta = (adversarial - x).flatten(1)
        return AdversarialBatch(
            attack=self.name,
            clean=images.detach().clone(),
            adversarial=adversarial.to(out_device, images.dtype),
            labels=labels,
            clean_predictions=clean_pred.to(out_device),
            adversarial_predictions=adv_pred.to(out_device),
            success=success.to(out_device),
            l2=delta.norm(p=2, dim=1).to(out_device, images.dtype),
            linf=delta.abs().amax(dim=1).to(out_device, images.dtype),
            indices=indices,
            targets=targets,
            params=self.params(targeted=targets is not None),
        )

    def _attack_chunk(
        self,
        fmodel: fb.PyTorchModel,
        x: Tensor,
        labels: Tensor,
        targets: Tensor | None,
    ) -> Tensor:
        if targets is None:
            criterion: Any = fb.criteria.Misclassification(labels)
        else:
            criterion = fb.criteria.TargetedMisclassification(targets)
        attack = self.foolbox_attack(targeted=targets is not None)
        _, clipped, _ = attack(fmodel, x, criterion, epsilons=self.foolbox_epsilons())
        return clipped.detach()


# Field checks: each takes the field's name and value and returns the value to
# store, or raises a ValueError naming the field.


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a positive number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}")
    return float(value)


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a number >= 0, got {value!r}")
    return float(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}")
    return int(value)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise ValueError(f"`{name}` must be a bool, got {value!r}")


def _optional(check: Callable[[str, Any], T]) -> Callable[[str, Any], T | None]:
    def optional(name: str, value: Any) -> T | None:
        return None if value is None else check(name, value)

    return optional


def _json_ready(name: str, value: Any) -> Any:
    """``value`` as a plain JSON scalar (bool, int, finite float, str or None)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    raise TypeError(f"setting `{name}` = {value!r} is not a JSON-ready scalar")


# The call machinery.


def _validate(
    images: Tensor,
    labels: Tensor | Sequence[int],
    indices: Tensor | Sequence[int] | None,
    targets: Tensor | Sequence[int] | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    if not isinstance(images, Tensor):
        raise TypeError(f"`images` must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or not images.is_floating_point():
        raise ValueError(
            "`images` must be a float tensor of shape (N, C, H, W), got "
            f"{images.dtype} of shape {tuple(images.shape)}"
        )
    n = images.shape[0]
    if n == 0:
        raise ValueError("`images` is an empty batch")
    if not torch.isfinite(images).all():
        raise ValueError("`images` contains NaN or infinite values")
    low, high = float(images.detach().min()), float(images.detach().max())
    if low < BOUNDS[0] or high > BOUNDS[1]:
        raise ValueError(
            f"`images` must lie in [{BOUNDS[0]}, {BOUNDS[1]}] (pixel space, before "
            f"normalization), got values in [{low:.4g}, {high:.4g}]; pass the "
            "normalization as `preprocessing` instead of normalizing the images"
        )
    labels = _class_vector("labels", labels, n, images.device)
    if indices is None:
        indices = torch.arange(n, device=images.device)
    else:
        indices = _class_vector("indices", indices, n, images.device)
    if targets is not None:
        targets = _class_vector("targets", targets, n, images.device)
        same = targets == labels
        if same.any():
            rows = same.nonzero().flatten()[:5].tolist()
            raise ValueError(f"`targets` equal `labels` at rows {rows}")
    return images, labels, indices, targets


def _class_vector(name: str, values: Any, n: int, device: torch.device) -> Tensor:
    tensor = torch.as_tensor(values, device=device)
    if tensor.dim() != 1 or tensor.shape[0] != n:
        raise ValueError(
            f"`{name}` must have shape ({n},) to match `images`, got "
            f"{tuple(tensor.shape)}"
        )
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise ValueError(f"`{name}` must hold integers, got {tensor.dtype}")
    if (tensor < 0).any():
        raise ValueError(f"`{name}` must be non-negative")
    return tensor.long()


def _check_classes(num_classes: int, labels: Tensor, targets: Tensor | None) -> None:
    for name, values in (("labels", labels), ("targets", targets)):
        if values is not None and int(values.max()) >= num_classes:
            raise ValueError(
                f"`{name}` contains class {int(values.max())} but the model has "
                f"{num_classes} outputs"
            )


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _logits(fmodel: fb.PyTorchModel, x: Tensor, chunk: int) -> Tensor:
    with torch.no_grad():
        return torch.cat([fmodel(x[rows]) for rows in _chunks(x.shape[0], chunk)])


def _meets(predictions: Tensor, goal: Tensor, *, targeted: bool) -> Tensor:
    return predictions == goal if targeted else predictions != goal


def _all_zero(x: Tensor) -> Tensor:
    return x.flatten(1).abs().amax(dim=1) == 0


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32
