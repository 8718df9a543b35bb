"""What a benchmark run does: the preset, the attacks, the methods and the sizes.

Every field is checked when the config is made, before any work starts, with an
error that names the field.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from captum_contrastive.attacks.foolbox_attacks import FoolboxAttack
from captum_contrastive.attacks.registry import build_attack
from captum_contrastive.methods import (
    DEFAULT_METHODS,
    MethodSettings,
    registered_methods,
)
from captum_contrastive.metrics import DEFAULT_FRACTIONS
from captum_contrastive.pipeline.attack_families import (
    ATTACK_FAMILIES,
    AttackFamily,
    cw_name,
)
from captum_contrastive.pipeline.options import (
    floats,
    integer_or,
    memory,
    names,
    option,
)
from captum_contrastive.pipeline.sample_order import SAMPLE_ORDERS
from captum_contrastive.pipeline.study_registry import (
    resolve_studies,
    study_names,
    study_spellings,
)

__all__ = [
    "ATTACK_FAMILIES",
    "BenchmarkConfig",
    "FILLS",
    "PRESETS",
    "cw_name",
    "parse_attack",
]

PRESETS = ("shapes", "imagenet-vgg16")
FILLS = ("mean", "zero", "blur", "clean")


def parse_attack(text: str) -> tuple[str, FoolboxAttack]:
    """``"name:setting=value,..."`` as ``(name, attack)``; values are Python
    literals (``0.5``, ``20``, ``True``, ``None``)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f"`extra_attacks` entries are 'name:setting=value,...', got {text!r}"
        )
    name, _, rest = text.strip().partition(":")
    settings: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(
                f"`extra_attacks` setting {item!r} in {text!r} is not key=value"
            )
        try:
            settings[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError) as error:
            raise ValueError(
                f"`extra_attacks` value {value!r} in {text!r} is not a number, "
                "bool or None"
            ) from error
    try:
        return name, build_attack(name, **settings)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`extra_attacks` entry {text!r}: {error}") from error


def _refuse_unless_model(config: BenchmarkConfig, names: tuple[str, ...]) -> None:
    if config.model is not None:
        return
    given = [f"`{name}`" for name in names if getattr(config, name) is not None]
    if given:
        raise ValueError(
            f"{', '.join(given)} apply to `model` (your own classifier), not to "
            f"the {config.preset} preset"
        )


def _three_floats(name: str, values: Any, positive: bool) -> None:
    if values is None:
        return
    ok = isinstance(values, tuple | list) and len(values) == 3
    ok = ok and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )
    if not ok or (positive and any(v <= 0 for v in values)):
        kind = "three positive numbers" if positive else "three numbers"
        raise ValueError(f"`{name}` must be {kind} (R,G,B), got {values!r}")


def _is_run_name(name: Any) -> bool:
    return any(family.names_run(name) for family in ATTACK_FAMILIES.values())


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")


def _positive_float(name: str, value: Any, maximum: float = math.inf) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= maximum
    ):
        raise ValueError(f"`{name}` must be in (0, {maximum}], got {value!r}")


def _names(
    name: str,
    values: Any,
    allowed: tuple[str, ...] | list[str],
    shown: list[str] | None = None,
) -> None:
    """Refuse ``values`` unless a tuple of distinct names of ``allowed``; the
    message lists ``shown`` (default: ``allowed``), the spellings a user types,
    with the closest one to each unknown name."""
    shown = list(allowed) if shown is None else shown
    if isinstance(values, str) or not isinstance(values, tuple | list):
        raise ValueError(f"`{name}` must be a tuple of names, got {values!r}")
    if not values:
        raise ValueError(f"`{name}` is empty; choose from {shown}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        close = [
            match
            for v in unknown
            for match in difflib.get_close_matches(str(v), shown, n=1)
        ]
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ValueError(
            f"`{name}` has unknown names {unknown}{hint}; choose from {shown}"
        )
    repeated = sorted({v for v in values if list(values).count(v) > 1})
    if repeated:
        raise ValueError(f"`{name}` names {repeated} more than once")


@dataclass(frozen=True)
class BenchmarkConfig:
    """Every choice of a run; all of it is written to the results JSON.

    The fields the command line sets carry their option in their metadata
    (:func:`~captum_contrastive.pipeline.options.option`): its spelling, type,
    help and choices, from which the parser, its error messages and the
    documentation's option reference are generated, in the order of the fields.

    Attributes:
        preset: ``"shapes"`` (offline default) or ``"imagenet-vgg16"``.
        model: your classifier instead of a preset (``"shapes"``: the shapes
            preset): ``torchvision:NAME``,
            ``timm:NAME``, ``file.py:factory`` or ``package.module:factory``
            (see :mod:`~captum_contrastive.presets.user_model`).
        data: for ImageNet, an ImageFolder directory or a directory of images with
            a label file; ``None`` uses the 20 foolbox sample photos.
        labels_file: labels of a flat image directory ``data`` (one label per
            line in sorted file order, or ``file label`` lines).
        weights_path: a local weights file (``.pt``/``.pth``/``.safetensors``)
            for ``model`` or the ImageNet preset.
        num_classes: the class count passed to ``model``'s builder.
        mean, std: the normalization ``model`` expects, three values each
            (default: ImageNet's); a model that normalizes inside passes
            ``(0, 0, 0)`` and ``(1, 1, 1)``.
        image_size: resize and centre crop for ``model``'s images, or
            ``"native"`` for none.
        class_names_file: one class name per line, for ``model``.
        cam_layer: the Grad-CAM layer's name in ``model`` (default: the last
            ``nn.Conv2d``).
        n_images: correctly classified images attacked and explained.
        n_multi_images: multi-object images for the class-discriminativity study.
        methods: keys of the method table
            (:data:`~captum_contrastive.methods.METHODS`).
        class_methods: the methods of the class-discriminativity study (GuidedBP
            is its subject, the others are controls); only those also in
            ``methods`` run.
        reference_method: the method the claims are about and every other method
            is compared with.
        failure_run: the attack run whose failed attacks (Adv_f) claim 3 compares
            with its successful ones; ``None`` for none. A run this config does
            not attack is reported as not evaluated.
        attacks: attack families, keys of
            :data:`~captum_contrastive.pipeline.attack_families.ATTACK_FAMILIES`
            (``cw``, ``fgsm``, ``bim``).
        extra_attacks: more attack runs, each ``"name:setting=value,..."`` with a
            name from :data:`~captum_contrastive.attacks.ATTACKS` (e.g.
            ``"pgd_l2:epsilon=0.5,steps=20"``); the run is called by the attack's
            name and is a main run (maps and the adversarial study).
        studies: the studies to run, by name (default: every registered one,
            :func:`~captum_contrastive.pipeline.study_registry.study_names`); a
            study's command is an alias of its name (``class`` for
            ``class_discriminativity``).
        kappas: C&W confidences of the main runs (κ=0 and a stronger one).
        sweep_kappas: C&W confidences of the recovery-AUC sweep.
        recovery_attacks: attack families that get the perturbation-recovery
            study (C&W: every κ of ``kappas`` and ``sweep_kappas``).
        control_runs: attack runs that also get the class-only, input-only and
            noise controls (the others get the main comparison only); runs
            this config does not attack are listed as skipped.
        cw_steps, cw_binary_search_steps, cw_stepsize, cw_initial_const: C&W.
        fgsm_epsilon: FGSM L∞ radius (pixel units).
        bim_epsilon, bim_steps: BIM; the radius is chosen weak enough that a good
            share of attacks fail (Adv_f). ``bim_epsilon`` is the paper-style
            fixed radius, unused when ``bim_calibrate_failure`` is set.
        bim_calibrate_failure: instead of ``bim_epsilon``, choose BIM's radius
            per model so that this share of its attacks fails (in ``(0, 1)``,
            e.g. 0.5), by bisection on the first ``bim_calibration_images``
            selected images (:func:`~captum_contrastive.attacks.calibrate_epsilon`);
            ``None``: the fixed ``bim_epsilon``.
        bim_calibration_images: the calibration subset: the first this many of
            the selected images (all of them when ``n_images`` is smaller).
        bim_calibration_bounds: the smallest and largest radius the calibration
            tries (pixel units); a target beyond them gives that bound, flagged.
        ig_steps: Integrated-Gradients steps.
        smoothgrad_samples: SmoothGrad noisy samples per image.
        fractions: pixel fractions of the recovery curves.
        fill: the recovery fill, one of :data:`FILLS`.
        grid_images: images in the qualitative grid.
        n_resamples: bootstrap resamples.
        seed: the run's seed, in ``[0, 2**63)``; every random draw comes from
            ``(seed, image index)``.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        out: output directory (``cache/`` inside holds the resumable stages).
        shard_size: images per cached shard (attacks and maps).
        select_shard_size: images per forward pass when selecting correctly
            classified images.
        sample_order: the order the selection takes the first ``n_images``
            correctly classified images in: ``"random"`` (a seeded permutation,
            class-balanced when the dataset knows its labels; any ``n_images``
            is a fair sample) or ``"index"`` (dataset index order, as before;
            for reproducing earlier numbers). See
            :mod:`~captum_contrastive.pipeline.sample_order`.
        progress: tqdm progress bars.
        sanity_images: clean images of the ``sanity`` study: the first of the
            selection (all of it when ``n_images`` is smaller).
        sanity_depth: cascading randomisation steps ``@1`` to ``@depth`` before
            ``@all``; ``None``: every layer.
        sanity_independent_layers: layers randomised one at a time, evenly
            spaced from the logits to the input (``0``: none).
        sanity_data_randomization: also the data-randomisation test (Adebayo
            et al., 2018): the shapes model's architecture retrained on permuted
            labels (a few minutes on one CPU thread, cached in ``cache/``), its
            maps compared with the trained model's. Shapes preset only; other
            models report it as not evaluated.
        road_images: clean images of the ``road`` study: the first of the
            selection (all of it when ``n_images`` is smaller).
        road_fractions: removed pixel fractions of the ROAD curves.
        max_memory: the memory budget in GiB: every pass (attack batches,
            Integrated Gradients' steps, SmoothGrad's samples, map batches) is
            split so that the process stays within it
            (:mod:`~captum_contrastive.pipeline.memory_plan`); the peak is recorded.
        attack_workers: attack shards computed at once, in threads of this
            process (results do not depend on it); ``None``: one per CPU core
            (at most 4) on the CPU, 1 on CUDA.
    """

    preset: str = option(
        "shapes",
        flag="--preset",
        parser_default="shapes",
        choices=PRESETS,
        help="shapes: offline default; imagenet-vgg16: torchvision VGG16 with "
        "ImageNet weights (from the torch hub cache or --weights)",
    )
    data: str | None = option(
        None,
        flag="--data",
        help="--model or imagenet-vgg16: an ImageFolder directory, or an image "
        "directory with --labels; default: the 20 foolbox ImageNet samples",
    )
    labels_file: str | None = option(
        None,
        flag="--labels",
        help="with a flat --data directory: the label file (one label per line in "
        "sorted file order, or 'file label' lines)",
    )
    model: str | None = option(
        None,
        flag="--model",
        help="your classifier instead of a preset: torchvision:NAME, timm:NAME, "
        "path/to/file.py:factory or package.module:factory",
    )
    weights_path: str | None = option(
        None,
        flag="--weights",
        help="a local state dict (.pt, .pth or .safetensors) for --model or the "
        "ImageNet preset; never downloaded",
    )
    num_classes: int | None = option(
        None, flag="--num-classes", type=int, help="--model's class count"
    )
    mean: tuple[float, ...] | None = option(
        None,
        flag="--mean",
        type=floats,
        help="R,G,B normalization mean --model expects (default: ImageNet's; a "
        "model that normalizes inside: 0,0,0)",
    )
    std: tuple[float, ...] | None = option(
        None,
        flag="--std",
        type=floats,
        help="R,G,B normalization std (inside: 1,1,1)",
    )
    image_size: int | str = option(
        224,
        flag="--image-size",
        type=integer_or("native"),
        help="resize and centre crop to N (default 224), or 'native' for none",
    )
    class_names_file: str | None = option(
        None, flag="--class-names", help="a file with one class name per line"
    )
    cam_layer: str | None = option(
        None,
        flag="--cam-layer",
        help="the Grad-CAM layer's name (default: the last Conv2d)",
    )
    n_images: int = option(
        80, flag="--n-images", type=int, help="correctly classified images"
    )
    n_multi_images: int = 60
    methods: tuple[str, ...] = option(
        DEFAULT_METHODS,
        flag="--methods",
        type=names,
        listed=registered_methods,
        help="comma-separated, from: {choices}",
    )
    class_methods: tuple[str, ...] = ("guided_backprop", "saliency", "enhanced_gbp")
    reference_method: str = "enhanced_gbp"
    failure_run: str | None = "bim"
    attacks: tuple[str, ...] = option(
        tuple(ATTACK_FAMILIES),
        flag="--attacks",
        type=names,
        listed=lambda: list(ATTACK_FAMILIES),
        help="comma-separated, from: {choices}",
    )
    extra_attacks: tuple[str, ...] = option(
        (),
        flag="--attack",
        action="append",
        dest="extra_attacks",
        metavar="NAME:SETTING=VALUE,...",
        to_value=tuple,
        help="one more attack run from the attack registry, e.g. "
        "'pgd_l2:epsilon=0.5,steps=20' (repeatable)",
    )
    kappas: tuple[float, ...] = (0.0, 5.0)
    sweep_kappas: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0)
    recovery_attacks: tuple[str, ...] = option(
        ("cw",),
        flag="--recovery-attacks",
        type=names,
        help="attack families, or --attack run names, that get the "
        "perturbation-recovery study (default: cw)",
    )
    control_runs: tuple[str, ...] = ("cw-k0", "bim")
    cw_steps: int = 100
    cw_binary_search_steps: int = 4
    cw_stepsize: float = 0.01
    cw_initial_const: float = 0.1
    fgsm_epsilon: float = 8 / 255
    bim_epsilon: float = option(
        3 / 255,
        flag="--bim-epsilon",
        type=float,
        help="BIM's fixed L-infinity radius in pixel units (default 3/255, the "
        "paper's)",
    )
    bim_steps: int = 10
    bim_calibrate_failure: float | None = option(
        None,
        flag="--bim-calibrate-failure",
        type=float,
        metavar="SHARE",
        help="instead of a fixed radius, calibrate BIM's per model so that this "
        "share of its attacks fails (e.g. 0.5), by bisection on the first "
        "--bim-calibration-images selected images; the chosen radius is recorded "
        "in results.json",
    )
    bim_calibration_images: int = option(
        32,
        flag="--bim-calibration-images",
        type=int,
        metavar="K",
        help="images of the BIM calibration subset (default {default})",
    )
    bim_calibration_bounds: tuple[float, ...] = option(
        (1e-4, 32 / 255),
        flag="--bim-calibration-bounds",
        type=floats,
        metavar="LOW,HIGH",
        help="the smallest and largest radius the BIM calibration tries "
        "(default {default})",
    )
    studies: tuple[str, ...] = option(
        default_factory=study_names,
        flag="--studies",
        type=names,
        listed=study_spellings,
        help="comma-separated, from: {choices} (default: every study of the command)",
    )
    sanity_images: int = option(
        16,
        flag="--sanity-images",
        type=int,
        help="clean images of the sanity checks (default {default})",
    )
    sanity_depth: int | None = option(
        6,
        flag="--sanity-depth",
        type=integer_or("all"),
        to_value=lambda depth: None if depth == "all" else depth,
        help="cascading randomisation steps before 'all', or 'all' for every layer "
        "(default {default})",
    )
    sanity_independent_layers: int = 4
    sanity_data_randomization: bool = option(
        False,
        flag="--sanity-data-randomization",
        action=argparse.BooleanOptionalAction,
        help="also retrain the shapes model on permuted labels and compare its "
        "maps (data randomisation; shapes preset only; a few minutes, cached; on "
        "by default with --full)",
    )
    road_images: int = option(
        32,
        flag="--road-images",
        type=int,
        help="clean images of ROAD (default {default})",
    )
    road_fractions: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    max_memory: float = option(
        4.0,
        flag="--max-memory",
        type=memory,
        help="memory budget, e.g. 4G or 3500M (default 4G): every pass is split "
        "to fit, and the peak is in report.md",
    )
    attack_workers: int | None = option(
        None,
        flag="--attack-workers",
        type=int,
        help="attack shards computed at once in threads (default: one per CPU "
        "core, at most 4; the results do not depend on it)",
    )
    ig_steps: int = 16
    smoothgrad_samples: int = 8
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    fill: str = "mean"
    grid_images: int = 4
    n_resamples: int = 2000
    shard_size: int = 32
    select_shard_size: int = 64
    out: Path = option(
        default_factory=lambda: Path("results/benchmark"),
        flag="--out",
        type=Path,
        help="default: {default_out}",
    )
    seed: int = option(0, flag="--seed", type=int, help="default: 0")
    sample_order: str = option(
        "random",
        flag="--sample-order",
        choices=SAMPLE_ORDERS,
        help="the order the first --n-images correctly classified images are "
        "taken in: random (default: seeded, class-balanced when labels are "
        "known) or index (dataset index order, as in earlier versions)",
    )
    device: str = option(
        "cpu",
        flag="--device",
        help="cpu, cuda or cuda:N (default: cpu); under torchrun, cuda means "
        "cuda:LOCAL_RANK on each rank",
    )
    progress: bool = option(
        True,
        flag="--no-progress",
        action="store_false",
        dest="progress",
        help="hide the progress bars",
    )

    def __post_init__(self) -> None:
        for name in (
            "methods",
            "attacks",
            "studies",
            "kappas",
            "sweep_kappas",
            "recovery_attacks",
            "control_runs",
            "class_methods",
            "fractions",
            "road_fractions",
            "extra_attacks",
            "mean",
            "std",
            "bim_calibration_bounds",
        ):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "out", Path(self.out))
        if isinstance(self.studies, tuple):
            object.__setattr__(self, "studies", resolve_studies(self.studies))
        if self.model == "shapes":
            object.__setattr__(self, "model", None)
        self._check_names()
        self._check_sizes()
        self._check_attacks()
        self._check_preset_options()
        self._check_device()

    def _check_names(self) -> None:
        _names("methods", self.methods, registered_methods())
        _names("class_methods", self.class_methods, registered_methods())
        _names("studies", self.studies, study_names(), study_spellings())
        _names("attacks", self.attacks, list(ATTACK_FAMILIES))
        extra = list(self.extra_attack_runs())
        if self.recovery_attacks:
            _names(
                "recovery_attacks", self.recovery_attacks, [*ATTACK_FAMILIES, *extra]
            )
        if self.reference_method not in registered_methods():
            raise ValueError(
                f"`reference_method` {self.reference_method!r} is not a method; "
                f"choose from {registered_methods()}"
            )
        if self.fill not in FILLS:
            raise ValueError(f"`fill` must be one of {FILLS}, got {self.fill!r}")
        if self.sample_order not in SAMPLE_ORDERS:
            raise ValueError(
                f"`sample_order` must be one of {SAMPLE_ORDERS}, got "
                f"{self.sample_order!r}"
            )
        if self.preset not in PRESETS:
            raise ValueError(f"`preset` must be one of {PRESETS}, got {self.preset!r}")

    def _check_study_sizes(self) -> None:
        if self.attack_workers is not None:
            _positive_int("attack_workers", self.attack_workers)
        _positive_float("max_memory", self.max_memory)
        _positive_int("sanity_images", self.sanity_images, minimum=2)
        _positive_int("road_images", self.road_images, minimum=2)
        _positive_int("sanity_independent_layers", self.sanity_independent_layers, 0)
        if not isinstance(self.sanity_data_randomization, bool):
            raise ValueError(
                "`sanity_data_randomization` must be True or False, got "
                f"{self.sanity_data_randomization!r}"
            )
        if self.sanity_depth is not None:
            _positive_int("sanity_depth", self.sanity_depth)
        values = self.road_fractions
        if (
            not values
            or any(not isinstance(f, int | float) or not 0 < f <= 1 for f in values)
            or any(b <= a for a, b in zip(values, values[1:], strict=False))
        ):
            raise ValueError(
                "`road_fractions` must be strictly increasing, in (0, 1], got "
                f"{values!r}"
            )

    def _check_sizes(self) -> None:
        _positive_int("n_images", self.n_images, minimum=2)
        _positive_int("n_multi_images", self.n_multi_images)
        _positive_int("n_resamples", self.n_resamples)
        _positive_int("shard_size", self.shard_size)
        _positive_int("select_shard_size", self.select_shard_size)
        _positive_int("grid_images", self.grid_images, minimum=0)
        self._check_study_sizes()
        _positive_int("seed", self.seed, minimum=0)
        if self.seed >= 2**63:
            raise ValueError(f"`seed` must be below 2**63, got {self.seed}")
        MethodSettings(self.ig_steps, self.smoothgrad_samples)
        if not self.fractions or any(
            not isinstance(f, int | float) or not 0 < f < 1 for f in self.fractions
        ):
            raise ValueError(f"`fractions` must be in (0, 1), got {self.fractions!r}")
        if list(self.fractions) != sorted(set(self.fractions)):
            raise ValueError(f"`fractions` must increase, got {self.fractions!r}")

    def _check_attacks(self) -> None:
        for name in ("kappas", "sweep_kappas"):
            values = getattr(self, name)
            if any(not isinstance(k, int | float) or k < 0 for k in values):
                raise ValueError(f"`{name}` must be non-negative, got {values!r}")
        for family in self._families(self.attacks):
            if family.check is not None:
                family.check(self)
        _positive_int("cw_steps", self.cw_steps)
        _positive_int("cw_binary_search_steps", self.cw_binary_search_steps)
        _positive_int("bim_steps", self.bim_steps)
        _positive_float("cw_stepsize", self.cw_stepsize)
        _positive_float("cw_initial_const", self.cw_initial_const)
        _positive_float("fgsm_epsilon", self.fgsm_epsilon, maximum=1.0)
        _positive_float("bim_epsilon", self.bim_epsilon, maximum=1.0)
        self._check_bim_calibration()
        extra = list(self.extra_attack_runs())
        for name in ("control_runs", "failure_run"):
            values = getattr(self, name)
            values = [values] if isinstance(values, str) else values or []
            bad = [v for v in values if not _is_run_name(v) and v not in extra]
            if bad:
                patterns = (f.pattern or f.name for f in ATTACK_FAMILIES.values())
                raise ValueError(
                    f"`{name}` has {bad}, which are not attack run names "
                    f"({', '.join(patterns)})"
                )

    def _check_bim_calibration(self) -> None:
        share = self.bim_calibrate_failure
        if share is not None and (
            isinstance(share, bool)
            or not isinstance(share, int | float)
            or not 0 < share < 1
        ):
            raise ValueError(
                "`bim_calibrate_failure` must be a share in (0, 1) (or None for "
                f"the fixed `bim_epsilon`), got {share!r}"
            )
        _positive_int("bim_calibration_images", self.bim_calibration_images, 2)
        bounds = self.bim_calibration_bounds
        ok = isinstance(bounds, tuple) and len(bounds) == 2
        ok = ok and all(
            isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
        )
        if not ok or not 0 < bounds[0] < bounds[1] <= 1:
            raise ValueError(
                "`bim_calibration_bounds` must be two radii 0 < low < high <= 1, "
                f"got {bounds!r}"
            )

    def _check_preset_options(self) -> None:
        if self.model is not None:
            self._check_model_options()
        elif self.preset == "shapes":
            _refuse_unless_model(self, ("data", "labels_file", "weights_path"))
        _refuse_unless_model(
            self, ("num_classes", "mean", "std", "class_names_file", "cam_layer")
        )
        if self.labels_file is not None and self.data is None:
            raise ValueError("`labels_file` needs `data`, the image directory")

    def _check_model_options(self) -> None:
        from captum_contrastive.presets.user_model import WEIGHT_SUFFIXES, ModelSpec

        if self.preset != "shapes":
            raise ValueError("give either `model` or `preset`, not both")
        ModelSpec.parse(self.model)
        for name in ("mean", "std"):
            _three_floats(name, getattr(self, name), positive=name == "std")
        if self.num_classes is not None:
            _positive_int("num_classes", self.num_classes, minimum=2)
        if self.image_size != "native":
            _positive_int("image_size", self.image_size, minimum=8)
        for name in ("weights_path", "data", "labels_file", "class_names_file"):
            value = getattr(self, name)
            if value is not None and not Path(value).exists():
                raise ValueError(f"`{name}` {value} does not exist")
        weights = self.weights_path
        if weights is not None and Path(weights).suffix not in WEIGHT_SUFFIXES:
            raise ValueError(f"`weights_path` {weights} must end in {WEIGHT_SUFFIXES}")

    def _check_device(self) -> None:
        try:
            device = torch.device(self.device)
        except RuntimeError as error:
            raise ValueError(f"`device` {self.device!r} is not a device") from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"`device` is {self.device!r} but CUDA is not available")
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"`device` must be cpu or cuda, got {self.device!r}")

    @classmethod
    def full(cls, **overrides: Any) -> BenchmarkConfig:
        """A larger run: more images and stronger C&W optimization."""
        return cls(**{**cls.full_settings(), **overrides})

    @staticmethod
    def full_settings() -> dict[str, Any]:
        """The fields :meth:`full` changes, with their values."""
        return dict(
            n_images=200,
            n_multi_images=150,
            cw_steps=200,
            cw_binary_search_steps=6,
            ig_steps=32,
            smoothgrad_samples=16,
            control_runs=("cw-k0", "cw-k5", "fgsm", "bim"),
            grid_images=6,
            recovery_attacks=tuple(ATTACK_FAMILIES),
            sanity_data_randomization=True,
        )

    def replace(self, **changes: Any) -> BenchmarkConfig:
        """A copy with ``changes``, checked again."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["out"] = str(self.out)
        return values

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def method_settings(self) -> MethodSettings:
        """IG steps, SmoothGrad samples and the Grad-CAM layer (the run may
        split the passes to fit ``max_memory``)."""
        return MethodSettings(
            self.ig_steps, self.smoothgrad_samples, cam_layer=self.cam_layer
        )

    def attack_runs(self) -> dict[str, FoolboxAttack]:
        """The attack runs, by name: each family of ``attacks`` in the order of
        :data:`~captum_contrastive.pipeline.attack_families.ATTACK_FAMILIES`
        (``cw-k0``, ``cw-k5`` and the extra κ of the sweep, ``fgsm``, ``bim``),
        then :attr:`extra_attacks`.

        BIM has the radius ``bim_epsilon``; with ``bim_calibrate_failure`` set,
        :func:`~captum_contrastive.pipeline.runner.run_benchmark` replaces it by
        the calibrated one (:meth:`calibrated_runs`)."""
        runs: dict[str, FoolboxAttack] = {}
        for family in self._families(self.attacks):
            runs |= family.runs(self)
        return runs | self.extra_attack_runs()

    def _families(self, chosen: tuple[str, ...]) -> list[AttackFamily]:
        return [f for name, f in ATTACK_FAMILIES.items() if name in chosen]

    def extra_attack_runs(self) -> dict[str, FoolboxAttack]:
        """The runs of :attr:`extra_attacks`, by name."""
        runs: dict[str, FoolboxAttack] = {}
        for text in self.extra_attacks:
            name, attack = parse_attack(text)
            if name in runs or name in ATTACK_FAMILIES:
                raise ValueError(f"`extra_attacks` runs {name!r} twice")
            runs[name] = attack
        return runs

    def main_runs(self) -> list[str]:
        """Runs that get every map and the discriminativity study."""
        names = [n for f in self._families(self.attacks) for n in f.main_runs(self)]
        return names + list(self.extra_attack_runs())

    def recovery_runs(self) -> list[str]:
        """Runs that get the perturbation-recovery study."""
        chosen = tuple(a for a in self.recovery_attacks if a in self.attacks)
        names = [n for f in self._families(chosen) for n in f.runs(self)]
        return names + [
            a for a in self.extra_attack_runs() if a in self.recovery_attacks
        ]

    def calibrated_runs(self) -> list[str]:
        """Runs whose radius the runner calibrates before attacking (``bim``
        with ``bim_calibrate_failure``)."""
        return [
            name
            for family in self._families(self.attacks)
            if family.calibrated is not None and family.calibrated(self)
            for name in family.runs(self)
        ]
