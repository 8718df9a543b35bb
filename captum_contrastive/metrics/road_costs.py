"""What ROAD curves cost: seconds in imputations and forward passes.

:func:`record_road_costs` is a context manager: every ROAD curve computed
inside it (:func:`~captum_contrastive.metrics.road.road_curve`,
:func:`~captum_contrastive.metrics.road.road_curves`, and so the pipeline's
ROAD study) adds the seconds of its imputations and forward passes to the
:class:`RoadProfile` it yields. With ``time_alone`` each stacked imputation is
also timed again, one image at a time, with the same solver, so that what
stacking costs is measured in the same run
(:mod:`captum_contrastive.profiling.road_cost` runs the study this way).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["RoadProfile", "active_road_profiles", "record_road_costs"]


@dataclass
class RoadProfile:
    """Seconds a ROAD run spent imputing and in forward passes.

    Collected by :func:`~captum_contrastive.metrics.road.road_curves` inside
    :func:`record_road_costs`. With ``time_alone``, every stacked imputation call
    is followed by one call of the same solver per image of the stack, timed
    apart (``alone_seconds``), so the cost of stacking is measured on the same
    images, masks and machine state.

    Attributes:
        time_alone: also time each image's imputation alone.
        imputation_seconds: in the stacked imputation calls (solver and noise).
        imputed_images: images imputed by those calls (one per image and
            fraction).
        imputation_calls: the stacked calls.
        imputation_cpu_seconds: the process's CPU time in the stacked calls.
        alone_seconds: in the single-image calls (with ``time_alone``).
        alone_images: the single-image calls.
        alone_cpu_seconds: the process's CPU time in those calls.
        forward_seconds: in the model's forward passes (with the arg-max and
            softmax read-out).
        forward_images: images passed forward.
        forward_calls: forward passes.
        curve_seconds: in :func:`~captum_contrastive.metrics.road.road_curves`
            calls, all of it (imputations, forward passes, rankings, noise),
            less the single-image timings.
        curve_calls: the :func:`~captum_contrastive.metrics.road.road_curves`
            calls.
    """

    time_alone: bool = False
    imputation_seconds: float = 0.0
    imputed_images: int = 0
    imputation_calls: int = 0
    imputation_cpu_seconds: float = 0.0
    alone_seconds: float = 0.0
    alone_images: int = 0
    alone_cpu_seconds: float = 0.0
    forward_seconds: float = 0.0
    forward_images: int = 0
    forward_calls: int = 0
    curve_seconds: float = 0.0
    curve_calls: int = 0

    def per_imputation(self) -> float:
        """Seconds per image imputation inside the stacked calls."""
        return self.imputation_seconds / max(self.imputed_images, 1)

    def per_alone_imputation(self) -> float:
        """Seconds per single-image call of the same solver (``nan`` if none)."""
        if not self.alone_images:
            return float("nan")
        return self.alone_seconds / self.alone_images

    def cpu_ratio(self) -> float:
        """CPU seconds per imputation in the stacked calls over those of the
        single-image calls (``nan`` without them)."""
        if not self.alone_images or not self.alone_cpu_seconds:
            return float("nan")
        stacked = self.imputation_cpu_seconds / max(self.imputed_images, 1)
        return stacked / (self.alone_cpu_seconds / self.alone_images)

    def per_forward_image(self) -> float:
        """Seconds per image of a forward pass."""
        return self.forward_seconds / max(self.forward_images, 1)


_PROFILES: ContextVar[tuple[RoadProfile, ...]] = ContextVar("road_profiles", default=())


@contextmanager
def record_road_costs(time_alone: bool = False) -> Iterator[RoadProfile]:
    """Collect the imputation and forward costs of every ROAD curve computed
    inside the block (:func:`road_curve`, :func:`road_curves` and so the ROAD
    study of the pipeline), into the :class:`RoadProfile` it yields.

    Args:
        time_alone (bool): also time each image's imputation in a single-image
            call of the same solver, right after its stacked call. Default: False

    Examples::

        >>> with record_road_costs(time_alone=True) as profile:
        ...     road_curve(model, images, labels, maps)
        >>> profile.per_imputation() / profile.per_alone_imputation()
    """
    profile = RoadProfile(time_alone=time_alone)
    token = _PROFILES.set((*_PROFILES.get(), profile))
    try:
        yield profile
    finally:
        _PROFILES.reset(token)


def active_road_profiles() -> tuple[RoadProfile, ...]:
    """The profiles of the :func:`record_road_costs` blocks now open, outermost
    first (empty outside any)."""
    return _PROFILES.get()
