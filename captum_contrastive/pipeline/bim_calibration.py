"""The cached stage that calibrates BIM's radius per model (``bim_calibrate_failure``).

It runs before the attacks, on the first ``bim_calibration_images`` selected
images, and its key holds everything the chosen radius depends on: the model's
fingerprint, the data's identity, the selection, BIM's other settings, the
target share, the subset's size, the search bounds and settings, and the code of
the attacks package. The BIM run then attacks with the chosen radius, which is
part of its own attack key, so a changed calibration never reuses BIM shards of
another radius.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from captum_contrastive.attacks.calibration import EpsilonCalibration, calibrate_epsilon
from captum_contrastive.attacks.foolbox_attacks import BIM
from captum_contrastive.fingerprint import tensor_digest
from captum_contrastive.pipeline.cache import StageKey
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.stages import (
    Selection,
    StageContext,
    attack_settings,
    load_images,
)

__all__ = ["CalibratedRadius", "calibrate_bim"]

#: Bisection steps at most of the pipeline's calibration, after both bounds.
MAX_STEPS = 12
#: The calibration stops when the bracket's high/low ratio is below 1 + this.
REL_TOLERANCE = 0.02


@dataclass(frozen=True)
class CalibratedRadius:
    """The calibration of one run and the key it was computed under."""

    calibration: EpsilonCalibration
    key: StageKey

    def to_json(self) -> dict[str, Any]:
        """The calibration as JSON, with its key's digest (``"key"``)."""
        return {**self.calibration.to_json(), "key": self.key.digest}


def calibrate_bim(
    context: StageContext,
    attack: BIM,
    selection: Selection,
    config: BenchmarkConfig,
) -> CalibratedRadius:
    """BIM's radius for ``config.bim_calibrate_failure``, cached.

    Args:
        context (StageContext): the run's model, data and cache.
        attack (BIM): the run's BIM; every setting but ``epsilon`` is kept.
        selection (Selection): the selected images; the first
            ``config.bim_calibration_images`` of them are the subset.
        config (BenchmarkConfig): the run's settings.

    Returns:
        :class:`CalibratedRadius`. A target beyond
        ``config.bim_calibration_bounds`` is not an error: the bound is
        returned, with status ``"low_bound"`` or ``"high_bound"``.
    """
    if config.bim_calibrate_failure is None:
        raise ValueError("`bim_calibrate_failure` is None: nothing to calibrate")
    subset = selection.indices[: config.bim_calibration_images]
    low, high = config.bim_calibration_bounds
    template = replace(attack, batch_size=config.shard_size, progress=False)
    search = {
        "target_failure": float(config.bim_calibrate_failure),
        "low": float(low),
        "high": float(high),
        "max_steps": MAX_STEPS,
        "rel_tolerance": REL_TOLERANCE,
    }
    settings = {k: v for k, v in attack_settings(template).items() if k != "epsilon"}
    key = context.key(
        "calibrate",
        attack=settings,
        selection=selection.key.digest,
        n=len(subset),
        search=search,
    )
    images, labels, _ = load_images(context.preset.dataset, subset)

    def compute(_: list[int]) -> dict[str, Any]:
        return calibrate_epsilon(
            context.preset.model,
            images.to(context.device),
            labels.to(context.device),
            template,
            preprocessing=context.preset.preprocessing(),
            strict=False,
            **search,
        ).to_json()

    cache = context.cache(key)
    result = cache.load_or_compute(subset, compute, tensor_digest([images, labels]))
    return CalibratedRadius(EpsilonCalibration.from_json(result), key)
