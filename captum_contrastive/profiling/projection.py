"""Projected wall time of a large split run from measured per-item costs.

:func:`measure_unit_costs` times, on one model and image size, what the work
items are made of: a forward pass, a forward and backward pass, one C&W step
through Foolbox, and every method's maps, per image. :func:`project_run` counts
the work items of a configured run of ``n_images`` images (the attack chains and
clean maps of :mod:`~captum_contrastive.pipeline.work_items` with the recovery
curves of their shards, the selection scan, the studies) and turns the costs
into the wall time on ``workers`` processes: the work items are shared out
(their sum over the workers, plus one item for the imbalance), the studies'
own work is not split by image (each study runs on one rank), and the selection
scans in waves.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from captum_contrastive.methods import MethodSettings, build_methods, compute_maps
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.units import UNITS
from captum_contrastive.pipeline.work_items import attack_cost, balanced_split

__all__ = ["UnitCosts", "measure_unit_costs", "project_run"]


@dataclass
class UnitCosts:
    """Seconds per image of the parts of a unit, measured on one device.

    Attributes:
        device: where they were measured, in words.
        forward_s: a forward pass without gradients.
        gradient_s: a forward and a backward pass to the input.
        cw_step_s: one C&W step through Foolbox (forward, backward, update).
        maps_s: each method's maps of one image.
        similarity_s: Spearman's rho and the top-10% IoU of two maps.
    """

    device: str
    forward_s: float
    gradient_s: float
    cw_step_s: float
    maps_s: dict[str, float]
    similarity_s: float


def _median_seconds(work: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cw_step_seconds(model: nn.Module, images: torch.Tensor, repeats: int) -> float:
    """Per image and step: C&W with 4 steps minus C&W with 2 steps, over 2."""
    from captum_contrastive.attacks.foolbox_attacks import CarliniWagnerL2

    labels = model(images).argmax(dim=1).detach()

    def attack(steps: int) -> Callable[[], Any]:
        cw = CarliniWagnerL2(steps=steps, binary_search_steps=1, abort_early=False)
        return lambda: cw(model, images, labels)

    longer = _median_seconds(attack(4), repeats)
    shorter = _median_seconds(attack(2), repeats)
    return max(longer - shorter, 1e-9) / 2 / images.shape[0]


def measure_unit_costs(
    model: nn.Module,
    image_size: int = 224,
    batch: int = 2,
    repeats: int = 3,
    methods: tuple[str, ...] | None = None,
    device: str = "cpu",
) -> UnitCosts:
    """Time the parts of the work items on ``model`` (pixel-space inputs, eval
    mode) with random images of ``image_size``; medians of ``repeats``.

    Args:
        model (nn.Module): the classifier.
        image_size (int): the images' side.
        batch (int): images per pass.
        repeats (int): timed repetitions (after one warm-up).
        methods (tuple of str, optional): default: the benchmark's default ones.
        device (str): where to run.
    """
    torch.manual_seed(0)
    model = model.to(device).eval()
    images = torch.rand(batch, 3, image_size, image_size, device=device)

    def forward() -> None:
        with torch.no_grad():
            model(images)

    def gradient() -> None:
        inputs = images.clone().requires_grad_(True)
        model(inputs).max(dim=1).values.sum().backward()

    forward()
    gradient()
    forward_s = _median_seconds(forward, repeats) / batch
    gradient_s = _median_seconds(gradient, repeats) / batch
    cw_step_s = _cw_step_seconds(model, images, max(1, repeats - 1))
    specs = build_methods(MethodSettings())
    targets = torch.zeros(batch, dtype=torch.long)
    maps_s = {}
    indices = list(range(batch))
    for name in methods or BenchmarkConfig().methods:
        spec = specs[name]

        def maps(spec=spec) -> None:
            compute_maps(spec, model, images, targets, indices, 0)

        maps_s[name] = _median_seconds(maps, 1) / batch
    where = (
        torch.cuda.get_device_name(device)
        if device.startswith("cuda")
        else (f"CPU, {torch.get_num_threads()} torch thread(s)")
    )
    similarity_s = _similarity_seconds(images[0], repeats)
    return UnitCosts(where, forward_s, gradient_s, cw_step_s, maps_s, similarity_s)


def _similarity_seconds(image: torch.Tensor, repeats: int) -> float:
    from captum_contrastive.metrics.ranking import spatial_map
    from captum_contrastive.metrics.similarity import spearman, top_iou

    a, b = torch.rand(2, 1, *image.shape, device="cpu")

    def compare() -> None:
        spearman(spatial_map(a), spatial_map(b))
        top_iou(a, b, 0.1, 0, [0])

    return _median_seconds(compare, repeats)


class _CountingData:
    """What the units' ``maps_needed`` read, without any images."""

    masks = None


def _map_seconds(config: BenchmarkConfig, costs: UnitCosts) -> dict[str, float]:
    """Seconds per image of every attack run's chain maps, and of the clean maps."""
    units = [UNITS[name](config) for name in config.studies]
    requests = {r for unit in units for r in unit.maps_needed(_CountingData())}
    seconds: dict[str, float] = {}
    for request in requests:
        key = request.run or "clean"
        seconds[key] = seconds.get(key, 0.0) + costs.maps_s.get(request.method, 0.0)
    return seconds


def _recovery_seconds(config: BenchmarkConfig, costs: UnitCosts) -> float:
    """Per selected image: every ranking's forward passes, every recovery run
    (rankings: each method, its ``|map|`` when signed, random and the oracle)."""
    specs = build_methods(config.method_settings())
    rankings = sum(1 + specs[m].signed for m in config.methods) + 2
    passes = rankings * (1 + len(config.fractions)) * len(config.recovery_runs())
    return passes * costs.forward_s


def _study_seconds(
    config: BenchmarkConfig, costs: UnitCosts, n_images: int
) -> dict[str, float]:
    """Each study's seconds on one rank, besides its per-shard work: the
    adversarial study's map comparisons grow with the images; sanity, ROAD and
    class discriminativity use a fixed number. (The recovery curves are
    per-shard work of the attack chains; the recovery study only aggregates.)"""
    every_map = sum(costs.maps_s.get(m, 0.0) for m in config.methods)
    pairs = sum(
        len(config.methods) * (3 if run in config.control_runs else 1)
        for run in config.main_runs()
    )
    depth = config.sanity_depth or 16
    sanity_models = depth + 1 + config.sanity_independent_layers + 2
    road_rankings = len(config.methods) + 1
    return {
        "adversarial": pairs * costs.similarity_s * n_images,
        "sanity": config.sanity_images * sanity_models * every_map,
        "road": config.road_images
        * 2
        * len(config.road_fractions)
        * road_rankings
        * costs.forward_s,
        "class_discriminativity": config.n_multi_images * 2 * every_map,
    }


def _study_phase(studies: dict[str, float], workers: int) -> float:
    """The study phase's wall time: the studies are shared out by their static
    relative costs, as the runner does, and each rank's true seconds summed."""
    names = [name for name in UNITS if name in studies or name == "recovery"]
    studies = {"recovery": 0.0, **studies}
    split = balanced_split([UNITS[n].relative_cost for n in names], workers)
    return max(sum(studies[names[p]] for p in part) for part in split)


def project_run(
    costs: UnitCosts,
    n_images: int,
    workers: int,
    config: BenchmarkConfig | None = None,
    accuracy: float = 0.716,
    cw_steps_share: float = 1.0,
) -> dict[str, Any]:
    """The wall time of a run of ``n_images`` selected images on ``workers``
    processes, each as fast as the device the costs were measured on.

    Args:
        costs (UnitCosts): measured per-image costs.
        n_images (int): selected (correctly classified) images.
        workers (int): processes (ranks or array parts).
        config (BenchmarkConfig, optional): the run's settings (default: the
            defaults, every study).
        accuracy (float): the share of scanned images the model gets right
            (VGG16 top-1 on ImageNet: 0.716), for the selection scan.
        cw_steps_share (float): the share of C&W's steps that run before its
            early abort stops it; 1 (every step) gives an upper bound.

    Returns:
        seconds per phase (``scan``, ``work_items``, ``imbalance``, ``studies``), each
        study's seconds, the total, and the inputs.
    """
    config = config or BenchmarkConfig()
    attacks = {
        name: attack_cost(attack)
        * (
            costs.cw_step_s * cw_steps_share
            if name.startswith("cw")
            else costs.gradient_s
        )
        for name, attack in config.attack_runs().items()
    }
    maps = _map_seconds(config, costs)
    recovery = _recovery_seconds(config, costs) / len(config.recovery_runs())
    chains = {
        run: attacks[run]
        + maps.get(run, 0.0)
        + (recovery if run in config.recovery_runs() else 0.0)
        for run in attacks
    }
    per_image = sum(chains.values()) + maps.get("clean", 0.0)
    chain = max(chains.values()) * config.shard_size
    studies = _study_seconds(config, costs, n_images)
    phases = {
        "scan": n_images / accuracy * costs.forward_s / workers,
        "work_items": n_images * per_image / workers,
        "imbalance": chain,
        "studies": _study_phase(studies, workers),
    }
    return {
        "n_images": n_images,
        "workers": workers,
        "cw_steps_share": cw_steps_share,
        "costs": asdict(costs),
        "attack_s_per_image": attacks,
        "maps_s_per_image": maps,
        "recovery_curves_s_per_image": recovery * len(config.recovery_runs()),
        "study_s": studies,
        "seconds": phases,
        "total_s": sum(phases.values()),
        "one_process_s": n_images / accuracy * costs.forward_s
        + n_images * per_image
        + sum(studies.values()),
    }
