import dataclasses

import pytest
import torch

from captum_contrastive.pipeline.cli import main
from captum_contrastive.pipeline.config import BenchmarkConfig

BAD_FIELDS = [
    ({"seed": -1}, "seed"),
    ({"seed": 2**63}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"methods": ()}, "methods"),
    ({"methods": ("nope",)}, "methods"),
    ({"methods": ("saliency", "saliency")}, "methods"),
    ({"methods": "saliency"}, "methods"),
    ({"class_methods": ("nope",)}, "class_methods"),
    ({"studies": ()}, "studies"),
    ({"studies": ("sanity-check",)}, "studies"),
    ({"attacks": ("pgd",)}, "attacks"),
    ({"recovery_attacks": ("pgd",)}, "recovery_attacks"),
    ({"reference_method": "nope"}, "reference_method"),
    ({"n_images": 1}, "n_images"),
    ({"n_images": -3}, "n_images"),
    ({"n_multi_images": 0}, "n_multi_images"),
    ({"shard_size": 0}, "shard_size"),
    ({"select_shard_size": 0}, "select_shard_size"),
    ({"n_resamples": 0}, "n_resamples"),
    ({"grid_images": -1}, "grid_images"),
    ({"ig_steps": 0}, "ig_steps"),
    ({"smoothgrad_samples": 0}, "smoothgrad_samples"),
    ({"fractions": ()}, "fractions"),
    ({"fractions": (0.5, 0.1)}, "fractions"),
    ({"fractions": (0.0, 0.5)}, "fractions"),
    ({"fill": "grey"}, "fill"),
    ({"kappas": (-1.0,)}, "kappas"),
    ({"kappas": ()}, "kappas"),
    ({"cw_steps": 0}, "cw_steps"),
    ({"cw_binary_search_steps": 0}, "cw_binary_search_steps"),
    ({"cw_stepsize": 0.0}, "cw_stepsize"),
    ({"fgsm_epsilon": 2.0}, "fgsm_epsilon"),
    ({"bim_epsilon": 0.0}, "bim_epsilon"),
    ({"bim_steps": 0}, "bim_steps"),
    ({"control_runs": ("cw-kx",)}, "control_runs"),
    ({"failure_run": "pgd"}, "failure_run"),
    ({"preset": "imagenet"}, "preset"),
    ({"data": "/some/folder"}, "data"),
    ({"weights_path": "w.pt"}, "weights_path"),
    ({"labels_file": "labels.txt", "preset": "imagenet-vgg16"}, "labels_file"),
    ({"device": "tpu"}, "device"),
    ({"extra_attacks": ("nope:epsilon=1",)}, "extra_attacks"),
    ({"extra_attacks": ("pgd_l2:epsilon=x",)}, "extra_attacks"),
    ({"extra_attacks": ("pgd_l2:epsilon=0.5,foo=1",)}, "extra_attacks"),
    ({"extra_attacks": ("pgd_l2:epsilon=-1",)}, "extra_attacks"),
    ({"extra_attacks": ("pgd_l2:epsilon=1", "pgd_l2:epsilon=2")}, "extra_attacks"),
    ({"device": "not a device"}, "device"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_FIELDS)
def test_config_refuses_each_bad_field_naming_it(changes, field) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        BenchmarkConfig(**changes)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_config_refuses_cuda_without_cuda() -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        BenchmarkConfig(device="cuda")


def test_config_is_frozen_and_replace_checks_again() -> None:
    config = BenchmarkConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3
    assert config.replace(seed=3).seed == 3
    with pytest.raises(ValueError, match="`seed`"):
        config.replace(seed=-3)


def test_runs_the_config_does_not_attack_are_not_errors() -> None:
    config = BenchmarkConfig(attacks=("cw",))
    assert "bim" not in config.attack_runs()
    assert config.failure_run == "bim" and config.control_runs == ("cw-k0", "bim")


def test_full_changes_only_its_listed_fields() -> None:
    default, full = BenchmarkConfig().to_dict(), BenchmarkConfig.full().to_dict()
    changed = {k for k in default if default[k] != full[k]}
    assert changed == set(BenchmarkConfig.full_settings())


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--seed", "-1"], "--seed"),
        (["--methods", ""], "--methods"),
        (["--methods", "saliency,nope"], "--methods"),
        (["--n-images", "-3"], "--n-images"),
        (["--n-images", "1"], "--n-images"),
        (["--attacks", ""], "--attacks"),
        (["--data", "/tmp"], "--data"),
        (["--weights", "w.pt"], "--weights"),
        (["--device", "tpu"], "--device"),
        (["--threads", "0"], "--threads"),
        (["--attack", "pgd_l2:steps=0,epsilon=1"], "--attack"),
    ],
)
def test_cli_refuses_bad_options_before_any_work(argv, option, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--out", str(out), "--no-progress"])
    assert stopped.value.code == 2
    assert option in capsys.readouterr().err
    assert not out.exists(), "nothing may be computed or written"


def test_a_registered_attack_runs_from_the_config() -> None:
    config = BenchmarkConfig(
        extra_attacks=("pgd_l2:epsilon=0.5,steps=20",),
        recovery_attacks=("cw", "pgd_l2"),
        control_runs=("pgd_l2",),
    )
    attack = config.attack_runs()["pgd_l2"]
    assert (attack.epsilon, attack.steps) == (0.5, 20)
    assert "pgd_l2" in config.main_runs() and "pgd_l2" in config.recovery_runs()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bim_calibrate_failure": 0.0}, "bim_calibrate_failure"),
        ({"bim_calibrate_failure": 1.0}, "bim_calibrate_failure"),
        ({"bim_calibrate_failure": True}, "bim_calibrate_failure"),
        ({"bim_calibrate_failure": "half"}, "bim_calibrate_failure"),
        ({"bim_calibration_images": 1}, "bim_calibration_images"),
        ({"bim_calibration_images": 4.0}, "bim_calibration_images"),
        ({"bim_calibration_bounds": (0.1,)}, "bim_calibration_bounds"),
        ({"bim_calibration_bounds": (0.2, 0.1)}, "bim_calibration_bounds"),
        ({"bim_calibration_bounds": (0.0, 0.1)}, "bim_calibration_bounds"),
        ({"bim_calibration_bounds": (0.1, 2.0)}, "bim_calibration_bounds"),
        ({"bim_calibration_bounds": 0.1}, "bim_calibration_bounds"),
    ],
)
def test_config_refuses_bad_bim_calibration_fields_naming_them(changes, field):
    with pytest.raises(ValueError, match=f"`{field}`"):
        BenchmarkConfig(**changes)


def test_bim_keeps_the_fixed_paper_radius_unless_calibration_is_asked() -> None:
    config = BenchmarkConfig()
    assert config.bim_calibrate_failure is None
    assert config.attack_runs()["bim"].epsilon == 3 / 255
    calibrated = BenchmarkConfig(
        bim_calibrate_failure=0.5, bim_calibration_bounds=[0.001, 0.1]
    )
    assert calibrated.bim_calibration_bounds == (0.001, 0.1)
    assert calibrated.to_dict()["bim_calibrate_failure"] == 0.5
