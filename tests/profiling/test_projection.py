import pytest

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.profiling.projection import (
    UnitCosts,
    measure_unit_costs,
    project_run,
)
from tests.tiny_models import small_cnn

COSTS = UnitCosts(
    device="test",
    forward_s=0.01,
    gradient_s=0.03,
    cw_step_s=0.04,
    maps_s={m: 0.1 for m in BenchmarkConfig().methods},
    similarity_s=0.001,
)


def test_projection_splits_the_units_and_not_the_studies():
    one = project_run(COSTS, 1000, 1)
    eight = project_run(COSTS, 1000, 8)
    per_process = one["seconds"]["work_items"] / 8
    assert eight["seconds"]["work_items"] == pytest.approx(per_process)
    assert eight["seconds"]["scan"] == pytest.approx(one["seconds"]["scan"] / 8)
    assert eight["total_s"] == pytest.approx(sum(eight["seconds"].values()))
    assert max(eight["study_s"].values()) <= eight["seconds"]["studies"]
    assert eight["seconds"]["studies"] <= one["seconds"]["studies"]
    assert eight["one_process_s"] == pytest.approx(one["one_process_s"])
    cw = one["attack_s_per_image"]["cw-k0"]
    assert cw == pytest.approx(100 * 4 * 0.04)
    short = project_run(COSTS, 1000, 1, cw_steps_share=0.25)
    assert short["attack_s_per_image"]["cw-k0"] == pytest.approx(cw / 4)
    assert one["recovery_curves_s_per_image"] > 0


def test_unit_costs_are_measured_on_a_model():
    costs = measure_unit_costs(
        small_cnn(), image_size=8, batch=2, repeats=1, methods=("saliency",)
    )
    assert costs.forward_s > 0 and costs.gradient_s > 0 and costs.cw_step_s > 0
    assert set(costs.maps_s) == {"saliency"} and costs.similarity_s > 0
    assert costs.device.startswith("CPU")
