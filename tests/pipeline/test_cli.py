import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A small run, set through --config (so the file path is tested too).
SMALL_RUN = """
n_multi_images = 4
kappas = [0.0]
sweep_kappas = [0.0, 5.0]
cw_steps = 20
cw_binary_search_steps = 2
n_resamples = 200
control_runs = ["cw-k0"]
sanity_images = 4
sanity_depth = 1
sanity_independent_layers = 1
road_images = 4
"""


def _command(out: Path) -> list[str]:
    config = out.parent / f"{out.name}.toml"
    config.write_text(SMALL_RUN)
    return [
        sys.executable,
        str(ROOT / "benchmarks" / "run_all.py"),
        "--config",
        str(config),
        "--n-images",
        "4",
        "--methods",
        "enhanced_gbp,saliency",
        "--attacks",
        "cw,bim",
        "--out",
        str(out),
        "--no-progress",
    ]


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    done = subprocess.run(_command(out), capture_output=True, text=True, timeout=240)
    return out, done


def test_run_all_cli_on_the_shapes_preset(single_run) -> None:
    tmp_path, done = single_run
    assert done.returncode == 0, done.stderr[-2000:]
    assert "claim 2 (recovery):" in done.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["run"]["config"]["n_images"] == 4
    assert set(results["recovery"]) == {"cw-k0", "cw-k5"}
    assert results["run"]["config"]["cw_steps"] == 20
    report = (tmp_path / "report.md").read_text()
    assert "## C&W κ sweep" in report and "## Verdicts" in report
    assert (tmp_path / "kappa_sweep.png").exists()
    assert (tmp_path / "summary.csv").read_text().startswith("study,")


def test_the_written_config_is_enough_to_rerun(single_run) -> None:
    from captum_contrastive.pipeline.cli import build_parser, config_from_args

    out, done = single_run
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads((out / "config.json").read_text())
    args = build_parser("rerun", "elsewhere").parse_args(
        ["--config", str(out / "config.json")]
    )
    config, _ = config_from_args(args, None, "elsewhere")
    assert json.loads(json.dumps(config.to_dict())) == written


def test_two_runs_at_once_on_one_folder_both_succeed(single_run, tmp_path) -> None:
    single = single_run[0]
    shared = tmp_path / "shared"
    runs = [
        subprocess.Popen(
            _command(shared), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr.decode()[-2000:]
        assert b"StaleShardWarning" not in stderr
    assert (shared / "summary.csv").read_text() == (single / "summary.csv").read_text()
    json.loads((shared / "results.json").read_text())
    assert not list(shared.rglob("*.tmp*"))


def test_attack_strength_refuses_a_negative_image_count() -> None:
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "attack_strength.py"),
        "--n-images",
        "-3",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--n-images" in done.stderr


def test_bim_calibration_options_set_their_config_fields(tmp_path) -> None:
    from captum_contrastive.pipeline.cli import build_parser, config_from_args

    argv = [
        "--bim-calibrate-failure",
        "0.5",
        "--bim-calibration-images",
        "16",
        "--bim-calibration-bounds",
        "0.001,0.1",
        "--bim-epsilon",
        "0.02",
    ]
    args = build_parser("calibrate", "out").parse_args(argv)
    config, _ = config_from_args(args)
    assert config.bim_calibrate_failure == 0.5
    assert config.bim_calibration_images == 16
    assert config.bim_calibration_bounds == (0.001, 0.1)
    assert config.bim_epsilon == 0.02
    file = tmp_path / "run.toml"
    file.write_text("bim-calibrate-failure = 0.25\nbim_calibration_images = 8\n")
    args = build_parser("calibrate", "out").parse_args(["--config", str(file)])
    config, _ = config_from_args(args)
    assert (config.bim_calibrate_failure, config.bim_calibration_images) == (0.25, 8)


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--bim-calibrate-failure", "1.5"], "--bim-calibrate-failure"),
        (["--bim-calibration-images", "1"], "--bim-calibration-images"),
        (["--bim-calibration-bounds", "0.2,0.1"], "--bim-calibration-bounds"),
        (["--bim-epsilon", "0"], "--bim-epsilon"),
    ],
)
def test_bad_bim_calibration_options_are_refused_naming_them(
    argv, option, tmp_path, capsys
) -> None:
    from captum_contrastive.pipeline.cli import main

    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--out", str(out), "--no-progress"])
    assert stopped.value.code == 2
    assert option in capsys.readouterr().err
    assert not out.exists()


def test_studies_and_study_size_options(tmp_path) -> None:
    from captum_contrastive.pipeline.cli import build_parser, config_from_args

    argv = ["--studies", "sanity,road", "--sanity-depth", "all"]
    argv += ["--sanity-images", "8", "--road-images", "12"]
    args = build_parser("run", "out").parse_args(argv)
    config, _ = config_from_args(args)
    assert config.studies == ("sanity", "road")
    assert (config.sanity_depth, config.sanity_images, config.road_images) == (
        None,
        8,
        12,
    )
    args = build_parser("run", "out").parse_args(["--sanity-depth", "3"])
    assert config_from_args(args)[0].sanity_depth == 3
    assert config_from_args(args, ("sanity",))[0].studies == ("sanity",)
    args = build_parser("sanity", "out").parse_args(["--studies", "road"])
    with pytest.raises(ValueError, match="this command runs sanity"):
        config_from_args(args, ("sanity",))


def test_an_unknown_study_is_refused_naming_the_option(tmp_path, capsys) -> None:
    from captum_contrastive.pipeline.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["--studies", "sanity,nope", "--out", str(tmp_path / "o")])
    assert stopped.value.code == 2
    assert "--studies" in capsys.readouterr().err
