"""The declarative contract, checked for every registered attack.

Every test here is parametrised over :data:`ATTACKS`, so an attack added with one
class and ``@register_attack`` is covered without touching this file (as long as
its fields are floats, ints, bools or optional floats; see ``example_value``).
"""

import dataclasses
import json
import math
from typing import Any

import foolbox as fb
import pytest

import captum_contrastive.attacks as attacks_package
from captum_contrastive.attacks import (
    ATTACKS,
    BIM,
    FGSM,
    PGDL2,
    CarliniWagnerL2,
    FoolboxAttack,
    build_attack,
    register_attack,
)
from captum_contrastive.attacks.registry import RESERVED

RUN_FIELDS = ("batch_size", "progress")
NAMES = sorted(ATTACKS)


def setting_fields(cls: type[FoolboxAttack]) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.name not in RUN_FIELDS]


def required_value(f: dataclasses.Field) -> Any:
    """A valid value for a field without a default (e.g. ``epsilon``)."""
    if f.type == "float":
        return 0.1
    if f.type == "int":
        return 3
    raise AssertionError(f"no example value for required field {f.name}: {f.type}")


def make(name: str, **overrides: Any) -> FoolboxAttack:
    cls = ATTACKS[name]
    required = {
        f.name: required_value(f)
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return cls(**{**required, **overrides})


def changed_value(f: dataclasses.Field, value: Any) -> Any:
    """A different valid value for field ``f``."""
    if f.type == "bool":
        return not value
    if f.type in ("float", "float | None"):
        return 0.05 if value is None else value * 2 + 0.5
    if f.type in ("int", "int | None"):
        return 4 if value is None else value + 1
    raise AssertionError(f"no changed value for field {f.name}: {f.type}")


def bad_values(f: dataclasses.Field) -> list[Any]:
    if f.type == "bool":
        return ["yes", 2]
    if f.type in ("float", "float | None"):
        return [-1.0, math.nan, math.inf, "0.1", True]
    if f.type in ("int", "int | None"):
        return [0, -1, 1.5, True]
    raise AssertionError(f"no bad values for field {f.name}: {f.type}")


def field_cases(include_run: bool) -> list[Any]:
    cases = []
    for name in NAMES:
        for f in dataclasses.fields(ATTACKS[name]):
            if include_run or f.name not in RUN_FIELDS:
                cases.append(pytest.param(name, f.name, id=f"{name}-{f.name}"))
    return cases


@pytest.fixture
def restore_registry():
    saved = dict(ATTACKS)
    yield
    ATTACKS.clear()
    ATTACKS.update(saved)


def test_builtin_attacks_are_registered_under_their_names() -> None:
    expected = {"fgsm": FGSM, "bim": BIM, "cw": CarliniWagnerL2, "pgd_l2": PGDL2}
    assert {name: ATTACKS[name] for name in expected} == expected
    assert attacks_package.ATTACKS is ATTACKS
    for name, cls in ATTACKS.items():
        assert cls.name == name


@pytest.mark.parametrize("name", NAMES)
def test_every_attack_is_a_frozen_dataclass_with_run_fields(name: str) -> None:
    cls = ATTACKS[name]
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    assert by_name["batch_size"].kw_only and by_name["progress"].kw_only


@pytest.mark.parametrize("name", NAMES)
def test_repr_is_derived_from_the_fields_and_round_trips(name: str) -> None:
    attack = make(name)
    args = ", ".join(
        f"{f.name}={getattr(attack, f.name)!r}" for f in setting_fields(type(attack))
    )
    assert repr(attack) == f"{type(attack).__name__}({args})"
    namespace = {type(attack).__name__: type(attack)}
    assert eval(repr(attack), namespace) == attack


@pytest.mark.parametrize("name", NAMES)
def test_repr_shows_batch_size_only_when_set_and_never_progress(name: str) -> None:
    chunked = make(name, batch_size=4, progress=True)
    assert repr(chunked).endswith(", batch_size=4)")
    assert "progress" not in repr(chunked)
    assert eval(repr(chunked), {type(chunked).__name__: type(chunked)}) == chunked
    assert "batch_size" not in repr(make(name))


def test_repr_format_is_stable() -> None:
    assert repr(FGSM(epsilon=0.03)) == "FGSM(epsilon=0.03)"
    assert repr(BIM(epsilon=0.1, steps=5)) == (
        "BIM(epsilon=0.1, steps=5, rel_stepsize=0.2, abs_stepsize=None, "
        "random_start=False)"
    )
    assert repr(CarliniWagnerL2()) == (
        "CarliniWagnerL2(steps=1000, binary_search_steps=9, confidence=0.0, "
        "initial_const=0.001, stepsize=0.01, abort_early=True)"
    )


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameters_and_params_come_from_the_fields(name: str) -> None:
    attack = make(name, batch_size=2)
    hyper = attack.hyperparameters()
    assert list(hyper) == [f.name for f in setting_fields(type(attack))]
    assert hyper == {k: getattr(attack, k) for k in hyper}
    params = attack.params(targeted=True)
    assert params == {
        **hyper,
        "targeted": True,
        "bounds": [0.0, 1.0],
        "batch_size": 2,
        "foolbox_version": fb.__version__,
    }


@pytest.mark.parametrize("name", NAMES)
def test_settings_are_json_ready_and_complete(name: str) -> None:
    attack = make(name)
    settings = attack.settings()
    assert json.loads(json.dumps(settings, allow_nan=False)) == settings
    assert settings == {
        "attack": name,
        **attack.hyperparameters(),
        "batch_size": None,
        "bounds": [0.0, 1.0],
        "foolbox_version": fb.__version__,
    }
    assert "progress" not in settings
    assert all(
        type(v) in (bool, int, float, str, list, type(None)) for v in settings.values()
    )


@pytest.mark.parametrize("name, field_name", field_cases(include_run=True))
def test_settings_change_with_every_field_that_affects_the_result(
    name: str, field_name: str
) -> None:
    attack = make(name)
    f = next(f for f in dataclasses.fields(attack) if f.name == field_name)
    other = dataclasses.replace(
        attack, **{field_name: changed_value(f, getattr(attack, field_name))}
    )
    if field_name == "progress":
        assert other.settings() == attack.settings()
        assert other == attack and hash(other) == hash(attack)
        assert repr(other) == repr(attack)
    else:
        assert other.settings() != attack.settings()
        assert other != attack
        assert repr(other) != repr(attack)


@pytest.mark.parametrize("name", NAMES)
def test_equal_settings_give_equal_attacks(name: str) -> None:
    first, second = make(name), make(name)
    assert first == second and hash(first) == hash(second)
    assert first.settings() == second.settings()


@pytest.mark.parametrize("name, field_name", field_cases(include_run=True))
def test_fields_are_frozen(name: str, field_name: str) -> None:
    attack = make(name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(attack, field_name, getattr(attack, field_name))


@pytest.mark.parametrize("name, field_name", field_cases(include_run=True))
def test_bad_values_raise_naming_the_field(name: str, field_name: str) -> None:
    f = next(f for f in dataclasses.fields(ATTACKS[name]) if f.name == field_name)
    for bad in bad_values(f):
        with pytest.raises(ValueError, match=f"`{field_name}`"):
            make(name, **{field_name: bad})


@pytest.mark.parametrize("name", NAMES)
def test_build_attack_equals_the_constructor(name: str) -> None:
    attack = make(name, batch_size=3)
    settings = {f.name: getattr(attack, f.name) for f in dataclasses.fields(attack)}
    assert build_attack(name, **settings) == attack


def test_build_attack_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown attack 'pgd'.*'bim', 'cw'"):
        build_attack("pgd", epsilon=0.1)


def test_build_attack_refuses_unknown_settings_naming_them() -> None:
    with pytest.raises(TypeError, match=r"'bim' \(BIM\) has no setting 'eps', 'k'"):
        build_attack("bim", eps=0.1, k=3)


def test_build_attack_reports_missing_required_settings() -> None:
    with pytest.raises(TypeError, match="epsilon"):
        build_attack("fgsm")


def test_old_constructor_calls_still_work() -> None:
    assert BIM(0.1, 5, 0.5) == BIM(epsilon=0.1, steps=5, rel_stepsize=0.5)
    cw = CarliniWagnerL2(20, 2, 0.5, 0.1, 0.05, False)
    assert cw.hyperparameters() == {
        "steps": 20,
        "binary_search_steps": 2,
        "confidence": 0.5,
        "initial_const": 0.1,
        "stepsize": 0.05,
        "abort_early": False,
    }
    with pytest.raises(TypeError):
        FGSM(0.1, 4)  # batch_size is keyword-only


def test_epsilon_is_a_plain_float_field() -> None:
    attack = FGSM(epsilon=0.25)
    assert attack.epsilon == 0.25 and type(attack.epsilon) is float
    assert type(attack.settings()["epsilon"]) is float


def test_a_new_attack_takes_one_class_and_the_decorator(restore_registry) -> None:
    @register_attack("test_linf_pgd")
    class LinfPGD(FoolboxAttack):
        epsilon: float
        steps: int = 5

        def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
            return fb.attacks.LinfPGD(steps=self.steps, random_start=False)

        def foolbox_epsilons(self) -> float:
            return self.epsilon

    attack = build_attack("test_linf_pgd", epsilon=0.1, batch_size=2)
    assert ATTACKS["test_linf_pgd"] is LinfPGD
    assert repr(attack) == "LinfPGD(epsilon=0.1, steps=5, batch_size=2)"
    assert attack.settings()["attack"] == "test_linf_pgd"
    with pytest.raises(dataclasses.FrozenInstanceError):
        attack.steps = 6  # type: ignore[misc]


def test_register_attack_refuses_a_taken_name(restore_registry) -> None:
    with pytest.raises(ValueError, match="'fgsm' is already taken by .*FGSM"):

        @register_attack("fgsm")
        class Other(FoolboxAttack):
            def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
                raise NotImplementedError

            def foolbox_epsilons(self) -> None:
                return None


def test_register_attack_refuses_reserved_field_names(restore_registry) -> None:
    assert RESERVED == {"attack", "bounds", "foolbox_version", "targeted"}
    with pytest.raises(ValueError, match=r"reserved names: \['bounds'\]"):

        @register_attack("test_reserved")
        class Reserved(FoolboxAttack):
            bounds: float = 1.0

            def foolbox_attack(self, targeted: bool = False) -> fb.attacks.Attack:
                raise NotImplementedError

            def foolbox_epsilons(self) -> None:
                return None

    assert "test_reserved" not in ATTACKS


@pytest.mark.parametrize("bad", ["", "FGSM", "pgd-l2", "1x", None])
def test_register_attack_refuses_bad_names(bad: Any) -> None:
    with pytest.raises(ValueError, match="lower-case identifiers"):
        register_attack(bad)


def test_register_attack_refuses_other_classes(restore_registry) -> None:
    with pytest.raises(TypeError, match="needs a FoolboxAttack subclass"):
        register_attack("test_not_an_attack")(dict)
