"""The study registry: every list of studies and commands is read from it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from captum_contrastive.cli import command_names, help_text, study_commands
from captum_contrastive.pipeline.cli import build_parser, config_from_args
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.study_registry import (
    UNITS,
    register_unit,
    resolve_studies,
    study_aliases,
    study_names,
)
from captum_contrastive.pipeline.units import ClassDiscriminativityUnit
from tests.pipeline.study_example import load_example

BUILT_IN = ("recovery", "adversarial", "class_discriminativity", "localization")
BUILT_IN += ("sanity", "road")
PACKAGE = Path(__file__).resolve().parents[2] / "captum_contrastive"


@pytest.fixture
def example():
    """The docs' worked example, registered for one test, then removed."""
    with load_example() as module:
        yield module


def test_the_built_in_studies_are_registered_in_report_order() -> None:
    assert study_names() == BUILT_IN
    assert list(study_commands()) == ["run", "recovery", "adversarial", "class"] + [
        "localization",
        "sanity",
        "road",
    ]
    assert command_names()[-1] == "speed"
    assert BenchmarkConfig().studies == BUILT_IN


def test_class_is_an_alias_of_class_discriminativity() -> None:
    assert study_aliases() == {"class": "class_discriminativity"}
    assert resolve_studies(["road", "class"]) == ("road", "class_discriminativity")
    assert BenchmarkConfig(studies=("class",)).studies == ("class_discriminativity",)
    command = study_commands()["class"]
    assert command.studies == ("class_discriminativity",)
    assert command.default_out == "results/class_discriminativity"
    # Its stage key and timings keep the name the cache was written under.
    assert ClassDiscriminativityUnit.stage_name() == "class"
    args = build_parser("x", "results/x").parse_args(["--studies", "class,road"])
    config, _ = config_from_args(args)
    assert config.studies == ("class_discriminativity", "road")
    args = build_parser("x", "results/x").parse_args(["--studies", "class"])
    assert config_from_args(args, ("class",))[0].studies == ("class_discriminativity",)
    with pytest.raises(ValueError, match="cannot be chosen here"):
        args = build_parser("x", "results/x").parse_args(["--studies", "road"])
        config_from_args(args, ("class",))


def test_an_unknown_study_is_refused_naming_the_studies() -> None:
    with pytest.raises(ValueError, match="unknown names \\['clas'\\]") as error:
        BenchmarkConfig(studies=("clas",))
    # In the user's spellings (those of --help), with the closest one.
    assert "did you mean 'class'?" in str(error.value)
    assert "'class', 'localization'" in str(error.value)
    assert "class_discriminativity" not in str(error.value)
    with pytest.raises(ValueError, match="did you mean 'recovery'"):
        BenchmarkConfig(studies=("recovry",))


def test_a_registered_study_is_a_study_and_a_command(example) -> None:
    """A unit registered outside the package needs no other edit."""
    assert study_names() == (*BUILT_IN, "map_entropy")
    command = study_commands()["map-entropy"]
    assert command.studies == ("map_entropy",)
    assert command_names()[-2:] == ["map-entropy", "speed"]
    assert "map-entropy" in help_text() and command.description in help_text()
    text = help_text("map-entropy")
    assert text.startswith("usage: captum-contrastive map-entropy")
    assert "default: results/map_entropy" in text
    assert "road, map-entropy" in " ".join(help_text("run").split())
    args = build_parser("x", "results/x").parse_args(["--studies", "map-entropy"])
    assert config_from_args(args)[0].studies == ("map_entropy",)
    assert BenchmarkConfig().studies == (*BUILT_IN, "map_entropy")


def test_the_example_is_registered_until_it_is_unloaded() -> None:
    with load_example():
        assert "map_entropy" in UNITS
    assert study_names() == BUILT_IN
    assert "map-entropy" not in command_names()


def test_a_name_or_command_is_registered_once(example) -> None:
    class Twice(example.MapEntropyUnit):
        command = None

    with pytest.raises(ValueError, match="'map_entropy' is taken") as error:
        register_unit(Twice)
    # Both classes are named, so the user sees which module registered it first.
    assert "(map_entropy_study.MapEntropyUnit)" in str(error.value)
    assert "Twice)" in str(error.value) and "another `name`" in str(error.value)

    class SameCommand(example.MapEntropyUnit):
        name = "other_entropy"
        command = "class"

    with pytest.raises(ValueError, match="'class' is taken by the study"):
        register_unit(SameCommand)

    class TakesRun(example.MapEntropyUnit):
        name = "run_entropy"
        command = "run"

    with pytest.raises(ValueError, match="'run' is a command of captum-contrastive"):
        register_unit(TakesRun)
    assert set(UNITS) == {*BUILT_IN, "map_entropy"}


def test_a_command_without_an_output_folder_gets_one_of_its_own() -> None:
    from captum_contrastive.pipeline.study_registry import UNITS

    with load_example() as example:

        class NoFolder(example.MapEntropyUnit):
            name = "entropy_without_folder"
            command = "entropy-without-folder"
            default_out = ""

        register_unit(NoFolder)
        try:
            found = study_commands()["entropy-without-folder"]
            assert found.default_out == "results/entropy_without_folder"
        finally:
            UNITS.pop("entropy_without_folder")


#: The orchestrator's modules, which name no study. Left out: the maps grid,
#: whose "adversarial" is a map condition (MapRequest.condition), not a study.
ORCHESTRATOR = ["runner", "shared_work", "work_items", "cli", "report"]
NOT_YET_GENERIC = {"_grid"}


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef) and f.name in NOT_YET_GENERIC
        for node in ast.walk(f)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
    }


@pytest.mark.parametrize("module", ORCHESTRATOR)
def test_the_orchestrator_names_no_study(module: str) -> None:
    found = _string_constants(PACKAGE / "pipeline" / f"{module}.py")
    found |= _string_constants(PACKAGE / "cli.py")
    names = {*BUILT_IN, "class"}
    assert not names & found, sorted(names & found)
