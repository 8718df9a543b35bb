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

**Settings.** Every attack is a frozen dataclass whose fields are its settings;
``repr``, ``hyperparameters()``, ``params()`` and ``settings()`` (JSON-ready, for
cache keys) are derived from them. Attacks register by name with
:func:`~captum_contrastive.attacks.register_attack`; build one by name with
:func:`~captum_contrastive.attacks.build_attack`.

**Chunks and shards.** ``batch_size`` splits the images into consecutive chunks
attacked one at a time. FGSM, BIM, PGD-L2 and C&W without early abort treat
every image independently (BIM and PGD-L2 with ``random_start`` draw their start
per chunk from torch's global RNG). C&W with ``abort_early=True`` stops a
chunk's optimization when the chunk's *summed* loss stalls, so its result for an
image depends on the other images of its chunk: for results that do not depend on
how a run is sharded, make shards contiguous runs of whole chunks (or use
``batch_size=1``).
"""

from __future__ import annotations

import foolbox as fb

from captum_contrastive.attacks.base import (
    FoolboxAttack,
    _flag,
    _non_negative,
    _optional,
    _positive,
    _positive_int,
)
from captum_contrastive.attacks.registry import register_attack

__all__ = ["BIM", "FGSM", "PGDL2", "CarliniWagnerL2", "FoolboxAttack"]


@register_attack("fgsm")
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

    epsilon: float

    def __post_init__(self) -> None:
        super().__post_init__()
        self._validate_field("epsilon", _positive)

    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        if targeted:
            return fb.attacks.LinfBasicIterativeAttack(
                rel_stepsize=1.0, steps=1, random_start=False
            )
        return fb.attacks.LinfFastGradientAttack(random_start=False)

    def foolbox_epsilons(self) -> float:
        return float(self.epsilon)


@register_attack("bim")
class BIM(FoolboxAttack):
    """Basic Iterative Method (L-infinity), Foolbox's ``LinfBasicIterativeAttack``.

    Deterministic by default: no random start.

    Args:
        epsilon: L-infinity radius in pixel units.
        steps: number of gradient-sign steps.
        rel_stepsize: step size as a fraction of ``epsilon``.
        abs_stepsize: absolute step size; overrides ``rel_stepsize`` when given.
        random_start: start from a uniform random point in the epsilon ball (then
            it is PGD-Linf). The draw comes from torch's global RNG on the model's
            device, so seed it (``torch.manual_seed``) for a reproducible run; it
            also makes the result depend on how the images are chunked.
        batch_size: images per Foolbox call; ``None`` attacks all at once.
        progress: show a tqdm progress bar.

    Examples::

        >>> batch = BIM(epsilon=0.03, steps=10, rel_stepsize=0.2)(model, x, y)
    """

    epsilon: float
    steps: int = 10
    rel_stepsize: float = 0.2
    abs_stepsize: float | None = None
    random_start: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._validate_field("epsilon", _positive)
        self._validate_field("steps", _positive_int)
        self._validate_field("rel_stepsize", _positive)
        self._validate_field("abs_stepsize", _optional(_positive))
        self._validate_field("random_start", _flag)

    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        return fb.attacks.LinfBasicIterativeAttack(
            rel_stepsize=self.rel_stepsize,
            abs_stepsize=self.abs_stepsize,
            steps=self.steps,
            random_start=self.random_start,
        )

    def foolbox_epsilons(self) -> float:
        return float(self.epsilon)


@register_attack("cw")
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

    zero_means_failure = True

    steps: int = 1000
    binary_search_steps: int = 9
    confidence: float = 0.0
    initial_const: float = 1e-3
    stepsize: float = 1e-2
    abort_early: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._validate_field("steps", _positive_int)
        self._validate_field("binary_search_steps", _positive_int)
        self._validate_field("confidence", _non_negative)
        self._validate_field("initial_const", _positive)
        self._validate_field("stepsize", _positive)
        self._validate_field("abort_early", _flag)

    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        return fb.attacks.L2CarliniWagnerAttack(
            binary_search_steps=self.binary_search_steps,
            steps=self.steps,
            stepsize=self.stepsize,
            confidence=self.confidence,
            initial_const=self.initial_const,
            abort_early=self.abort_early,
        )

    def foolbox_epsilons(self) -> None:
        return None


@register_attack("pgd_l2")
class PGDL2(FoolboxAttack):
    """Projected Gradient Descent (L2), Foolbox's ``L2ProjectedGradientDescentAttack``.

    Steps along the normalized gradient and projects back onto the L2 ball of
    radius ``epsilon`` (and into ``[0, 1]``). Deterministic by default: unlike
    Foolbox, no random start.

    Args:
        epsilon: L2 radius in pixel units (``[0, 1]`` images), over all channels
            and pixels of an image.
        steps: number of gradient steps.
        rel_stepsize: step size as a fraction of ``epsilon``.
        abs_stepsize: absolute step size; overrides ``rel_stepsize`` when given.
        random_start: start from a uniform random point in the L2 ball. The draw
            comes from torch's global RNG on the model's device, so seed it
            (``torch.manual_seed``) for a reproducible run; it also makes the
            result depend on how the images are chunked.
        batch_size: images per Foolbox call; ``None`` attacks all at once.
        progress: show a tqdm progress bar.

    Examples::

        >>> attack = PGDL2(epsilon=1.0, steps=50)
        >>> batch = attack(model, images, labels, preprocessing=preprocessing)
        >>> bool((batch.l2 <= 1.0 + 1e-5).all())
        True
    """

    epsilon: float
    steps: int = 50
    rel_stepsize: float = 0.025
    abs_stepsize: float | None = None
    random_start: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._validate_field("epsilon", _positive)
        self._validate_field("steps", _positive_int)
        self._validate_field("rel_stepsize", _positive)
        self._validate_field("abs_stepsize", _optional(_positive))
        self._validate_field("random_start", _flag)

    def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
        return fb.attacks.L2ProjectedGradientDescentAttack(
            rel_stepsize=self.rel_stepsize,
            abs_stepsize=self.abs_stepsize,
            steps=self.steps,
            random_start=self.random_start,
        )

    def foolbox_epsilons(self) -> float:
        return self.epsilon
