"""The image explorer's data: one card per selected image and attack run.

A card holds the clean image, the adversarial image and the amplified
perturbation; the true, adversarial and runner-up classes; the attack's κ (or ε)
and whether it succeeded; every method's map on the clean image (true class)
and on the adversarial image (adversarial class), with the contrast class of the
contrastive methods; and the image's per-method Spearman ρ between the two maps
(the adversarial study's per-image record).

The pictures are read a shard of the selection at a time (the rows of one
shard of ``shard_size`` images, as the maps are stored in the stage cache:
:class:`~captum_contrastive.pipeline.stored_maps.StoredMaps`), encoded, and
dropped, so a large run never holds all its maps. A run larger than the
explorer's :class:`ExplorerBound` gets a seeded sample of images (every attack
run of each sampled image), and the page says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from captum_contrastive.pipeline.run_data import MapRequest
from captum_contrastive.report_html.encoding import (
    MAX_SIDE,
    image_uri,
    map_uri,
    perturbation_uri,
)
from captum_contrastive.row_chunks import loaded

__all__ = ["ExplorerBound", "explorer_data", "runner_up", "sampled_rows"]


@dataclass(frozen=True)
class ExplorerBound:
    """How much the explorer holds.

    Attributes:
        pixels: the pictures of all cards together (clean images and maps once
            per image, adversarial images, perturbations and maps once per
            card), counted at their size on the page. The default, 16 million,
            holds every card of the default shapes run (80 images x 4 attack
            runs with 12 methods at 32 x 32: 69 pictures an image, 5.7 million
            pixels) and 25 images (100 cards) of an ImageNet run with the same
            methods and runs (pictures shrunk to 96 x 96).
        max_side: the longest side of a picture on the page.
        min_images: images shown however large they are.
    """

    pixels: int = 16_000_000
    max_side: int = MAX_SIDE
    min_images: int = 8

    def images_that_fit(
        self, image_shape: Sequence[int], n_methods: int, n_runs: int
    ) -> int:
        """How many images (each with a card per attack run) fit the bound."""
        height, width = image_shape[-2:]
        scale = min(1.0, self.max_side / max(height, width))
        picture = max(1, int(height * scale)) * max(1, int(width * scale))
        per_image = picture * ((1 + n_methods) + n_runs * (2 + n_methods))
        return max(self.min_images, self.pixels // per_image)


def sampled_rows(n_images: int, fitting: int, seed: int) -> list[int]:
    """All rows when ``fitting >= n_images``; else a seeded sample of
    ``fitting`` rows (``torch.randperm`` from ``seed``), in selection order."""
    if fitting >= n_images:
        return list(range(n_images))
    generator = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(n_images, generator=generator)[:fitting].tolist())


def _shard_groups(rows: list[int], shard_size: int) -> Iterator[list[int]]:
    """``rows`` grouped by the shard of the selection they are stored in."""
    group: list[int] = []
    for row in rows:
        if group and group[0] // shard_size != row // shard_size:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def runner_up(
    model: nn.Module, device: torch.device, images: Tensor, explained: Tensor
):
    """The highest-scoring class other than ``explained`` on each image: the
    contrast class of the contrastive methods (their default)."""
    with torch.no_grad():
        logits = model(images.to(device)).float().cpu()
    logits[torch.arange(len(logits)), explained.long().cpu()] = -math.inf
    return logits.argmax(dim=1)


def _class_name(names: Sequence[str], index: int) -> str:
    return names[index] if 0 <= index < len(names) else str(index)


def _attack_setting(params: dict[str, Any]) -> dict[str, Any]:
    """The attack's strength: C&W's κ, or the radius ε of the others."""
    if "confidence" in params:
        return {
            "kappa": params["confidence"],
            "setting": f"κ = {params['confidence']:g}",
        }
    epsilon = params.get("epsilon")
    text = "" if epsilon is None else f"ε = {epsilon:.4g}"
    return {"kappa": None, "setting": text}


def _rho(records: Any, run: str, method: str, row: int) -> float | None:
    try:
        value = records[run][method]["main"]["spearman"][row]
    except (KeyError, IndexError, TypeError):
        return None
    return None if value is None or math.isnan(value) else float(value)


def _explored(run: Any) -> tuple[list[str], list[str]]:
    """The methods with clean maps, and the main attack runs with adversarial
    maps of one of them."""
    data = run.data
    methods = [m for m in run.config.methods if MapRequest(m, "clean") in data.maps]
    runs = [
        name
        for name in run.config.main_runs()
        if name in data.attacks
        and any(MapRequest(m, "adversarial", name) in data.maps for m in methods)
    ]
    return methods, runs


def explorer_data(run: Any, bound: ExplorerBound | None = None) -> dict[str, Any]:
    """The explorer's cards of a finished run, JSON-ready.

    Args:
        run (BenchmarkRun): the run (its maps left in the stage cache).
        bound (ExplorerBound, optional): what the explorer may hold; default
            :class:`ExplorerBound`.

    Returns:
        dict with ``methods`` (key, label, contrastive), ``runs`` (name and
        strength), ``images`` (per shown image: dataset index, classes, the
        clean image and each method's clean map), ``cards`` (per image and
        run: classes, success, norms, the adversarial image, the perturbation,
        each method's adversarial map and ρ) and ``sample`` (shown, of, seed,
        and whether it is a sample).

    Examples::

        >>> data = explorer_data(run)
        >>> len(data["cards"]) == len(data["images"]) * len(data["runs"])
        True
    """
    bound = bound or ExplorerBound()
    data, config = run.data, run.config
    methods, runs = _explored(run)
    n_images = len(data.selection.indices)
    shape = tuple(data.images.shape[1:]) if n_images else (1, 1, 1)
    fitting = bound.images_that_fit(shape, len(methods), len(runs))
    rows = sampled_rows(n_images, fitting, config.seed) if runs else []
    adversarial = run.results.get("adversarial")
    records = adversarial.records if adversarial is not None else None
    images: list[dict[str, Any]] = []
    cards: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for group in _shard_groups(rows, config.shard_size):
        positions = torch.tensor(group, dtype=torch.long)
        clean = loaded(data.images[positions])
        first = len(images)
        images += _images_of_group(run, group, positions, clean, methods, bound)
        for name in runs:
            cards[name] += _cards_of_group(
                run, name, group, positions, clean, first, methods, records, bound
            )
    return {
        "methods": [
            {
                "key": m,
                "label": data.specs[m].label,
                "contrastive": bool(data.specs[m].contrastive),
            }
            for m in methods
        ],
        "runs": [
            {"name": name, **_attack_setting(data.attacks[name].batch.params)}
            for name in runs
        ],
        "images": images,
        "cards": [card for name in runs for card in cards[name]],
        "sample": {
            "shown": len(rows),
            "of": n_images,
            "sampled": len(rows) < n_images,
            "seed": config.seed,
            "bound_pixels": bound.pixels,
            "max_side": bound.max_side,
        },
    }


def _images_of_group(
    run: Any,
    group: list[int],
    positions: Tensor,
    clean: Tensor,
    methods: list[str],
    bound: ExplorerBound,
) -> list[dict[str, Any]]:
    """The clean side of the rows of one shard: the image, its true class and
    runner-up, and each method's map of it for the true class."""
    data = run.data
    labels = loaded(data.labels[positions])
    contrast = runner_up(data.context.model, data.context.device, clean, labels)
    maps = {m: loaded(data.maps[MapRequest(m, "clean")][positions]) for m in methods}
    return [
        {
            "row": row,
            "index": int(data.selection.indices[row]),
            "true": _class_name(run.class_names, int(labels[k])),
            "runnerUp": _class_name(run.class_names, int(contrast[k])),
            "clean": image_uri(clean[k], bound.max_side),
            "maps": {m: map_uri(maps[m][k], bound.max_side) for m in methods},
        }
        for k, row in enumerate(group)
    ]


def _cards_of_group(
    run: Any,
    name: str,
    group: list[int],
    positions: Tensor,
    clean: Tensor,
    first: int,
    methods: list[str],
    records: Any,
    bound: ExplorerBound,
) -> list[dict[str, Any]]:
    """The cards of one attack run for the rows of one shard."""
    data = run.data
    batch = data.attacks[name].batch
    adversarial = loaded(batch.adversarial[positions])
    predicted = batch.adversarial_predictions[positions].cpu()
    contrast = runner_up(
        data.context.model, data.context.device, adversarial, predicted
    )
    maps = {}
    for m in methods:
        request = MapRequest(m, "adversarial", name)
        if request in data.maps:
            maps[m] = loaded(data.maps[request][positions])
    success = batch.success[positions].cpu()
    l2, linf = batch.l2[positions].cpu(), batch.linf[positions].cpu()
    cards = []
    for k, row in enumerate(group):
        index = int(data.selection.indices[row])
        perturbation, gain = perturbation_uri(adversarial[k], clean[k], bound.max_side)
        cards.append(
            {
                "id": f"{name}-{index}",
                "run": name,
                "image": first + k,
                "adversarialClass": _class_name(run.class_names, int(predicted[k])),
                "adversarialRunnerUp": _class_name(run.class_names, int(contrast[k])),
                "success": bool(success[k]),
                "l2": float(l2[k]),
                "linf": float(linf[k]),
                "adversarial": image_uri(adversarial[k], bound.max_side),
                "perturbation": perturbation,
                "gain": gain,
                "maps": {m: map_uri(v[k], bound.max_side) for m, v in maps.items()},
                "rho": {m: _rho(records, name, m, row) for m in methods},
            }
        )
    return cards
