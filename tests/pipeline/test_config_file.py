import pytest

from captum_contrastive.pipeline.cli import build_parser, config_from_args, main
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.config_file import read_config_file


def _config(argv, studies=None):
    args = build_parser("test", "results/x").parse_args(argv)
    return config_from_args(args, studies, "results/x")


def test_toml_sets_fields_by_either_spelling(tmp_path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'n-images = 12\nseed = 3\nmethods = ["saliency", "enhanced_gbp"]\n'
        'attacks = ["bim"]\nthreads = 1\n'
    )
    values = read_config_file(path)
    assert values["n_images"] == 12 and values["methods"] == (
        "saliency",
        "enhanced_gbp",
    )
    config, threads = _config(["--config", str(path)])
    assert (config.n_images, config.seed, config.attacks, threads) == (
        12,
        3,
        ("bim",),
        1,
    )


def test_command_line_options_win_over_the_file(tmp_path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("seed = 3\nn_images = 12\nfull = true\n")
    config, _ = _config(["--config", str(path), "--seed", "5"])
    assert config.seed == 5 and config.n_images == 12
    assert config.cw_steps == BenchmarkConfig.full_settings()["cw_steps"]


def test_a_single_study_command_keeps_its_study(tmp_path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('studies = ["recovery", "adversarial"]\n')
    assert _config(["--config", str(path)])[0].studies == ("recovery", "adversarial")
    assert _config(["--config", str(path)], ("class_discriminativity",))[0].studies == (
        "class_discriminativity",
    )


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("n_imagez = 3\n", ".toml", "key 'n_imagez' (did you mean 'n_images'?)"),
        ("seed = \n", ".toml", "cannot be read"),
        ("seed: 3\n", ".yaml", "must be a .toml or .json"),
        # A value the file set is named as the file's key, not as an option.
        ('{"seed": -1}', ".json", "error: seed in "),
        ('studies = ["clas"]\n', ".toml", "did you mean 'class'?"),
    ],
)
def test_bad_files_are_refused_naming_the_problem(
    tmp_path, capsys, text, suffix, message
) -> None:
    path = tmp_path / f"run{suffix}"
    path.write_text(text)
    with pytest.raises(SystemExit) as stopped:
        main(["--config", str(path), "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_missing_file_is_refused(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--config", str(tmp_path / "none.toml")])
    assert "does not exist" in capsys.readouterr().err


def test_an_option_that_overrides_the_file_is_named_as_the_option(
    tmp_path, capsys
) -> None:
    path = tmp_path / "run.toml"
    path.write_text("seed = 5\n")
    with pytest.raises(SystemExit):
        main(["--config", str(path), "--out", str(tmp_path / "o"), "--seed", "-1"])
    error = capsys.readouterr().err
    assert "`--seed`" in error and f"in {path}" not in error
