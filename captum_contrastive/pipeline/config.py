"""What a benchmark run does: the preset, the attacks, the methods and the sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from captum_contrastive.attacks.foolbox_attacks import (
    BIM,
    FGSM,
    CarliniWagnerL2,
    FoolboxAttack,
)
from captum_contrastive.metrics import DEFAULT_FRACTIONS
from captum_contrastive.pipeline.methods import DEFAULT_METHODS, METHODS

__all__ = ["ATTACK_FAMILIES", "BenchmarkConfig", "STUDIES"]

ATTACK_FAMILIES = ("cw", "fgsm", "bim")
STUDIES = ("recovery", "adversarial", "class", "localization")


@dataclass
class BenchmarkConfig:
    """Every choice of a run; all of it is written to the results JSON.

    Attributes:
        preset: ``"shapes"`` (offline default) or ``"imagenet-vgg16"``.
        data: for ImageNet, an ImageFolder directory or a directory of images with
            a label file; ``None`` uses the 20 foolbox sample photos.
        labels_file: labels of a flat image directory ``data`` (one label per
            line in sorted file order, or ``file label`` lines).
        weights_path: a local weights file for the ImageNet model.
        n_images: correctly classified images attacked and explained.
        n_multi_images: multi-object images for the class-discriminativity study.
        methods: keys of :data:`~captum_contrastive.pipeline.methods.METHODS`.
        attacks: attack families among ``cw``, ``fgsm``, ``bim``.
        studies: which of :data:`STUDIES` to run.
        kappas: C&W confidences of the main runs (κ=0 and a stronger one).
        sweep_kappas: C&W confidences of the recovery-AUC sweep.
        recovery_attacks: attack families that get the perturbation-recovery
            study (C&W: every κ of ``kappas`` and ``sweep_kappas``).
        control_runs: attack runs that also get the class-only, input-only and
            noise controls (the others get the main comparison only).
        cw_steps, cw_binary_search_steps, cw_stepsize, cw_initial_const: C&W.
        fgsm_epsilon: FGSM L∞ radius (pixel units).
        bim_epsilon, bim_steps: BIM; the radius is chosen weak enough that a good
            share of attacks fail (Adv_f).
        ig_steps: Integrated-Gradients steps.
        smoothgrad_samples: SmoothGrad noisy samples per image.
        fractions: pixel fractions of the recovery curves.
        fill: the recovery fill.
        grid_images: images in the qualitative grid.
        n_resamples: bootstrap resamples.
        seed: the run's seed; every random draw comes from (seed, image index).
        device: ``"cpu"`` or ``"cuda"``.
        out: output directory (``cache/`` inside holds the resumable stages).
        shard_size: images per cached shard.
        progress: tqdm progress bars.
    """

    preset: str = "shapes"
    data: str | None = None
    labels_file: str | None = None
    weights_path: str | None = None
    n_images: int = 80
    n_multi_images: int = 60
    methods: tuple[str, ...] = DEFAULT_METHODS
    attacks: tuple[str, ...] = ATTACK_FAMILIES
    studies: tuple[str, ...] = STUDIES
    kappas: tuple[float, ...] = (0.0, 5.0)
    sweep_kappas: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0)
    recovery_attacks: tuple[str, ...] = ("cw",)
    control_runs: tuple[str, ...] = ("cw-k0", "bim")
    cw_steps: int = 100
    cw_binary_search_steps: int = 4
    cw_stepsize: float = 0.01
    cw_initial_const: float = 0.1
    fgsm_epsilon: float = 8 / 255
    bim_epsilon: float = 3 / 255
    bim_steps: int = 10
    ig_steps: int = 16
    smoothgrad_samples: int = 8
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    fill: str = "mean"
    grid_images: int = 4
    n_resamples: int = 2000
    seed: int = 0
    device: str = "cpu"
    out: Path = field(default_factory=lambda: Path("results/benchmark"))
    shard_size: int = 32
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(
                f"`methods` has unknown names {unknown}; choose from {list(METHODS)}"
            )
        bad = [
            a
            for a in (*self.attacks, *self.recovery_attacks)
            if a not in ATTACK_FAMILIES
        ]
        if bad:
            raise ValueError(f"unknown attacks {bad}; choose from {ATTACK_FAMILIES}")
        bad = [s for s in self.studies if s not in STUDIES]
        if bad:
            raise ValueError(f"unknown studies {bad}; choose from {STUDIES}")
        if self.n_images < 2:
            raise ValueError(f"`n_images` must be at least 2, got {self.n_images}")
        self.out = Path(self.out)

    @classmethod
    def full(cls, **overrides: Any) -> BenchmarkConfig:
        """A larger run: more images and stronger C&W optimization."""
        settings: dict[str, Any] = dict(
            n_images=200,
            n_multi_images=150,
            cw_steps=200,
            cw_binary_search_steps=6,
            ig_steps=32,
            smoothgrad_samples=16,
            control_runs=("cw-k0", "cw-k5", "fgsm", "bim"),
            grid_images=6,
            recovery_attacks=ATTACK_FAMILIES,
        )
        settings.update(overrides)
        return cls(**settings)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["out"] = str(self.out)
        return values

    def attack_runs(self) -> dict[str, FoolboxAttack]:
        """The attack runs, by name (``cw-k0``, ``cw-k5``, ``fgsm``, ``bim``, and
        the extra κ of the sweep)."""
        runs: dict[str, FoolboxAttack] = {}
        if "cw" in self.attacks:
            for kappa in dict.fromkeys((*self.kappas, *self.sweep_kappas)):
                runs[cw_name(kappa)] = CarliniWagnerL2(
                    steps=self.cw_steps,
                    binary_search_steps=self.cw_binary_search_steps,
                    confidence=kappa,
                    initial_const=self.cw_initial_const,
                    stepsize=self.cw_stepsize,
                    abort_early=True,
                )
        if "fgsm" in self.attacks:
            runs["fgsm"] = FGSM(epsilon=self.fgsm_epsilon)
        if "bim" in self.attacks:
            runs["bim"] = BIM(epsilon=self.bim_epsilon, steps=self.bim_steps)
        return runs

    def main_runs(self) -> list[str]:
        """Runs that get every map and the discriminativity study."""
        names = [cw_name(k) for k in self.kappas] if "cw" in self.attacks else []
        return names + [a for a in ("fgsm", "bim") if a in self.attacks]

    def recovery_runs(self) -> list[str]:
        names: list[str] = []
        if "cw" in self.recovery_attacks and "cw" in self.attacks:
            names += [
                cw_name(k) for k in dict.fromkeys((*self.kappas, *self.sweep_kappas))
            ]
        names += [
            a
            for a in ("fgsm", "bim")
            if a in self.recovery_attacks and a in self.attacks
        ]
        return names


def cw_name(kappa: float) -> str:
    return f"cw-k{kappa:g}"
