"""calibrate_epsilon: bisection of an attack's radius to a target failure share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor, nn

from captum_contrastive.attacks import (
    BIM,
    AdversarialBatch,
    CalibrationError,
    CarliniWagnerL2,
    EpsilonCalibration,
    FoolboxAttack,
    calibrate_epsilon,
)
from captum_contrastive.attacks.calibration import CalibrationStep

#: Image i is ``0.5 + MARGINS[i]`` everywhere: BIM fools the threshold model
#: exactly when its radius exceeds the image's margin.
MARGINS = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08)


def threshold_model() -> nn.Module:
    """Class 0 when the mean pixel exceeds 0.5, else class 1 (12 pixels)."""
    linear = nn.Linear(12, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.stack([torch.ones(12), -torch.ones(12)]))
        linear.bias.copy_(torch.tensor([-6.0, 6.0]))
    return nn.Sequential(nn.Flatten(), linear).eval()


def margin_images(margins: Sequence[float] = MARGINS) -> tuple[Tensor, Tensor]:
    values = torch.tensor(margins, dtype=torch.float32) + 0.5
    images = values.view(-1, 1, 1, 1).expand(-1, 3, 2, 2).contiguous()
    return images, torch.zeros(len(margins), dtype=torch.long)


def test_bisection_finds_the_radius_of_a_known_answer() -> None:
    model, (images, labels) = threshold_model(), margin_images()
    result = calibrate_epsilon(model, images, labels, BIM(epsilon=0.1))
    # half of the 8 attacks fail exactly when 0.04 < epsilon <= 0.05
    assert result.status == "hit" and result.reached
    assert 0.04 < result.epsilon <= 0.05
    assert result.failure_share == 0.5 and result.n_images == 8
    check = BIM(epsilon=result.epsilon)(model, images, labels)
    assert float((~check.success).float().mean()) == result.failure_share


def test_the_failure_share_falls_with_the_radius_and_the_trace_records_it() -> None:
    model, (images, labels) = threshold_model(), margin_images()
    result = calibrate_epsilon(
        model, images, labels, BIM(epsilon=0.1), target_failure=0.25
    )
    assert 0.06 < result.epsilon <= 0.07 and result.failure_share == 0.25
    assert result.monotone
    ordered = sorted(result.trace, key=lambda step: step.epsilon)
    shares = [step.failure_share for step in ordered]
    assert shares == sorted(shares, reverse=True)
    assert [s.epsilon for s in result.trace[:2]] == [1e-4, 32 / 255]
    assert result.trace[-1].epsilon == result.epsilon
    for step in result.trace:  # each recorded share is what the margins predict
        assert step.failed == sum(m >= step.epsilon for m in MARGINS)


def test_the_result_is_deterministic_and_round_trips_through_json() -> None:
    model, (images, labels) = threshold_model(), margin_images()
    first = calibrate_epsilon(model, images, labels, BIM(epsilon=0.1, steps=5))
    second = calibrate_epsilon(model, images, labels, BIM(epsilon=0.1, steps=5))
    assert first == second
    assert EpsilonCalibration.from_json(first.to_json()) == first
    settings = first.settings
    assert settings["attack"]["steps"] == 5 and "epsilon" not in settings["attack"]
    assert settings["target_failure"] == 0.5 and settings["max_steps"] == 12


def test_a_target_below_the_smallest_radius_raises_or_returns_the_flagged_bound():
    model, (images, labels) = threshold_model(), margin_images([1e-6] * 4)
    with pytest.raises(CalibrationError, match="smallest radius"):
        calibrate_epsilon(model, images, labels, BIM(epsilon=0.1))
    result = calibrate_epsilon(model, images, labels, BIM(epsilon=0.1), strict=False)
    assert result.status == "low_bound" and not result.reached
    assert result.epsilon == 1e-4 and result.failure_share == 0.0
    assert len(result.trace) == 1


def test_a_target_beyond_the_largest_radius_raises_or_returns_the_flagged_bound():
    model, (images, labels) = threshold_model(), margin_images([0.3] * 4)
    with pytest.raises(CalibrationError, match="largest radius"):
        calibrate_epsilon(model, images, labels, BIM(epsilon=0.1), high=0.1)
    result = calibrate_epsilon(
        model, images, labels, BIM(epsilon=0.1), high=0.1, strict=False
    )
    assert result.status == "high_bound" and not result.reached
    assert result.epsilon == 0.1 and result.failure_share == 1.0


class Scripted(FoolboxAttack):
    """Fails on the first ``FAILED(epsilon)`` images, whatever the model."""

    name: ClassVar[str] = "scripted"
    FAILED: ClassVar[Callable[[float], int]] = staticmethod(lambda epsilon: 0)

    epsilon: float = 0.1

    def foolbox_attack(self, targeted: bool = False) -> Any:
        raise NotImplementedError

    def foolbox_epsilons(self) -> float:
        return self.epsilon

    def __call__(self, model, images, labels, **_: Any) -> AdversarialBatch:
        n = images.shape[0]
        success = torch.arange(n) >= type(self).FAILED(self.epsilon)
        labels = torch.as_tensor(labels)
        return AdversarialBatch(
            attack=self.name,
            clean=images,
            adversarial=images,
            labels=labels,
            clean_predictions=labels,
            adversarial_predictions=torch.where(success, labels + 1, labels),
            success=success,
            l2=torch.zeros(n),
            linf=torch.zeros(n),
            indices=torch.arange(n),
        )


def scripted(failed: Callable[[float], int]) -> type[Scripted]:
    return type("Curve", (Scripted,), {"FAILED": staticmethod(failed)})


def test_a_jump_across_the_target_converges_to_the_closest_share() -> None:
    attack = scripted(lambda epsilon: 8 if epsilon < 0.01 else 0)()
    images, labels = margin_images()
    result = calibrate_epsilon(None, images, labels, attack, max_steps=30)
    assert result.status == "converged" and result.reached
    assert len(result.trace) < 32, "stops at the relative tolerance"
    lower = max(s.epsilon for s in result.trace if s.failed == 8)
    upper = min(s.epsilon for s in result.trace if s.failed == 0)
    assert lower < 0.01 <= upper and upper / lower < 1.02
    # the shares 1 and 0 are equally far from 0.5: the smaller radius wins
    assert result.epsilon == lower and result.failure_share == 1.0


def test_a_non_monotone_curve_still_ends_at_a_crossing_and_is_flagged() -> None:
    # the failures rise again between 0.002 and 0.004: a noisy, non-monotone curve
    def failed(epsilon: float) -> int:
        if 0.002 <= epsilon < 0.004:
            return 8
        return 7 if epsilon < 0.02 else 2

    images, labels = margin_images()
    result = calibrate_epsilon(
        None, images, labels, scripted(failed)(), target_failure=0.5, max_steps=20
    )
    assert not result.monotone
    assert result.status == "converged"
    best = min(abs(s.failure_share - 0.5) for s in result.trace)
    assert abs(result.failure_share - 0.5) == best
    assert abs(result.epsilon - 0.02) / 0.02 < 0.05


def test_max_steps_bounds_the_evaluations() -> None:
    images, labels = margin_images()
    attack = scripted(lambda epsilon: 8 if epsilon < 0.01 else 0)()
    result = calibrate_epsilon(None, images, labels, attack, max_steps=3)
    assert len(result.trace) == 2 + 3 and result.status == "converged"
    result = calibrate_epsilon(None, images, labels, attack, max_steps=0)
    assert len(result.trace) == 2


def test_a_trace_whose_share_rises_is_not_monotone() -> None:
    trace = (CalibrationStep(0.1, 2, 4), CalibrationStep(0.2, 3, 4))
    result = EpsilonCalibration(0.1, 0.5, 0.5, 4, "hit", trace)
    assert not result.monotone and result.reached
    assert result.to_json()["trace"][1]["failure_share"] == 0.75


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"target_failure": 0.0}, "target_failure"),
        ({"target_failure": 1.0}, "target_failure"),
        ({"target_failure": True}, "target_failure"),
        ({"low": 0.0}, "low"),
        ({"high": float("inf")}, "high"),
        ({"low": 0.2, "high": 0.1}, "low"),
        ({"max_steps": -1}, "max_steps"),
        ({"rel_tolerance": 0}, "rel_tolerance"),
    ],
)
def test_bad_settings_are_refused_naming_them(changes, name) -> None:
    images, labels = margin_images()
    with pytest.raises(ValueError, match=f"`{name}`"):
        calibrate_epsilon(threshold_model(), images, labels, BIM(0.1), **changes)


def test_an_attack_without_a_radius_and_misclassified_images_are_refused() -> None:
    model, (images, labels) = threshold_model(), margin_images()
    with pytest.raises(TypeError, match="no `epsilon` field"):
        calibrate_epsilon(model, images, labels, CarliniWagnerL2(steps=1))
    labels[2] = 1
    with pytest.raises(ValueError, match=r"rows \[2\]"):
        calibrate_epsilon(model, images, labels, BIM(epsilon=0.1))
