"""Before any work, every method is probed on the model: a default method that
cannot run is left out and said so; a chosen one stops the run with the reason."""

import json

import pytest
import torch
from torch import nn

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import MethodNotApplicableError, run_benchmark
from tests.fake_preset import fake_preset


class _ReusedReLU(nn.Module):
    """One nn.ReLU called twice, as torchvision's ResNet blocks do."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv2(self.relu(self.conv1(x))))
        return self.head(x.mean(dim=(2, 3)))


def _preset():
    preset = fake_preset()
    torch.manual_seed(0)
    preset.model = _ReusedReLU().eval()
    pixel = preset.pixel_model()
    with torch.no_grad():
        preset.dataset.labels = pixel(preset.dataset.images).argmax(dim=1)
    return preset


SMALL = dict(
    n_images=4,
    studies=("localization",),
    attacks=("fgsm",),
    control_runs=(),
    recovery_attacks=(),
    ig_steps=2,
    smoothgrad_samples=2,
    n_resamples=20,
    grid_images=1,
    progress=False,
)


def test_a_default_method_that_cannot_run_is_left_out_and_said(tmp_path) -> None:
    run = run_benchmark(BenchmarkConfig(out=tmp_path, **SMALL), _preset())
    assert "deeplift" not in run.config.methods
    assert "saliency" in run.config.methods
    write_outputs(run)
    results = json.loads((tmp_path / "results.json").read_text())
    found = {a["method"]: a for a in results["run"]["applicability"]}
    assert found["deeplift"]["status"] == "fails"
    assert "deeplift" not in results["run"]["config"]["methods"]
    assert "deeplift was left out" in (tmp_path / "report.md").read_text()


def test_a_chosen_method_that_cannot_run_stops_the_run_at_once(tmp_path) -> None:
    config = BenchmarkConfig(out=tmp_path, methods=("saliency", "deeplift"), **SMALL)
    with pytest.raises(MethodNotApplicableError, match="deeplift"):
        run_benchmark(config, _preset())
    assert not (tmp_path / "cache").exists() or not any(
        (tmp_path / "cache").rglob("*attack*")
    )


class _FunctionalReLU(_ReusedReLU):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.head(x.mean(dim=(2, 3)))


def test_a_degenerate_baseline_gets_one_caveat_not_two(tmp_path) -> None:
    preset = _preset()
    preset.model = _FunctionalReLU().eval()
    preset.model.load_state_dict(_ReusedReLU().state_dict())
    with torch.no_grad():
        pixel = preset.pixel_model()
        preset.dataset.labels = pixel(preset.dataset.images).argmax(dim=1)
    config = BenchmarkConfig(
        out=tmp_path, methods=("saliency", "guided_backprop"), **SMALL
    )
    run = run_benchmark(config, preset)
    found = {a.method: a.status for a in run.applicability}
    assert found["guided_backprop"] == "degenerate"
    assert [c.method for c in run.baseline_checks if c.degenerate] == [
        "guided_backprop"
    ]
    write_outputs(run)
    caveats = (tmp_path / "report.md").read_text().split("## Caveats")[1]
    caveats = caveats.split("\n## ")[0]
    lines = [line for line in caveats.splitlines() if "guided_backprop" in line]
    assert len(lines) == 1
