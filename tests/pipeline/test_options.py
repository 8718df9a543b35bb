"""The config is the schema: options and attack families come from one table each."""

from dataclasses import fields

import pytest

from captum_contrastive.attacks.foolbox_attacks import FGSM
from captum_contrastive.pipeline.attack_families import (
    ATTACK_FAMILIES,
    AttackFamily,
    register_family,
)
from captum_contrastive.pipeline.cli import FIELD_OPTIONS, build_parser, option_error
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.config_file import CLI_ONLY_KEYS
from captum_contrastive.pipeline.options import CLI_ONLY, option_of


def test_the_parser_has_one_option_per_field_option_and_cli_switch() -> None:
    parser = build_parser("test", "results/x")
    flags = {s for action in parser._actions for s in action.option_strings}
    declared = {option_of(f).flag for f in fields(BenchmarkConfig) if option_of(f)}
    assert flags - {"-h", "--help", "--no-sanity-data-randomization"} == (
        declared | {spec.flag for spec in CLI_ONLY}
    )
    assert FIELD_OPTIONS["labels_file"] == "--labels"
    assert "progress" not in FIELD_OPTIONS  # --no-progress does not name it
    assert set(CLI_ONLY_KEYS) == {"full", "threads"}


def test_option_values_are_converted_as_the_field_says() -> None:
    from captum_contrastive.pipeline.cli import _option_values

    parser = build_parser("test", "results/x")
    args = parser.parse_args(["--sanity-depth", "all", "--attack", "fgsm:epsilon=0.1"])
    values = _option_values(args)
    assert values["sanity_depth"] is None
    assert values["extra_attacks"] == ("fgsm:epsilon=0.1",)
    assert values["preset"] == "shapes" and "seed" not in values


@pytest.fixture
def toy_family():
    """A family registered after import (a one-step FGSM), removed after."""
    register_family(
        AttackFamily("toy_fgsm", lambda config: {"toy_fgsm": FGSM(epsilon=0.5 / 255)})
    )
    yield "toy_fgsm"
    del ATTACK_FAMILIES["toy_fgsm"]


def test_a_family_registered_later_is_a_choice_and_a_run(toy_family) -> None:
    assert toy_family in build_parser("test", "results/x").format_help()
    config = BenchmarkConfig(
        attacks=("cw", toy_family),
        recovery_attacks=(toy_family,),
        control_runs=(toy_family,),
        failure_run=toy_family,
    )
    assert list(config.attack_runs())[-1] == toy_family
    assert config.main_runs() == ["cw-k0", "cw-k5", toy_family]
    assert config.recovery_runs() == [toy_family]
    assert config.calibrated_runs() == []
    with pytest.raises(ValueError, match="cw-k<kappa>, fgsm, bim, toy_fgsm"):
        BenchmarkConfig(control_runs=("pgd",))


def test_bim_is_calibrated_only_when_asked() -> None:
    assert BenchmarkConfig().calibrated_runs() == []
    assert BenchmarkConfig(bim_calibrate_failure=0.5).calibrated_runs() == ["bim"]
    message = option_error(ValueError("`attacks` has unknown names ['x']"))
    assert message.startswith("`--attacks`")
