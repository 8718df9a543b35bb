"""Run the paper's evaluations end to end: a library call, resumable and sharded."""

from __future__ import annotations

import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import captum
import foolbox
import numpy as np
import torch
import torchvision
from torch import Tensor, nn

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.pipeline.config import BenchmarkConfig, cw_name
from captum_contrastive.pipeline.methods import build_methods
from captum_contrastive.pipeline.stages import (
    attack_images,
    load_images,
    maps_for,
    select_correct,
)
from captum_contrastive.presets.base import Preset
from captum_contrastive.studies.adversarial import (
    adversarial_discriminativity,
    equal_norm_noise,
)
from captum_contrastive.studies.class_discriminativity import class_discriminativity
from captum_contrastive.studies.localization import localization
from captum_contrastive.studies.recovery import perturbation_recovery

__all__ = ["BenchmarkRun", "load_preset", "run_benchmark"]


def load_preset(config: BenchmarkConfig, multi_object: bool = False) -> Preset:
    """The preset named by ``config.preset`` on ``config.device``."""
    if config.preset == "shapes":
        from captum_contrastive.presets.shapes_model import shapes_preset

        return shapes_preset(
            split="test", multi_object=multi_object, device=config.device
        )
    if config.preset == "imagenet-vgg16":
        from captum_contrastive.presets.imagenet import imagenet_preset

        return imagenet_preset(
            "vgg16",
            weights_path=config.weights_path,
            data=config.data,
            device=config.device,
            labels_file=config.labels_file,
        )
    raise ValueError(
        f"unknown preset {config.preset!r}; choose 'shapes' or 'imagenet-vgg16'"
    )


@dataclass
class BenchmarkRun:
    """Everything a run produced, before it is written out."""

    config: BenchmarkConfig
    results: dict[str, Any] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    batches: dict[str, AdversarialBatch] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)

    @contextmanager
    def timed(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + (
                time.perf_counter() - start
            )


def versions() -> dict[str, str]:
    import captum_contrastive

    return {
        "captum_contrastive": captum_contrastive.__version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "foolbox": foolbox.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "torch_threads": str(torch.get_num_threads()),
    }


def _second_best(model: nn.Module, images: Tensor, device: torch.device) -> Tensor:
    with torch.no_grad():
        return model(images.to(device)).topk(2, dim=1).indices[:, 1].cpu()


def _predictions(model: nn.Module, images: Tensor, device: torch.device) -> Tensor:
    with torch.no_grad():
        return model(images.to(device)).argmax(dim=1).cpu()


def _strip_records(result: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    summary = {k: v for k, v in result.items() if k != "records"}
    return summary, result.get("records")


def run_benchmark(
    config: BenchmarkConfig,
    preset: Preset | None = None,
    multi_object_preset: Preset | None = None,
) -> BenchmarkRun:
    r"""Attack, explain and evaluate, as configured; every stage is cached on disk.

    Stages work on shards of dataset indices and draw random numbers from
    ``(seed, image index)`` streams, so an interrupted run resumes from
    ``config.out / "cache"`` and a sharded run gives the same numbers.

    Args:
        config (BenchmarkConfig): the run.
        preset (Preset, optional): your own model and data; default: the preset
            named by ``config.preset``.
        multi_object_preset (Preset, optional): images with several labelled
            objects (``LabeledImage.labels``) for the class-discriminativity study;
            default: the named preset's multi-object variant (shapes only).

    Returns:
        :class:`BenchmarkRun` with summaries, per-image records, timings and the
        data the figures need. Write it out with
        :func:`captum_contrastive.pipeline.report.write_outputs`.

    Examples::

        >>> run = run_benchmark(BenchmarkConfig(n_images=16, out=Path("results/x")))
        >>> write_outputs(run)
    """
    run = BenchmarkRun(config)
    device = torch.device(config.device)
    cache = config.out / "cache"
    torch.manual_seed(config.seed)
    with run.timed("load preset"):
        preset = preset or load_preset(config)
        model = preset.pixel_model().to(device)
    run.class_names = list(preset.class_names)
    needs_attacks = any(s in config.studies for s in ("recovery", "adversarial"))
    needs_attacks = needs_attacks or "localization" in config.studies
    registry = build_methods(config.ig_steps, config.smoothgrad_samples)
    specs = [registry[name] for name in config.methods]

    with run.timed("select images"):
        indices = select_correct(
            preset, model, config.n_images, cache, device, progress=config.progress
        )
    images, labels, masks = load_images(preset.dataset, indices)
    attack_runs = config.attack_runs() if needs_attacks else {}
    for name, attack in attack_runs.items():
        with run.timed(f"attack {name}"):
            run.batches[name] = attack_images(
                name,
                attack,
                preset,
                indices,
                cache,
                device,
                config.shard_size,
                config.progress,
            )
    run.results["attacks"] = {
        name: {
            "params": batch.params,
            "n": len(batch),
            "success_rate": batch.success_rate,
            "median_l2_success": float(batch.l2[batch.success].median())
            if batch.success.any()
            else None,
            "median_linf_success": float(batch.linf[batch.success].median())
            if batch.success.any()
            else None,
        }
        for name, batch in run.batches.items()
    }

    def maps(spec, tensor: Tensor, targets: Tensor, rows_indices, key: dict) -> Tensor:
        with run.timed(f"maps {spec.name}"):
            return maps_for(
                spec,
                model,
                tensor,
                targets,
                rows_indices,
                cache,
                {"preset": preset.name, **key},
                config.seed,
                device,
                config.shard_size,
            )

    clean_maps = {}
    if needs_attacks:
        for spec in _progress(specs, "maps clean", config.progress):
            clean_maps[spec.name] = maps(
                spec, images, labels, indices, {"images": "clean"}
            )
    main_runs = [r for r in config.main_runs() if r in run.batches]
    adversarial_maps: dict[str, dict[str, Tensor]] = {}
    for name in dict.fromkeys(main_runs + config.recovery_runs()):
        batch = run.batches[name]
        adversarial_maps[name] = {
            spec.name: maps(
                spec,
                batch.adversarial,
                batch.adversarial_predictions,
                indices,
                {"images": f"adversarial {name}"},
            )
            for spec in _progress(specs, f"maps {name}", config.progress)
        }

    if "recovery" in config.studies:
        run.results["recovery"], run.records["recovery"] = {}, {}
        for name in config.recovery_runs():
            batch = run.batches[name]
            success = batch.success
            if int(success.sum()) < 2:
                run.results.setdefault("skipped", {})[f"recovery {name}"] = (
                    f"{int(success.sum())} successful attacks; at least 2 are needed"
                )
                continue
            with run.timed("study recovery"):
                result = perturbation_recovery(
                    model,
                    batch,
                    {m: v[success] for m, v in adversarial_maps[name].items()},
                    config.fractions,
                    config.fill,
                    mean=preset.mean,
                    signed={s.name for s in specs if s.signed},
                    seed=config.seed,
                    n_resamples=config.n_resamples,
                )
            summary, records = _strip_records(result)
            run.results["recovery"][name] = summary
            run.records["recovery"][name] = records

    if "adversarial" in config.studies:
        run.results["adversarial"], run.records["adversarial"] = {}, {}
        runner_up = _second_best(model, images, device)
        for name in main_runs:
            batch = run.batches[name]
            noisy = equal_norm_noise(batch, config.seed)
            noisy_predictions = _predictions(model, noisy, device)
            conditions = {}
            with_controls = name in config.control_runs
            for spec in _progress(specs, f"controls {name}", config.progress):
                conditions[spec.name] = {
                    "clean": clean_maps[spec.name],
                    "adversarial": adversarial_maps[name][spec.name],
                }
                if not with_controls:
                    continue
                conditions[spec.name] |= {
                    "clean_for_adversarial_class": maps(
                        spec,
                        images,
                        batch.adversarial_predictions,
                        indices,
                        {"images": "clean", "classes": f"adversarial {name}"},
                    ),
                    "noise": maps(
                        spec,
                        noisy,
                        noisy_predictions,
                        indices,
                        {"images": f"equal-norm noise {name}"},
                    ),
                }
            with run.timed("study adversarial"):
                result = adversarial_discriminativity(
                    batch,
                    conditions,
                    clean_runner_up=runner_up,
                    seed=config.seed,
                    n_resamples=config.n_resamples,
                )
            result["noise_prediction_unchanged"] = float(
                (noisy_predictions == labels).float().mean()
            )
            summary, records = _strip_records(result)
            run.results["adversarial"][name] = summary
            run.records["adversarial"][name] = records

    if "localization" in config.studies and masks is not None and main_runs:
        main = main_runs[0]
        success = run.batches[main].success
        with run.timed("study localization"):
            clean_part = localization(
                masks,
                {m: {"clean": v} for m, v in clean_maps.items()},
                seed=config.seed,
                n_resamples=config.n_resamples,
            )
            adversarial_part = localization(
                masks[success],
                {
                    m: {f"adversarial {main}": v[success]}
                    for m, v in adversarial_maps[main].items()
                },
                seed=config.seed,
                n_resamples=config.n_resamples,
            )
        for method, values in adversarial_part["methods"].items():
            clean_part["methods"][method].update(values)
        clean_part["n_adversarial"] = adversarial_part["n"]
        clean_part["mask_area_adversarial"] = adversarial_part["mask_area"]
        run.results["localization"] = clean_part

    if "class" in config.studies and (
        multi_object_preset is not None or config.preset == "shapes"
    ):
        with run.timed("study class discriminativity"):
            multi = multi_object_preset or load_preset(config, multi_object=True)
            multi_indices = list(range(config.n_multi_images))
            items = [multi.dataset[i] for i in multi_indices]
            result = class_discriminativity(
                multi.pixel_model().to(device),
                torch.stack([item.image for item in items]).to(device),
                [item.labels for item in items],
                multi_indices,
                seed=config.seed,
                n_resamples=config.n_resamples,
            )
        summary, records = _strip_records(result)
        run.results["class_discriminativity"] = summary
        run.records["class_discriminativity"] = records

    grid_rows = list(range(min(config.grid_images, len(indices))))
    run.grid = {
        "images": images[grid_rows],
        "labels": labels[grid_rows],
        "clean_maps": {m: v[grid_rows] for m, v in clean_maps.items()},
        "attacks": {
            name: {
                "images": run.batches[name].adversarial[grid_rows],
                "predictions": run.batches[name].adversarial_predictions[grid_rows],
                "success": run.batches[name].success[grid_rows],
                "maps": {m: v[grid_rows] for m, v in adversarial_maps[name].items()},
            }
            for name in main_runs
        },
    }
    run.results["run"] = {
        "config": config.to_dict(),
        "versions": versions(),
        "preset": {"name": preset.name, "description": preset.description},
        "indices": indices,
        "methods": {
            s.name: {"label": s.label, "signed": s.signed, **s.settings} for s in specs
        },
        "main_runs": main_runs,
        "recovery_runs": config.recovery_runs(),
        "cw_runs": {k: cw_name(k) for k in config.sweep_kappas},
    }
    return run


def _progress(items: list, description: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, disable=not enabled, leave=False)
