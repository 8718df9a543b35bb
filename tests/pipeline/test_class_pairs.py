"""Claim 1 on data without multi-object images: a multi-label file feeds it, and
single-label data uses the top-2 classes as a stand-in, said so in the report."""

import json
from dataclasses import replace

import pytest
import torch
from torch import nn

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import run_benchmark
from captum_contrastive.pipeline.units.class_discriminativity import (
    MULTI_LABEL,
    TOP2,
)
from captum_contrastive.presets.base import LabeledImage, Normalize, Preset
from captum_contrastive.studies.class_discriminativity import (
    ClassDiscriminativitySummary,
)
from captum_contrastive.typed_json import from_json, to_json
from tests.fake_preset import fake_preset

CLASS_ONLY = dict(
    n_images=6,
    n_multi_images=4,
    methods=("guided_backprop", "saliency", "enhanced_gbp"),
    studies=("class",),
    attacks=("fgsm",),
    control_runs=(),
    recovery_attacks=(),
    n_resamples=50,
    grid_images=1,
    progress=False,
    shard_size=4,
)


class _MultiLabelled:
    """A fake dataset with label sets, as a multi-label file gives."""

    def __init__(self, base) -> None:
        self.base = base
        self.label_sets = [
            (int(base.labels[i]), int(base.top3[i, 1])) if i % 2 else (int(label),)
            for i, label in enumerate(base.labels)
        ]

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> LabeledImage:
        item = self.base[index]
        return LabeledImage(item.image, item.label, labels=self.label_sets[index])

    def multi_label_indices(self) -> list[int]:
        return [i for i, found in enumerate(self.label_sets) if len(set(found)) > 1]


def _run(tmp_path, preset: Preset):
    run = run_benchmark(BenchmarkConfig(out=tmp_path, **CLASS_ONLY), preset)
    write_outputs(run)
    return run, json.loads((tmp_path / "results.json").read_text())


def _pairs(run):
    """The pairs the class-discriminativity unit prepared (its ``prepare`` hook)."""
    (unit,) = run.units
    assert unit.stage_key_extra() == unit.pairs.key()
    return unit.pairs


def test_single_label_data_uses_the_top2_stand_in_and_says_so(tmp_path) -> None:
    preset = fake_preset()
    run, results = _run(tmp_path, preset)
    summary = results["class_discriminativity"]
    assert summary["pairs"] == TOP2 and summary["n_images"] == 4
    pairs = _pairs(run)
    model = preset.pixel_model()
    with torch.no_grad():
        top2 = model(run.data.images[:4]).topk(2, dim=1).indices
    assert pairs.labels == [tuple(row) for row in top2.tolist()]
    verdict = results["verdicts"]["filtering_effect"]
    assert verdict["verdict"] != "not evaluated" and verdict["pairs"] == TOP2
    report = (tmp_path / "report.md").read_text()
    assert "Evaluated on a stand-in" in report and "(top-2 stand-in)" in report


def test_a_multi_label_dataset_feeds_claim_1(tmp_path) -> None:
    preset = fake_preset()
    preset.dataset = _MultiLabelled(preset.dataset)
    run, results = _run(tmp_path, preset)
    pairs = _pairs(run)
    assert pairs.kind == MULTI_LABEL
    assert pairs.indices == [1, 3, 5, 7]
    assert results["class_discriminativity"]["pairs"] == MULTI_LABEL
    assert "stand-in" not in (tmp_path / "report.md").read_text()


def test_the_pairs_are_part_of_the_class_study_key(tmp_path) -> None:
    first, _ = _run(tmp_path / "a", fake_preset())
    preset = fake_preset()
    preset.dataset = _MultiLabelled(preset.dataset)
    second, _ = _run(tmp_path / "a", preset)
    assert first.keys["study class"] != second.keys["study class"]


@pytest.fixture
def unnamed_shapes_like() -> Preset:
    preset = fake_preset()
    preset.name = "shapes-like"
    return preset


def test_a_preset_not_named_shapes_never_gets_the_shapes_images(
    tmp_path, unnamed_shapes_like
) -> None:
    run, _ = _run(tmp_path, unnamed_shapes_like)
    context = _pairs(run).context
    assert context is run.data.context
    assert isinstance(context.model[0], Normalize) and isinstance(
        context.model, nn.Module
    )


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """One class-only run on the fake preset, shared by the tests that only
    read it."""
    out = tmp_path_factory.mktemp("class_fake")
    run, results = _run(out, fake_preset())
    return run, results, out


def test_caveats_name_the_model_and_data_used(fake_run) -> None:
    _, _, out = fake_run
    report = (out / "report.md").read_text()
    assert "synthetic 32×32" not in report
    assert "Model and data: fake" in report


def test_the_sample_order_and_the_fill_are_recorded(fake_run) -> None:
    run, results, out = fake_run
    selection = run.data.selection
    assert results["run"]["sample_order"] == selection.order
    assert results["run"]["scanned"] == selection.scanned >= 6
    assert results["run"]["mean_colour"]["value"] == list(selection.mean_colour)
    report = (out / "report.md").read_text()
    assert f"in the order {selection.order}" in report


def test_the_typed_summary_protocol_and_figure_of_the_unit(fake_run, tmp_path):
    from captum_contrastive.pipeline.report import _protocol

    run, results, out = fake_run
    (unit,) = run.units
    result = run.results[unit.name]
    assert isinstance(result.summary, ClassDiscriminativitySummary)
    assert from_json(unit.summary_type, to_json(result.summary)) == result.summary
    assert json.dumps(to_json(result.summary)) == json.dumps(
        results["class_discriminativity"]
    )
    shown = json.loads(_protocol(run, results).split("\n", 1)[1].rsplit("```", 1)[0])
    written = results["class_discriminativity"]["protocol"]
    assert unit.protocol(result) == written == shown["class_discriminativity"]
    assert unit.terminal_columns(result) == {}
    # render drew the figure through `figures`; a skipped study draws none.
    assert (out / "class_discriminativity.png").is_file()
    assert (out / "class_discriminativity.pdf").is_file()
    skipped = replace(result, summary={}, skipped={"class_discriminativity": "why"})
    assert unit.figures(skipped, tmp_path) == {} and unit.protocol(skipped) is None
