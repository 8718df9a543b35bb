"""A used output folder gives the numbers of a fresh run, whatever changed."""

import shutil

import pytest

from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.report import write_outputs
from captum_contrastive.pipeline.runner import run_benchmark
from tests.fake_preset import fake_preset

FAST = dict(
    studies=("recovery", "adversarial", "class", "localization"),
    n_images=4,
    n_multi_images=3,
    methods=("enhanced_gbp", "saliency", "integrated_gradients"),
    class_methods=("saliency", "enhanced_gbp"),
    attacks=("cw", "bim"),
    kappas=(0.0,),
    sweep_kappas=(0.0,),
    control_runs=("cw-k0",),
    cw_steps=8,
    cw_binary_search_steps=2,
    bim_epsilon=0.03,
    ig_steps=4,
    n_resamples=50,
    grid_images=1,
    progress=False,
    shard_size=2,
    # the images of the original test: with them, each change below changes the
    # numbers (with others, C&W at 5 and 8 steps can agree on every image)
    sample_order="index",
)


def _summary(out, preset_options=None, **changes) -> str:
    preset_options = preset_options or {}
    config = BenchmarkConfig(out=out, **{**FAST, **changes})
    run = run_benchmark(config, fake_preset(**preset_options), fake_preset(multi=True))
    write_outputs(run)
    return (out / "summary.csv").read_text()


@pytest.fixture(scope="module")
def used_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("used")
    return out, _summary(out)


CHANGES = {
    "data": ({"image_seed": 5}, {}),
    "labels": ({"wrong_labels": (0, 1, 2)}, {}),
    "weights": ({"weight_noise": 0.02}, {}),
    "attack settings": ({}, {"cw_steps": 5}),
    "method settings": ({}, {"ig_steps": 3}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_rerun_into_a_used_folder_equals_a_fresh_run(
    change, used_folder, tmp_path
) -> None:
    template, before = used_folder
    preset_options, config_changes = CHANGES[change]
    used = tmp_path / "used"
    shutil.copytree(template, used)
    in_used = _summary(used, preset_options, **config_changes)
    fresh = _summary(tmp_path / "fresh", preset_options, **config_changes)
    assert in_used == fresh
    assert fresh != before, f"changing the {change} should change the numbers"


def test_unchanged_rerun_computes_nothing_new(used_folder, tmp_path) -> None:
    template, before = used_folder
    used = tmp_path / "used"
    shutil.copytree(template, used)
    shards = sorted(p.name for p in used.rglob("shard_*.pt"))
    assert _summary(used) == before
    assert sorted(p.name for p in used.rglob("shard_*.pt")) == shards


def _shard_folders(out) -> dict[str, set[str]]:
    """Per cached stage folder: its stage and method, and its shard files."""
    import json

    found = {}
    for key_file in out.glob("cache/*/*/key.json"):
        key = json.loads(key_file.read_text())
        method = key.get("method", {}).get("name", "")
        shards = {p.name for p in key_file.parent.glob("shard_*.pt")}
        found[f"{key['stage']} {method} {key_file.parent.name}"] = shards
    return found


def test_a_method_setting_recomputes_only_that_methods_maps(
    used_folder, tmp_path
) -> None:
    template, _ = used_folder
    used = tmp_path / "used"
    shutil.copytree(template, used)
    before = _shard_folders(used)
    _summary(used, ig_steps=3)
    new = {name for name in _shard_folders(used) if name not in before}
    assert new, "the changed method's maps must be recomputed"
    for name in new:
        stage, method = name.split()[:2]
        assert stage == "study" or method == "integrated_gradients", name
