"""The data-randomisation option of the sanity unit, with a tiny training budget."""

import csv

import pytest

from captum_contrastive.pipeline.cli import build_parser, config_from_args
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import run_benchmark
from captum_contrastive.pipeline.units import sanity as sanity_unit
from captum_contrastive.presets.shapes_random_labels import RandomLabelSettings
from tests.fake_preset import fake_preset

#: Too short to memorise (that is tested in tests/presets): the report says so.
TINY = RandomLabelSettings(train_size=16, epochs=2, batch_size=8, test_size=16)
SMALL = dict(
    n_images=4,
    methods=("enhanced_gbp", "saliency"),
    studies=("sanity",),
    sanity_images=4,
    sanity_depth=1,
    sanity_independent_layers=0,
    n_resamples=50,
    progress=False,
    shard_size=4,
)


@pytest.fixture
def tiny_budget(monkeypatch):
    monkeypatch.setattr(sanity_unit, "RANDOM_LABEL_SETTINGS", TINY)


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("data_randomization")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sanity_unit, "RANDOM_LABEL_SETTINGS", TINY)
        config = BenchmarkConfig(out=out, sanity_data_randomization=True, **SMALL)
        run = run_benchmark(config)
        write_outputs(run)
    return run, out


def test_rows_report_and_model_on_the_shapes_preset(shapes_run) -> None:
    run, out = shapes_run
    with open(out / "summary.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r["study"] == "sanity"]
    measures = {(r["method"], r["measure"]) for r in rows}
    for method in ("saliency", "enhanced_gbp", "enhanced_gbp (fixed contrast)"):
        for measure in ("spearman", "spearman_abs", "ssim", "iou"):
            assert (method, f"data_randomization_{measure}") in measures
    assert ("runner-up class", "runner_up_changed@data_randomization") in measures
    entry = run.results["sanity"].summary.data_randomization
    model = entry.random_label_model
    assert model.settings == TINY and model.seed == 0
    assert model.key == sanity_unit.random_label_key(TINY, 0).digest
    report = (out / "report.md").read_text()
    assert "Data randomisation (Adebayo et al., 2018): the maps" in report
    assert "train accuracy on the permuted labels" in report
    assert "has not memorised them" in report
    stored = list((out / "cache" / "random_label_model").glob("*/shard_*.pt"))
    assert len(stored) == 1


def test_option_off_leaves_the_summary_and_key_without_it(tmp_path) -> None:
    config = BenchmarkConfig(out=tmp_path, **SMALL)
    assert "data_randomization" not in sanity_unit.SanityUnit(config).settings()
    run = run_benchmark(config, fake_preset())
    assert run.results["sanity"].summary.data_randomization is None
    assert not (tmp_path / "cache" / "random_label_model").exists()


def test_other_models_report_it_as_not_evaluated(tmp_path, tiny_budget) -> None:
    config = BenchmarkConfig(out=tmp_path, sanity_data_randomization=True, **SMALL)
    run = run_benchmark(config, fake_preset())
    summary = run.results["sanity"].summary
    entry = summary.data_randomization
    assert "only the shapes preset" in entry.skipped and "fake" in entry.skipped
    text = sanity_unit.SanityUnit(config)._data_randomization_table(summary)
    assert "Data randomisation (Adebayo et al., 2018): not evaluated: it" in text
    assert not [r for r in sanity_unit._rows(summary) if "data_rand" in r.measure]
    assert not (tmp_path / "cache" / "random_label_model").exists()


def test_the_model_is_cached_and_retrained_on_a_change(tmp_path, monkeypatch):
    calls = []
    train = sanity_unit.train_random_label_model

    def counted(seed, settings):
        calls.append((seed, settings))
        return train(seed, settings)

    monkeypatch.setattr(sanity_unit, "train_random_label_model", counted)
    small = RandomLabelSettings(train_size=8, epochs=1, batch_size=4, test_size=8)
    first, key = sanity_unit.load_or_train_random_label_model(tmp_path, small, 0)
    again, same = sanity_unit.load_or_train_random_label_model(tmp_path, small, 0)
    assert len(calls) == 1 and same.digest == key.digest
    assert first.metrics == again.metrics
    state, stored = first.model.state_dict(), again.model.state_dict()
    assert all((state[k] == stored[k]).all() for k in state)
    sanity_unit.load_or_train_random_label_model(tmp_path, small, 1)
    assert len(calls) == 2


def test_the_key_holds_the_seed_the_settings_and_the_code() -> None:
    key = sanity_unit.random_label_key(TINY, 0)
    assert key.digest != sanity_unit.random_label_key(TINY, 1).digest
    longer = RandomLabelSettings(train_size=32, epochs=21, batch_size=16)
    assert key.digest != sanity_unit.random_label_key(longer, 0).digest
    assert key.parts["settings"] == TINY.to_json() and key.parts["seed"] == 0
    assert len(key.parts["code"]) == 16
    seeded = sanity_unit.SanityUnit(
        BenchmarkConfig(sanity_data_randomization=True, seed=5)
    )
    assert seeded.settings()["data_randomization"]["seed"] == 5


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], False),
        (["--sanity-data-randomization"], True),
        (["--full"], True),
        (["--full", "--no-sanity-data-randomization"], False),
    ],
)
def test_the_command_line_option(argv, expected) -> None:
    args = build_parser("run", "out").parse_args(argv)
    assert config_from_args(args)[0].sanity_data_randomization is expected


def test_the_field_is_checked() -> None:
    with pytest.raises(ValueError, match="sanity_data_randomization"):
        BenchmarkConfig(sanity_data_randomization="yes")
    assert BenchmarkConfig.full().sanity_data_randomization is True
