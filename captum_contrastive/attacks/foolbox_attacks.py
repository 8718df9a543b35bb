"""Typed adapters over Foolbox 3 attacks that return an :class:`AdversarialBatch`.

Each attack is configured in its constructor and called on data, as in Foolbox::

    attack = CarliniWagnerL2(steps=200, binary_search_steps=5, confidence=0.0)
    batch = attack(model, images, labels, preprocessing=preset.preprocessing())

``model`` takes *normalized* images; ``images`` are in ``[0, 1]`` and
``preprocessing`` (``dict(mean=..., std=..., axis=-3)``) is applied by Foolbox.

**What ``success`` means.** Every returned image is re-classified with a fresh
forward pass. An attack output counts as found when that prediction meets the
criterion (untargeted: differs from ``labels``; targeted: equals ``targets``) and,
for C&W, the output is not Foolbox's all-zero placeholder for a failure.
``adversarial`` holds the attack's output for every image, also where the attack
failed (a perturbed image that did not fool the model, the paper's Adv_f); only
where the attack returned no image (C&W's all-zero placeholder) it holds the clean
image. ``success`` is the criterion evaluated on ``adversarial_predictions``, so an
image that is already
misclassified when clean counts as a success even with a zero perturbation. To
study attacks on correctly classified images only, keep the rows where
``clean_predictions == labels``, e.g.
``batch.select(batch.clean_predictions == batch.labels)``.

**Chunks and shards.** ``batch_size`` splits the images into consecutive chunks
attacked one at a time. FGSM, BIM, and C&W without early abort treat every image
independently. C&W with ``abort_early=True`` stops a chunk's optimization when the
chunk's *summed* loss stalls, so its result for an image depends on the other
images of its chunk: for results that do not depend on how a run is sharded, make
shards contiguous runs of whole chunks (or use ``batch_size=1``).
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import foolbox as fb
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.attacks.model_state import model_device, preserved_model_state

__all__ = ["BIM", "FGSM", "CarliniWagnerL2", "FoolboxAttack"]

BOUNDS = (0.0, 1.0)


class FoolboxAttack(ABC):
    """Base class: validation, chunking, re-verification and bookkeeping.

    Subclasses name the Foolbox attack, its ``epsilons`` argument and their
    hyper-parameters.

    Args:
        batch_size: images per Foolbox call; ``None`` attacks all at once.
        progress: show a tqdm progress bar over the images.
    """

    name: ClassVar[str]
    zero_means_failure: ClassVar[bool] = False

    def __init__(
        self, *, batch_size: int | None = None, progress: bool = False
    ) -> None:
        self.batch_size = (
            None if batch_size is None else _positive_int("batch_size", batch_size)
        )
        self.progress = progress

    @abstractmethod
    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        """The configured Foolbox attack object for an (un)targeted run."""

    @abstractmethod
    def epsilon(self) -> float | None:
        """The ``epsilons`` argument of the Foolbox call."""

    @abstractmethod
    def hyperparameters(self) -> dict[str, Any]:
        """The attack's own hyper-parameters."""

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
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
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
            module documentation for what ``success`` means.

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
        _, clipped, _ = attack(fmodel, x, criterion, epsilons=self.epsilon())
        return clipped.detach()


class FGSM(FoolboxAttack):
    """Fast Gradient Sign Method (L-infinity), Foolbox's ``LinfFastGradientAttack``.

    Foolbox's FGSM refuses targeted criteria; the targeted variant is the same
    single signed-gradient step of size ``epsilon``, run as Foolbox's
    ``LinfBasicIterativeAttack(steps=1, rel_stepsize=1)`` descending the loss of
    ``targets``.

    Args:
        epsilon: L-infinity radius in pixel units (``[0, 1]`` images), e.g.
            ``8 / 255``.
        batch_size: images per Foolbox call; ``None`` attacks all at once.
        progress: show a tqdm progress bar.

    Examples::

        >>> batch = FGSM(epsilon=0.03)(model, images, labels)
    """

    name = "fgsm"

    def __init__(
        self, epsilon: float, *, batch_size: int | None = None, progress: bool = False
    ) -> None:
        super().__init__(batch_size=batch_size, progress=progress)
        self._epsilon = _positive("epsilon", epsilon)

    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        if targeted:
            return fb.attacks.LinfBasicIterativeAttack(
                rel_stepsize=1.0, steps=1, random_start=False
            )
        return fb.attacks.LinfFastGradientAttack(random_start=False)

    def epsilon(self) -> float:
        return self._epsilon

    def hyperparameters(self) -> dict[str, Any]:
        return {"epsilon": self._epsilon}


class BIM(FoolboxAttack):
    """Basic Iterative Method (L-infinity), Foolbox's ``LinfBasicIterativeAttack``.

    Deterministic: no random start.

    Args:
        epsilon: L-infinity radius in pixel units.
        steps: number of gradient-sign steps.
        rel_stepsize: step size as a fraction of ``epsilon``.
        abs_stepsize: absolute step size; overrides ``rel_stepsize`` when given.
        batch_size: images per Foolbox call; ``None`` attacks all at once.
        progress: show a tqdm progress bar.

    Examples::

        >>> batch = BIM(epsilon=0.03, steps=10, rel_stepsize=0.2)(model, x, y)
    """

    name = "bim"

    def __init__(
        self,
        epsilon: float,
        steps: int = 10,
        rel_stepsize: float = 0.2,
        abs_stepsize: float | None = None,
        *,
        batch_size: int | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__(batch_size=batch_size, progress=progress)
        self._epsilon = _positive("epsilon", epsilon)
        self.steps = _positive_int("steps", steps)
        self.rel_stepsize = _positive("rel_stepsize", rel_stepsize)
        self.abs_stepsize = (
            None if abs_stepsize is None else _positive("abs_stepsize", abs_stepsize)
        )

    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        return fb.attacks.LinfBasicIterativeAttack(
            rel_stepsize=self.rel_stepsize,
            abs_stepsize=self.abs_stepsize,
            steps=self.steps,
            random_start=False,
        )

    def epsilon(self) -> float:
        return self._epsilon

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "epsilon": self._epsilon,
            "steps": self.steps,
            "rel_stepsize": self.rel_stepsize,
            "abs_stepsize": self.abs_stepsize,
            "random_start": False,
        }


class CarliniWagnerL2(FoolboxAttack):
    """Carlini & Wagner L2, Foolbox's ``L2CarliniWagnerAttack``, unbounded.

    Called with ``epsilons=None``: a finite epsilon would clip the perturbation
    (foolbox#669). Foolbox returns all-zero images where it found nothing; those
    rows get the clean image and count as failures.

    Args:
        steps: Adam steps per binary-search step. Foolbox's default (10000) is far
            too slow on a CPU; a few hundred with ``abort_early`` is typical.
        binary_search_steps: steps of the search over the loss constant.
        confidence: the margin κ by which the adversarial logit must beat the
            others; larger values give stronger, larger perturbations.
        initial_const: the first loss constant of the search.
        stepsize: Adam's learning rate.
        abort_early: stop a search step when the chunk's loss stops decreasing.
        batch_size: images per Foolbox call; ``None`` attacks all at once.
        progress: show a tqdm progress bar.

    Examples::

        >>> attack = CarliniWagnerL2(steps=200, binary_search_steps=5)
        >>> batch = attack(model, images, labels, preprocessing=preprocessing)
        >>> batch.successful().l2.median()
    """

    name = "cw"
    zero_means_failure = True

    def __init__(
        self,
        steps: int = 1000,
        binary_search_steps: int = 9,
        confidence: float = 0.0,
        initial_const: float = 1e-3,
        stepsize: float = 1e-2,
        abort_early: bool = True,
        *,
        batch_size: int | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__(batch_size=batch_size, progress=progress)
        self.steps = _positive_int("steps", steps)
        self.binary_search_steps = _positive_int(
            "binary_search_steps", binary_search_steps
        )
        if not math.isfinite(confidence) or confidence < 0:
            raise ValueError(f"`confidence` must be >= 0, got {confidence!r}")
        self.confidence = float(confidence)
        self.initial_const = _positive("initial_const", initial_const)
        self.stepsize = _positive("stepsize", stepsize)
        self.abort_early = bool(abort_early)

    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        return fb.attacks.L2CarliniWagnerAttack(
            binary_search_steps=self.binary_search_steps,
            steps=self.steps,
            stepsize=self.stepsize,
            confidence=self.confidence,
            initial_const=self.initial_const,
            abort_early=self.abort_early,
        )

    def epsilon(self) -> None:
        return None

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "binary_search_steps": self.binary_search_steps,
            "confidence": self.confidence,
            "initial_const": self.initial_const,
            "stepsize": self.stepsize,
            "abort_early": self.abort_early,
        }


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


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a positive number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}")
    return float(value)


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}")
    return int(value)
