"""Choose an attack's radius so that a set share of its attacks fails.

A fixed radius, like the paper's BIM ε = 3/255, can be far too strong for one
model (every attack succeeds, so there are no failed attacks to study) and too
weak for another. :func:`calibrate_epsilon` instead searches, on a calibration
subset of correctly classified images, for the radius at which a chosen share of
the attacks fails.

**The search.** The share of failed attacks falls as the radius grows (a larger
L-infinity ball contains the smaller one; iterative attacks make this only
roughly true). The search attacks the subset at both bounds, then bisects the
radius on a log scale (radii span orders of magnitude) until a radius gives the
failure count nearest the target, the bracket is narrower than
``rel_tolerance``, or ``max_steps`` bisection steps are spent. The chosen radius
is the evaluated one whose failure share is closest to the target (on a tie, an
end of the final bracket, then the smaller radius). Every evaluation is recorded
in the trace, and :attr:`EpsilonCalibration.monotone` says whether the shares
fell with the radius as assumed. For a deterministic attack (no random start)
the result is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise
from typing import Any

from torch import Tensor, nn

from captum_contrastive.attacks.base import FoolboxAttack

__all__ = [
    "CALIBRATION_STATUSES",
    "CalibrationError",
    "CalibrationStep",
    "EpsilonCalibration",
    "calibrate_epsilon",
]

#: What :attr:`EpsilonCalibration.status` can be: ``"hit"`` (a radius gives the
#: failure count nearest the target), ``"converged"`` (the target lies in a jump
#: of the failure share: the bracket got narrower than the tolerance, or the
#: steps ran out, without a hit), ``"low_bound"`` (even the smallest radius lets
#: too many attacks succeed) and ``"high_bound"`` (even the largest radius lets
#: too many attacks fail).
CALIBRATION_STATUSES = ("hit", "converged", "low_bound", "high_bound")


class CalibrationError(ValueError):
    """The target failure share cannot be reached between the radius bounds."""


@dataclass(frozen=True)
class CalibrationStep:
    """One evaluated radius of the search.

    Attributes:
        epsilon: the radius.
        failed: attacks of the subset that failed at it.
        n: images in the subset.
    """

    epsilon: float
    failed: int
    n: int

    @property
    def failure_share(self) -> float:
        """``failed / n``."""
        return self.failed / self.n

    def to_json(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "failed": self.failed,
            "n": self.n,
            "failure_share": self.failure_share,
        }


@dataclass(frozen=True)
class EpsilonCalibration:
    """The result of :func:`calibrate_epsilon`.

    Attributes:
        epsilon: the chosen radius.
        failure_share: the share of the subset's attacks that fail at it.
        target_failure: the share that should fail.
        n_images: images in the calibration subset.
        status: one of :data:`CALIBRATION_STATUSES`.
        trace: every evaluated radius, in evaluation order (both bounds first).
        settings: what the search depended on: the attack's settings without its
            radius, the target, the bounds, ``max_steps`` and ``rel_tolerance``.
    """

    epsilon: float
    failure_share: float
    target_failure: float
    n_images: int
    status: str
    trace: tuple[CalibrationStep, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def reached(self) -> bool:
        """The target was bracketed by the bounds (status ``"hit"`` or
        ``"converged"``); ``False`` when the radius is one of the bounds because
        the target lies beyond it."""
        return self.status in ("hit", "converged")

    @property
    def monotone(self) -> bool:
        """The failure share never rose with the radius among the evaluations."""
        ordered = sorted(self.trace, key=lambda step: step.epsilon)
        return all(a.failed >= b.failed for a, b in pairwise(ordered))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back."""
        return {
            "epsilon": self.epsilon,
            "epsilon_255": self.epsilon * 255,
            "failure_share": self.failure_share,
            "target_failure": self.target_failure,
            "n_images": self.n_images,
            "status": self.status,
            "reached": self.reached,
            "monotone": self.monotone,
            "trace": [step.to_json() for step in self.trace],
            "settings": self.settings,
        }

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> EpsilonCalibration:
        """The calibration :meth:`to_json` wrote."""
        step_fields = [f.name for f in fields(CalibrationStep)]
        return cls(
            epsilon=values["epsilon"],
            failure_share=values["failure_share"],
            target_failure=values["target_failure"],
            n_images=values["n_images"],
            status=values["status"],
            trace=tuple(
                CalibrationStep(**{k: step[k] for k in step_fields})
                for step in values["trace"]
            ),
            settings=values["settings"],
        )


def _share(name: str, value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 < value < 1:
        raise ValueError(f"`{name}` must be a share in (0, 1), got {value!r}")
    return float(value)


def _check_search(low: Any, high: Any, max_steps: Any, rel_tolerance: Any) -> None:
    for name, value in (("low", low), ("high", high)):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise ValueError(f"`{name}` must be a positive radius, got {value!r}")
    if not low < high:
        raise ValueError(f"`low` must be below `high`, got {low!r} and {high!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"`max_steps` must be an integer >= 0, got {max_steps!r}")
    ok = isinstance(rel_tolerance, int | float) and not isinstance(rel_tolerance, bool)
    if not ok or not rel_tolerance > 0:
        raise ValueError(f"`rel_tolerance` must be positive, got {rel_tolerance!r}")


def calibrate_epsilon(
    model: nn.Module,
    images: Tensor,
    labels: Tensor | Sequence[int],
    attack: FoolboxAttack,
    *,
    target_failure: float = 0.5,
    low: float = 1e-4,
    high: float = 32 / 255,
    max_steps: int = 12,
    rel_tolerance: float = 0.02,
    preprocessing: dict[str, Any] | None = None,
    strict: bool = True,
) -> EpsilonCalibration:
    """The radius at which ``target_failure`` of the attacks on ``images`` fail.

    Bisects the radius on a log scale between ``low`` and ``high`` (see the
    module documentation). The subset's failure count can only take ``n + 1``
    values, so the search aims at the count nearest ``target_failure * n``.

    Args:
        model: classifier taking normalized images, returning logits.
        images: ``(N, C, H, W)`` calibration images in ``[0, 1]``, all classified
            correctly (a misclassified image would count as a success at any
            radius).
        labels: ``(N,)`` their true classes.
        attack: the attack to calibrate, with an ``epsilon`` field (e.g.
            :class:`~captum_contrastive.attacks.BIM`); its ``epsilon`` is replaced,
            its other settings are kept.
        target_failure: the share of attacks that should fail, in ``(0, 1)``.
        low, high: the smallest and largest radius tried, ``0 < low < high``.
        max_steps: bisection steps at most, after the two bounds.
        rel_tolerance: stop when ``high / low`` of the bracket is below
            ``1 + rel_tolerance``.
        preprocessing: Foolbox preprocessing, as for the attack's call.
        strict: raise :class:`CalibrationError` when the target lies beyond a
            bound; with ``False``, return that bound with status ``"low_bound"``
            or ``"high_bound"`` (and :attr:`~EpsilonCalibration.reached`
            ``False``).

    Returns:
        :class:`EpsilonCalibration`: the chosen radius, its failure share on the
        subset, the status, the trace of every evaluated radius and the
        settings.

    Raises:
        CalibrationError: ``strict`` and even ``low`` lets more attacks succeed
            than wanted, or even ``high`` lets more fail.
        ValueError: a bad setting, or an image of the subset is misclassified.
        TypeError: ``attack`` has no ``epsilon`` field.

    Examples::

        >>> result = calibrate_epsilon(model, images, labels, BIM(epsilon=3 / 255),
        ...                            target_failure=0.5, preprocessing=pre)
        >>> attack = BIM(epsilon=result.epsilon)
        >>> result.failure_share, result.status
        (0.5, 'hit')
    """
    target = _share("target_failure", target_failure)
    _check_search(low, high, max_steps, rel_tolerance)
    _check_attack(attack)
    n = _count_images(images)
    search = _Search(
        model,
        images,
        labels,
        attack,
        preprocessing,
        target,
        n,
        _calibration_settings(attack, target, low, high, max_steps, rel_tolerance),
        strict,
    )
    return _bisect(search, float(low), float(high), max_steps, rel_tolerance)


def _check_attack(attack: FoolboxAttack) -> None:
    """Raise :class:`TypeError` unless ``attack`` has an ``epsilon`` field."""
    if "epsilon" not in {f.name for f in fields(attack)}:
        raise TypeError(
            f"`attack` {type(attack).__name__} has no `epsilon` field to calibrate"
        )


def _count_images(images: Tensor) -> int:
    """The number of calibration images; :class:`ValueError` when there are none."""
    n = int(images.shape[0]) if images.dim() > 0 else 0
    if n < 1:
        raise ValueError("`images` is empty")
    return n


def _calibration_settings(
    attack: FoolboxAttack,
    target: float,
    low: float,
    high: float,
    max_steps: int,
    rel_tolerance: float,
) -> dict[str, Any]:
    """The settings recorded with the result (the attack's without ``epsilon``)."""
    return {
        "attack": {k: v for k, v in attack.settings().items() if k != "epsilon"},
        "target_failure": target,
        "low": float(low),
        "high": float(high),
        "max_steps": max_steps,
        "rel_tolerance": float(rel_tolerance),
    }


def _hit(error: float) -> bool:
    """Whether a failure count ``error`` off the target is the nearest count."""
    return abs(error) <= 0.5 + 1e-9


@dataclass
class _Search:
    """One calibration's inputs, target and trace of evaluated radii."""

    model: nn.Module
    images: Tensor
    labels: Tensor | Sequence[int]
    attack: FoolboxAttack
    preprocessing: dict[str, Any] | None
    target: float
    n: int
    settings: dict[str, Any]
    strict: bool
    trace: list[CalibrationStep] = field(default_factory=list)

    def evaluate(self, epsilon: float) -> float:
        """``failed - target * n`` at ``epsilon``: positive when too many fail."""
        batch = replace(self.attack, epsilon=epsilon)(
            self.model, self.images, self.labels, preprocessing=self.preprocessing
        )
        if not bool(batch.clean_correct.all()):
            rows = (~batch.clean_correct).nonzero().flatten()[:5].tolist()
            raise ValueError(
                f"the calibration images must be classified correctly; rows {rows} "
                "are not"
            )
        self.trace.append(CalibrationStep(epsilon, int((~batch.success).sum()), self.n))
        return self.trace[-1].failed - self.target * self.n

    def miss(self, step: CalibrationStep) -> float:
        """How many failures ``step`` is off the target (rounded: no float ties)."""
        return round(abs(step.failed - self.target * self.n), 9)

    def closest(self, lo: float, hi: float) -> CalibrationStep:
        """The closest step; then the final bracket's ``lo``/``hi``; then smallest."""
        return min(
            self.trace,
            key=lambda s: (self.miss(s), s.epsilon not in (lo, hi), s.epsilon),
        )

    def result(self, status: str, chosen: CalibrationStep) -> EpsilonCalibration:
        """The calibration choosing ``chosen``, with the whole trace."""
        return EpsilonCalibration(
            epsilon=chosen.epsilon,
            failure_share=chosen.failure_share,
            target_failure=self.target,
            n_images=self.n,
            status=status,
            trace=tuple(self.trace),
            settings=self.settings,
        )

    def beyond(self, status: str, step: CalibrationStep) -> EpsilonCalibration:
        """The target lies beyond bound ``step``: raise if strict, else choose it."""
        if self.strict:
            which, other, want = (
                ("smallest", "smaller", "fail")
                if status == "low_bound"
                else ("largest", "larger", "succeed")
            )
            raise CalibrationError(
                f"the target failure share {self.target:g} is out of reach: at the "
                f"{which} radius {step.epsilon:.6g}, {step.failure_share:.3g} of "
                f"the {self.n} attacks fail; a {other} radius is needed to make more "
                f"of them {want} (widen `low`/`high`)"
            )
        return self.result(status, step)


def _try_bounds(search: _Search, lo: float, hi: float) -> EpsilonCalibration | None:
    """The result when a bound decides it (a hit, or the target beyond it), or None."""
    error = search.evaluate(lo)
    if _hit(error):
        return search.result("hit", search.trace[-1])
    if error < 0:
        return search.beyond("low_bound", search.trace[-1])
    error = search.evaluate(hi)
    if _hit(error):
        return search.result("hit", search.trace[-1])
    if error > 0:
        return search.beyond("high_bound", search.trace[-1])
    return None


def _bisect(
    search: _Search, lo: float, hi: float, max_steps: int, rel_tolerance: float
) -> EpsilonCalibration:
    """Try both bounds, then bisect the bracket on a log scale."""
    decided = _try_bounds(search, lo, hi)
    if decided is not None:
        return decided
    for _ in range(max_steps):
        if hi / lo < 1 + rel_tolerance:
            break
        mid = math.sqrt(lo * hi)
        error = search.evaluate(mid)
        if _hit(error):
            return search.result("hit", search.trace[-1])
        if error > 0:
            lo = mid
        else:
            hi = mid
    return search.result("converged", search.closest(lo, hi))
