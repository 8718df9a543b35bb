"""The attack families of a benchmark run: a table from name to builder.

A family (``cw``, ``fgsm``, ``bim``) is what ``--attacks`` chooses: a row that
builds the family's attack runs from the run's
:class:`~captum_contrastive.pipeline.config.BenchmarkConfig`, says which of them
are main runs (every map and the adversarial study) and which run names are its
own. The config's runs (``attack_runs``, ``main_runs``, ``recovery_runs`` of
:class:`~captum_contrastive.pipeline.config.BenchmarkConfig`), the checks of run
names and the command line's choices are all read from :data:`ATTACK_FAMILIES`;
a new family is one
:func:`register_family` call.

Examples::

    >>> from captum_contrastive.pipeline.config import BenchmarkConfig
    >>> list(ATTACK_FAMILIES)
    ['cw', 'fgsm', 'bim']
    >>> list(ATTACK_FAMILIES["cw"].runs(BenchmarkConfig()))
    ['cw-k0', 'cw-k5', 'cw-k2', 'cw-k10']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from captum_contrastive.attacks.foolbox_attacks import (
    BIM,
    FGSM,
    CarliniWagnerL2,
    FoolboxAttack,
)

if TYPE_CHECKING:
    from captum_contrastive.pipeline.config import BenchmarkConfig

__all__ = ["ATTACK_FAMILIES", "AttackFamily", "cw_name", "register_family"]


@dataclass(frozen=True)
class AttackFamily:
    """One attack family: how a config's runs of it are built.

    Attributes:
        name: what ``attacks`` and ``recovery_attacks`` name it by.
        build: ``build(config) -> {run name: attack}``, every run of the family.
        main: ``main(config) -> run names`` that get every map and the
            adversarial study; ``None``: every run.
        is_run: whether a name (in ``control_runs``, ``failure_run``) is one of
            its runs; ``None``: the family's name only.
        pattern: its run names as the error messages show them; ``None``: the name.
        calibrated: ``calibrated(config)``: whether the runner calibrates the
            run's radius before attacking (BIM with ``bim_calibrate_failure``).
        check: ``check(config)`` raises ``ValueError`` when the config cannot
            run the family (C&W without a κ); called when the family is chosen.
    """

    name: str
    build: Callable[[BenchmarkConfig], dict[str, FoolboxAttack]]
    main: Callable[[BenchmarkConfig], list[str]] | None = None
    is_run: Callable[[str], bool] | None = None
    pattern: str | None = None
    calibrated: Callable[[BenchmarkConfig], bool] | None = None
    check: Callable[[BenchmarkConfig], None] | None = None

    def runs(self, config: BenchmarkConfig) -> dict[str, FoolboxAttack]:
        """Every run of the family, by run name."""
        return self.build(config)

    def main_runs(self, config: BenchmarkConfig) -> list[str]:
        """The runs that get every map and the adversarial study."""
        return list(self.runs(config)) if self.main is None else self.main(config)

    def names_run(self, name: object) -> bool:
        """Whether ``name`` is one of the family's run names."""
        return name == self.name if self.is_run is None else self.is_run(name)


#: The families by name, in the order their runs are made and reported.
ATTACK_FAMILIES: dict[str, AttackFamily] = {}


def register_family(family: AttackFamily) -> AttackFamily:
    """Add ``family`` to :data:`ATTACK_FAMILIES` (a name is taken once)."""
    if family.name in ATTACK_FAMILIES:
        raise ValueError(f"attack family {family.name!r} is registered twice")
    ATTACK_FAMILIES[family.name] = family
    return family


def cw_name(kappa: float) -> str:
    """The run name of C&W at confidence ``kappa`` (``cw-k0``, ``cw-k5``...)."""
    return f"cw-k{kappa:g}"


def _cw_runs(config: BenchmarkConfig) -> dict[str, FoolboxAttack]:
    return {
        cw_name(kappa): CarliniWagnerL2(
            steps=config.cw_steps,
            binary_search_steps=config.cw_binary_search_steps,
            confidence=kappa,
            initial_const=config.cw_initial_const,
            stepsize=config.cw_stepsize,
            abort_early=True,
        )
        for kappa in dict.fromkeys((*config.kappas, *config.sweep_kappas))
    }


def _check_cw(config: BenchmarkConfig) -> None:
    if not config.kappas:
        raise ValueError("`kappas` is empty but the C&W attack is on")


def _is_cw_run(name: object) -> bool:
    if not isinstance(name, str) or not name.startswith("cw-k"):
        return False
    try:
        return float(name[4:]) >= 0
    except ValueError:
        return False


register_family(
    AttackFamily(
        "cw",
        _cw_runs,
        main=lambda config: [cw_name(k) for k in config.kappas],
        is_run=_is_cw_run,
        pattern="cw-k<kappa>",
        check=_check_cw,
    )
)
register_family(
    AttackFamily("fgsm", lambda config: {"fgsm": FGSM(epsilon=config.fgsm_epsilon)})
)
register_family(
    AttackFamily(
        "bim",
        lambda config: {"bim": BIM(epsilon=config.bim_epsilon, steps=config.bim_steps)},
        calibrated=lambda config: config.bim_calibrate_failure is not None,
    )
)
