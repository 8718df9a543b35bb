"""Run the studies end to end: a library call, resumable, every stage cached."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

import captum_contrastive.metrics
import captum_contrastive.pipeline.memory_plan
import captum_contrastive.pipeline.requested_maps
import captum_contrastive.pipeline.stored_maps
import captum_contrastive.pipeline.units.base
import captum_contrastive.row_chunks
import captum_contrastive.studies
import captum_contrastive.typed_json
from captum_contrastive.applicability import Applicability, applicability_table
from captum_contrastive.attacks.foolbox_attacks import FoolboxAttack
from captum_contrastive.fingerprint import code_digest
from captum_contrastive.methods import DEFAULT_METHODS, MethodSettings, build_methods
from captum_contrastive.pipeline.attack_pool import (
    attack_pool,
    attack_workers,
    draws_global_randomness,
)
from captum_contrastive.pipeline.baseline_checks import BaselineCheck, check_baselines
from captum_contrastive.pipeline.bim_calibration import calibrate_bim
from captum_contrastive.pipeline.cache import MissingShardError, StageCache, StageKey
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.memory_plan import (
    MemoryPlan,
    check_held_bytes,
    held_images_bound,
    plan_memory,
    warn_if_bound_exceeds,
)
from captum_contrastive.pipeline.out_folder import (
    cache_bytes_estimate,
    check_free_space,
    folder_bytes,
)
from captum_contrastive.pipeline.ranks import Ranks, RanksError
from captum_contrastive.pipeline.requested_maps import (
    compute_requested_maps,
    predict_in_shards,
    prepare_controls,
)
from captum_contrastive.pipeline.run_data import RunData
from captum_contrastive.pipeline.shared_work import (
    MissingWorkError,
    SharePlan,
    compute_share,
    missing_items,
)
from captum_contrastive.pipeline.stages import (
    AttackedImages,
    NotEnoughImagesError,
    StageContext,
    select_correct,
    start_attack,
    store_images,
)
from captum_contrastive.pipeline.stored_maps import forget_kept_shards
from captum_contrastive.pipeline.study_registry import registered_units
from captum_contrastive.pipeline.units import StudyResult, StudyUnit
from captum_contrastive.pipeline.units.base import check_summary_type
from captum_contrastive.pipeline.work_items import balanced_split
from captum_contrastive.presets.base import Preset
from captum_contrastive.presets.image_folder import ImageReadError

__all__ = ["BenchmarkRun", "MethodNotApplicableError", "load_preset", "run_benchmark"]

#: Images on which each baseline is compared with its degenerate twin.
BASELINE_CHECK_IMAGES = 4


def load_preset(config: BenchmarkConfig) -> Preset:
    """The preset named by ``config.preset`` on ``config.device``."""
    if config.model is not None:
        return _user_preset(config)
    if config.preset == "shapes":
        from captum_contrastive.presets.shapes_model import shapes_preset

        return shapes_preset(split="test", device=config.device)
    from captum_contrastive.presets.imagenet import imagenet_preset

    return imagenet_preset(
        "vgg16",
        weights_path=config.weights_path,
        data=config.data,
        device=config.device,
        labels_file=config.labels_file,
    )


def _user_preset(config: BenchmarkConfig) -> Preset:
    from captum_contrastive.presets.imagenet import IMAGENET_MEAN, IMAGENET_STD
    from captum_contrastive.presets.user import user_preset

    return user_preset(
        config.model,
        config.weights_path,
        config.data,
        config.labels_file,
        num_classes=config.num_classes,
        mean=config.mean or IMAGENET_MEAN,
        std=config.std or IMAGENET_STD,
        image_size=config.image_size,
        class_names_file=config.class_names_file,
        device=config.device,
    )


class MethodNotApplicableError(ValueError):
    """A method chosen in ``methods`` cannot run on the model."""


def _first_image_shape(preset: Preset) -> tuple[int, ...]:
    for index in range(min(len(preset.dataset), 16)):
        try:
            return tuple(preset.dataset[index].image.shape)
        except ImageReadError:
            continue
    raise NotEnoughImagesError("none of the first 16 images of the data can be read")


def _applicable_methods(
    config: BenchmarkConfig, context: StageContext
) -> tuple[BenchmarkConfig, list[Applicability]]:
    """Probe every method on one image before any work
    (:func:`~captum_contrastive.applicability.applicability_table`). A method
    that raises is an error when it was chosen, and is dropped (said in the
    report) when it came with the default list; degenerate ones are reported."""
    table = applicability_table(
        context.model,
        config.methods,
        _first_image_shape(context.preset),
        settings=MethodSettings(2, 2, cam_layer=config.cam_layer),
        seed=config.seed,
    )
    failing = {a.method: a.reason for a in table if a.status == "fails"}
    if not failing:
        return config, table
    if tuple(config.methods) != DEFAULT_METHODS:
        raise MethodNotApplicableError(
            "these `methods` cannot run on this model: "
            + "; ".join(f"{m}: {why}" for m, why in failing.items())
            + ". Leave them out of `methods`."
        )
    kept = tuple(m for m in config.methods if m not in failing)
    return config.replace(methods=kept), table


def _check_methods_apply(config: BenchmarkConfig, model: nn.Module) -> None:
    """Methods that need something of the model (a Grad-CAM layer) fail now,
    before any work, with an error naming the option."""
    from captum_contrastive.methods import METHODS, cam_layer

    if any(METHODS[name].needs_layer for name in config.methods):
        cam_layer(model, config.cam_layer)


@dataclass
class BenchmarkRun:
    """Everything a run produced, before it is written out.

    Attributes:
        config: the run's configuration.
        units: the study units, in report order.
        results: each unit's :class:`StudyResult`, by unit name.
        data: the shared stages' outputs (images, attacks, maps).
        keys: every stage key of the run, by a readable name.
        baseline_checks: Captum baselines compared with their degenerate twins
            on the first images (:mod:`~captum_contrastive.pipeline.baseline_checks`).
        timings: seconds per stage.
        preset: name and description of the model and data.
        memory: how the run fits its memory budget (``max_memory``).
        applicability: each method probed on the model before the run; a
            default method that cannot run is dropped from ``config.methods``.
        ranks: which part of a split run this process did.
        rank_accounts: per rank of a split run, its units and busy seconds.
        sections: report sections other ranks rendered already, by study.
    """

    config: BenchmarkConfig
    units: list[StudyUnit] = field(default_factory=list)
    results: dict[str, StudyResult] = field(default_factory=dict)
    data: RunData | None = None
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    preset: dict[str, str] = field(default_factory=dict)
    baseline_checks: list[BaselineCheck] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    memory: MemoryPlan | None = None
    #: Bytes of the tensors held after the maps: each image's label,
    #: predictions and attack outcome; the images stay in the cache
    #: (:meth:`~captum_contrastive.pipeline.units.base.RunData.held_bytes`).
    held_bytes: int | None = None
    #: The most bytes of images a process holds at once
    #: (:func:`~captum_contrastive.pipeline.memory_plan.held_images_bound`).
    held_images_bound: int | None = None
    applicability: list[Applicability] = field(default_factory=list)
    ranks: Ranks = field(default_factory=Ranks)
    rank_accounts: list[dict[str, Any]] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        """Whether this process did only its part (no outputs to write)."""
        return not self.ranks.is_main

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.timings[stage] = self.timings.get(stage, 0.0) + elapsed


def _predict(model: nn.Module, device: torch.device, topk: int = 1):
    def predict(images: Tensor) -> Tensor:
        with torch.no_grad():
            logits = model(images.to(device))
        return logits.topk(topk, dim=1).indices[:, topk - 1].cpu()

    return predict


def _calibrated_bim(
    run: BenchmarkRun, context: StageContext, data: RunData, attack: FoolboxAttack
) -> FoolboxAttack:
    """BIM with the radius calibrated to ``bim_calibrate_failure``; the result is
    recorded in ``run.keys["calibrate bim"]`` and ``data.bim_calibration``."""
    with run.timed("calibrate bim"):
        calibrated = calibrate_bim(context, attack, data.selection, run.config)
    run.keys["calibrate bim"] = calibrated.key.to_json()
    data.bim_calibration = calibrated
    return replace(attack, epsilon=calibrated.calibration.epsilon)


def _chosen_attacks(
    run: BenchmarkRun, context: StageContext, data: RunData
) -> tuple[dict[str, FoolboxAttack], int]:
    """The attack runs the units need, as they will run (BIM calibrated, batches
    fitted to the memory budget), and how many threads run their shards."""
    config = run.config
    needed = dict.fromkeys(r for unit in run.units for r in unit.runs_needed())
    chosen = {}
    for name, attack in config.attack_runs().items():
        if name not in needed:
            continue
        if name in config.calibrated_runs():
            attack = _calibrated_bim(run, context, data, attack)
        chosen[name] = attack
    workers = attack_workers(config.attack_workers, config.device)
    fitted = {
        name: _fit_attack(attack, workers, config.shard_size, run.memory)
        for name, attack in chosen.items()
    }
    workers = min((w for _, w in fitted.values()), default=workers)
    return {name: attack for name, (attack, _) in fitted.items()}, workers


def _attack_runs(
    run: BenchmarkRun,
    context: StageContext,
    data: RunData,
    chosen: dict[str, FoolboxAttack],
    workers: int,
) -> dict[str, AttackedImages]:
    """Every attack run the units need. Shards of attacks that draw no global
    randomness run side by side (:mod:`~captum_contrastive.pipeline.attack_pool`);
    the per-run timings are then busy seconds, ``attacks`` the wall time."""
    pending = {}
    with run.timed("attacks"), attack_pool(context.preset.model, workers) as pool:
        for name, attack in chosen.items():
            executor = None if draws_global_randomness(attack) else pool
            pending[name] = start_attack(
                context,
                name,
                attack,
                data.selection,
                run.config.shard_size,
                executor,
                data.stored_images,
            )
        attacks = {name: found.result() for name, found in pending.items()}
    for name, found in pending.items():
        run.timings[f"attack {name}"] = found.busy_seconds()
        run.keys[f"attack {name}"] = attacks[name].key.to_json()
    return attacks


def _largest_pass(settings: MethodSettings, shard_size: int) -> int:
    """The rows of a method's largest unsplit pass: a shard times IG's steps or
    SmoothGrad's samples."""
    return shard_size * max(settings.ig_steps, settings.smoothgrad_samples)


def _method_settings(config: BenchmarkConfig, plan: MemoryPlan) -> MethodSettings:
    """The config's method settings, with passes split to fit the budget when a
    method's largest pass (a shard times IG's steps or SmoothGrad's samples)
    would not; otherwise unchanged (and so are the methods' keys)."""
    settings = config.method_settings()
    if plan.fits(_largest_pass(settings, config.shard_size)):
        return settings
    return replace(settings, rows_per_pass=plan.rows_per_pass)


def _fit_attack(
    attack: FoolboxAttack, workers: int, shard_size: int, plan: MemoryPlan
) -> tuple[FoolboxAttack, int]:
    """Fewer attack threads, then smaller Foolbox batches (part of the attack's
    key), until the passes running at once fit the budget."""
    chunk = min(attack.batch_size or shard_size, shard_size)
    if plan.fits(workers * chunk):
        return attack, workers
    workers = max(1, min(workers, plan.rows_per_pass // chunk))
    if plan.fits(workers * chunk):
        return attack, workers
    return replace(attack, batch_size=max(1, plan.rows_per_pass // workers)), workers


def _shared_data(run: BenchmarkRun, context: StageContext, ranks: Ranks) -> RunData:
    config = run.config
    with run.timed("select images"):
        selection = select_correct(
            context,
            config.n_images,
            config.select_shard_size,
            config.sample_order,
            config.seed,
            ranks,
        )
    run.keys["select"] = selection.key.to_json()
    with run.timed("store images"):
        stored = store_images(context, selection, config.shard_size, ranks)
    run.keys["images"] = stored.key.to_json()
    images = stored.images
    run.memory = plan_memory(context.model, images.map_shape, config.max_memory)
    data = RunData(
        config,
        context,
        selection,
        build_methods(_method_settings(config, run.memory)),
        images,
        stored.labels,
        stored.masks,
        attacks={},
    )
    data.stored_images = stored
    data.predict = _predict(context.model, context.device)
    data.clean_runner_up = predict_in_shards(
        data, images, _predict(context.model, context.device, 2)
    )
    return data


def _study_key(unit: StudyUnit, data: RunData) -> StageKey:
    maps = sorted(
        key.digest
        for request, key in data.map_keys.items()
        if request in set(unit.maps_needed(data))
    )
    attacks = {
        r: data.attacks[r].key.digest for r in unit.runs_needed() if r in data.attacks
    }
    return data.context.key(
        "study",
        study=unit.stage_name(),
        code=code_digest(
            sys.modules[type(unit).__module__],
            captum_contrastive.studies,
            captum_contrastive.metrics,
            captum_contrastive.pipeline.memory_plan,
            captum_contrastive.pipeline.requested_maps,
            captum_contrastive.pipeline.stored_maps,
            captum_contrastive.pipeline.units.base,
            captum_contrastive.row_chunks,
            captum_contrastive.typed_json,
        ),
        settings=unit.settings(),
        methods={m: data.specs[m].key() for m in data.config.methods},
        selection=data.selection.key.digest,
        attacks=attacks,
        maps=maps,
        extra=unit.stage_key_extra(),
    )


def _evaluate(unit: StudyUnit, data: RunData) -> StudyResult:
    """The unit's result, cached under a key of its settings and inputs."""
    key = _study_key(unit, data)
    store = data.context.store
    cache = StageCache(data.context.cache_root, key, read_only=not store)

    def compute(_: list[int]) -> dict[str, Any]:
        result = unit.evaluate(data)
        check_summary_type(unit, result)
        result.key = key.digest
        return result.to_json()

    try:
        found = cache.load_or_compute([], compute)
    except MissingShardError:  # a cache that is not written to
        found = compute([])
    return StudyResult.from_json(found, unit.summary_type)


def run_benchmark(
    config: BenchmarkConfig,
    preset: Preset | None = None,
    multi_object_preset: Preset | None = None,
    ranks: Ranks | None = None,
    merge_only: bool = False,
    write_cache: bool = True,
) -> BenchmarkRun:
    r"""Attack, explain and evaluate, as configured; every stage is cached on disk.

    Stages work on shards of dataset indices and draw random numbers from
    ``(seed, image index)`` streams. Each stage is stored under a key of what it
    depends on (settings, the model's weights, the data, upstream keys), so a
    rerun into a used folder reuses exactly what is still valid and recomputes
    the rest.

    A run split over processes (``ranks``) computes the same cache files and
    the same numbers as one process:

    - ``torchrun`` ranks select in waves, then each computes its share of the
      attack chains and clean maps (:mod:`~captum_contrastive.pipeline.work_items`),
      waits for the others, evaluates its share of the studies, and waits
      again; rank 0 then reads everything from the cache and returns the run
      (the others return a :attr:`BenchmarkRun.partial` run);
    - a ``--shard i/n`` part computes its share of the attacks and maps and
      returns a partial run; a later run without a shard (the merge) finds them
      in the cache, computes what is missing (or, with ``merge_only``, raises
      :class:`~captum_contrastive.pipeline.shared_work.MissingWorkError` naming
      the missing units), evaluates the studies and returns the run.

    Args:
        config (BenchmarkConfig): the run.
        preset (Preset, optional): your own model and data; default: the preset
            named by ``config.preset``.
        multi_object_preset (Preset, optional): a second data set, handed to
            every unit's :meth:`~.units.base.StudyUnit.prepare`: images with
            several labelled objects (``LabeledImage.labels``) for the
            class-discriminativity study, which otherwise takes the shapes
            preset's multi-object variant, the data's multi-label images (a
            label file with several labels per line), or else the top-2 classes
            of the selected images, reported as a stand-in.
        ranks (Ranks, optional): this process's part of a split run
            (:func:`~captum_contrastive.pipeline.ranks.joined_ranks`); default:
            one process does everything.
        merge_only (bool): compute no attack or map: stop, naming them, when
            any is missing (the selection must be cached too).
        write_cache (bool): ``False`` writes nothing into the cache, which may
            then be on read-only media (implies ``merge_only``): a study result
            not in it is computed in memory. Re-render a finished run's reports
            elsewhere with :func:`~captum_contrastive.pipeline.report.write_outputs`'s
            ``out``.

    Returns:
        :class:`BenchmarkRun`. Write it out with
        :func:`captum_contrastive.pipeline.report.write_outputs` (unless
        :attr:`BenchmarkRun.partial`).

    Examples::

        >>> run = run_benchmark(BenchmarkConfig(n_images=16, out=Path("results/x")))
        >>> write_outputs(run)
    """
    ranks = ranks or Ranks()
    run = BenchmarkRun(config, ranks=ranks)
    forget_kept_shards()  # of an earlier run in this process
    torch.manual_seed(config.seed)
    merge_only = merge_only or not write_cache
    preset, context = _load_context(run, config, preset, merge_only, write_cache)
    config = _configure_run(run, config, preset, context)
    run.data = data = _shared_data(run, context, ranks)
    _run_baseline_checks(run, config, context, data)
    plan, workers = _plan_work(run, context, data, ranks, merge_only)
    account: dict[str, Any] = {}
    if ranks.splits_work:
        with run.timed("own units"):
            account = compute_share(data, plan, ranks, run.units)
        if ranks.mode == "shard":
            run.rank_accounts = [account]
            return run
        ranks.barrier()
    _attacks_and_maps(run, data, plan, workers)
    for unit in run.units:
        unit.prepare(data, multi_object_preset)
    if ranks.mode == "torchrun":
        _evaluate_own_studies(run, data, ranks, account)
        if not ranks.is_main:
            return run
    _evaluate_studies(run, data)
    return run


def _load_context(
    run: BenchmarkRun,
    config: BenchmarkConfig,
    preset: Preset | None,
    merge_only: bool,
    write_cache: bool,
) -> tuple[Preset, StageContext]:
    """The preset (``config.preset``'s unless given) and the context of its cache."""
    with run.timed("load preset"):
        preset = preset or load_preset(config)
        context = StageContext.for_preset(
            preset, config.out / "cache", config.device, config.progress
        )
        context.read_only, context.store = merge_only, write_cache
    return preset, context


def _configure_run(
    run: BenchmarkRun, config: BenchmarkConfig, preset: Preset, context: StageContext
) -> BenchmarkConfig:
    """Check the methods, keep the applicable ones, and record the run's units and
    preset; the config with the applicable methods."""
    _check_methods_apply(config, context.model)
    with run.timed("applicability"):
        config, run.applicability = _applicable_methods(config, context)
    run.config = config
    run.units = _units(config)
    run.preset = {"name": preset.name, "description": preset.description}
    run.class_names = list(preset.class_names)
    return config


def _run_baseline_checks(
    run: BenchmarkRun, config: BenchmarkConfig, context: StageContext, data: RunData
) -> None:
    """The methods' baseline checks on the first selected images."""
    with run.timed("baseline checks"):
        few = slice(0, BASELINE_CHECK_IMAGES)
        run.baseline_checks = check_baselines(
            context.model,
            data.images[few],
            data.labels[few],
            data.specs,
            config.methods,
        )


def _plan_work(
    run: BenchmarkRun,
    context: StageContext,
    data: RunData,
    ranks: Ranks,
    merge_only: bool,
) -> tuple[SharePlan, int]:
    """The attacks and maps to compute and the attack workers, after the checks
    that can fail before the long stages."""
    attacks, workers = _chosen_attacks(run, context, data)
    _check_split_attacks(attacks, ranks)
    requests = [r for unit in run.units for r in unit.maps_needed(data)]
    _check_held_bound(run, data, workers)
    plan = SharePlan.build(data, attacks, requests)
    if merge_only and (missing := missing_items(data, plan)):
        raise MissingWorkError(missing)
    if not merge_only:
        _check_cache_room(data, plan)
    return plan, workers


def _evaluate_studies(run: BenchmarkRun, data: RunData) -> None:
    """Every unit's result (cached), timed, with its key."""
    for unit in run.units:
        with run.timed(f"study {unit.stage_name()}"):
            run.results[unit.name] = _evaluate(unit, data)
        run.keys[f"study {unit.stage_name()}"] = {"digest": run.results[unit.name].key}


def _units(config: BenchmarkConfig) -> list[StudyUnit]:
    """The units of ``config.studies``, in registration (report) order."""
    return [
        unit(config)
        for name, unit in registered_units().items()
        if name in config.studies
    ]


def _attacks_and_maps(
    run: BenchmarkRun, data: RunData, plan: SharePlan, workers: int
) -> None:
    """Every attack run, control and map of the run, into ``data`` (from the
    cache where a split run's units put them)."""
    data.attacks = _attack_runs(run, data.context, data, plan.attacks, workers)
    prepare_controls(data)
    with run.timed("maps"):
        compute_requested_maps(data, plan.requests)
    run.held_bytes = data.held_bytes()
    check_held_bytes(run.held_bytes, len(data.images), len(data.attacks))
    for request, key in data.map_keys.items():
        name = f"maps {request.method} {request.condition} {request.run or ''}"
        run.keys[name.strip()] = {"digest": key.digest}


def _check_held_bound(run: BenchmarkRun, data: RunData, workers: int) -> None:
    """Warn before the long stages when the images a process holds at once
    (:func:`~captum_contrastive.pipeline.memory_plan.held_images_bound`: a few
    shards, whatever the number of images), with its largest pass, would not
    fit ``max_memory``."""
    config, plan = run.config, run.memory
    if plan is None or not len(data.images):
        return
    run.held_images_bound = held_images_bound(
        data.images.row_bytes, config.shard_size, workers
    )
    largest = _largest_pass(config.method_settings(), config.shard_size)
    # On CUDA the passes are in the GPU's memory; the held images in the host's.
    on_host = data.context.device.type == "cpu"
    rows = min(largest, plan.rows_per_pass) if on_host else 0
    warn_if_bound_exceeds(plan, rows, run.held_images_bound, config.shard_size)


def _check_cache_room(data: RunData, plan: SharePlan) -> None:
    """Fail before the attacks, naming both numbers, when the attacks and maps
    the run will cache do not fit the free space of the cache's folder
    (:class:`~captum_contrastive.pipeline.out_folder.NoRoomError`)."""
    if not len(data.images):
        return
    root = data.context.cache_root
    # The selected images' shards take one image per image, as a map request.
    needed = cache_bytes_estimate(
        data.images.row_bytes,
        len(data.images),
        len(plan.attacks),
        len(plan.requests) + 1,
    )
    check_free_space(root, needed, folder_bytes(root))


def _check_split_attacks(attacks: dict[str, FoolboxAttack], ranks: Ranks) -> None:
    """An attack with a random start draws from the process's global generator,
    so its result would depend on which process attacks which shard first."""
    random = [name for name, a in attacks.items() if draws_global_randomness(a)]
    if ranks.splits_work and random:
        raise RanksError(
            f"attack runs {', '.join(random)} start at random points drawn from "
            "the global generator, so their results would depend on the split: "
            "run them in one process, or without `random_start`"
        )


def _evaluate_own_studies(
    run: BenchmarkRun, data: RunData, ranks: Ranks, account: dict[str, Any]
) -> None:
    """This rank's share of the studies (balanced by their measured relative
    cost), then wait for every rank; the ranks' accounts land in
    :attr:`BenchmarkRun.rank_accounts`."""
    costs = [unit.relative_cost for unit in run.units]
    mine = balanced_split(costs, ranks.world_size)[ranks.rank]
    start = time.perf_counter()
    own = {run.units[p].name: _evaluate(run.units[p], data) for p in mine}
    account["studies"] = list(own)
    account["busy_seconds"]["studies"] += time.perf_counter() - start
    run.rank_accounts = ranks.gather(account)
    rendered = ranks.gather(_render_sections(run, own))
    if ranks.is_main:
        run.sections = {name: s for found in rendered for name, s in found.items()}


def _render_sections(
    run: BenchmarkRun, results: dict[str, StudyResult]
) -> dict[str, Any]:
    """The report sections (and figures) of this rank's studies' ``results``,
    each rank rendering its own at the same time; rank 0 assembles them."""
    run.config.out.mkdir(parents=True, exist_ok=True)
    units = {unit.name: unit for unit in run.units}
    return {
        name: units[name].render(result, run.config.out)
        for name, result in results.items()
    }
