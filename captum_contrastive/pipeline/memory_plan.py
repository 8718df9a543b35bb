"""A memory budget for a run: how many image rows one pass may hold, and the
peak memory the run reached.

A forward and backward pass keeps every layer's output of every row until the
backward pass is done, so its memory grows with the rows it holds: Integrated
Gradients holds ``steps x images`` rows, SmoothGrad ``samples``, an attack its
batch. :func:`plan_memory` measures one row's activations on the run's model
(forward hooks on every leaf module, one zero image) and divides the part of
``max_memory`` left after a fixed reserve (the runtime and the model's weights)
by it. The plan depends on the model and the budget only, never on what the
process happens to hold, so every process of a split run makes the same one
(a split pass is part of the methods' keys). Every stage then
splits its passes to fit (:class:`~captum_contrastive.methods.MethodSettings`'s
``rows_per_pass``, the attacks' ``batch_size``, the number of attack threads),
so the peak does not grow with the number of images.

Nor does what a process holds besides its passes: the images stay in the cache
(the selected images, the attacked images, the maps) and are read a shard at a
time, so a process holds a bounded number of images
(:func:`held_images_bound`), and otherwise only a few values per image (labels,
predictions, attack outcomes: :func:`held_bytes_bound`).

A forward-only pass (:func:`torch.no_grad`: predictions, the recovery and ROAD
curves, the sanity checks' runner-up classes) keeps no layer output for a
backward pass, so one of its rows costs at most its layer outputs, a
:data:`BACKWARD_FACTOR`-th of a backward row: such a pass may hold
:attr:`MemoryPlan.forward_rows` rows (:func:`forward_rows`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from captum_contrastive.freed_memory import peak_rss_bytes, resident_bytes

__all__ = [
    "BACKWARD_FACTOR",
    "HeldDataWarning",
    "FORWARD_ROWS_PER_ROW",
    "HELD_BYTES_PER_IMAGE",
    "HELD_BYTES_PER_IMAGE_AND_RUN",
    "RUNTIME_RESERVE_GIB",
    "MemoryPlan",
    "activation_bytes_per_row",
    "check_held_bytes",
    "forward_batch",
    "forward_rows",
    "held_bytes_bound",
    "held_images_bound",
    "parse_memory",
    "peak_memory",
    "plan_memory",
    "warn_if_bound_exceeds",
]

#: Bytes a row holds during a forward and backward pass, per byte of its layer
#: outputs: the saved outputs, their gradients and the temporaries of the
#: backward pass (measured on resnet50 and vgg16, see the docs).
BACKWARD_FACTOR = 3.0
#: Rows a forward-only pass may hold per row of a forward and backward pass
#: (:data:`BACKWARD_FACTOR`, rounded down): without a backward pass a row
#: holds at most its layer outputs, and a no-grad pass frees each output once
#: the next layer has used it. A whole multiple of ``rows_per_pass``, so the
#: forward bound follows from ``rows_per_pass`` alone (which is part of every
#: method's key when passes are split, and so of every study's key).
FORWARD_ROWS_PER_ROW = int(BACKWARD_FACTOR)
#: Memory a process holds before any pass, besides the model's weights: the
#: Python runtime with torch, Captum and Foolbox loaded (measured 0.78 GiB on
#: CPU, rounded up).
RUNTIME_RESERVE_GIB = 1.0
#: The share of the free budget the passes may plan for (the rest absorbs the
#: allocator's fragmentation and the small tensors of a stage).
USABLE_SHARE = 0.7
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_memory(text: str | float | int) -> float:
    """``"4G"``, ``"4GiB"``, ``"3500M"`` or a number of GiB, in GiB.

    Examples::

        >>> parse_memory("512M")
        0.5
    """
    if isinstance(text, bool):
        raise ValueError(f"not a memory size: {text!r}")
    if isinstance(text, int | float):
        return float(text)
    value = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1] if value and value[-1] in "KMGT" else ""
    try:
        number = float(value[: len(value) - len(unit)])
    except ValueError:
        raise ValueError(f"not a memory size: {text!r} (e.g. 4G, 3500M)") from None
    if not unit:
        return number
    return number * _UNITS[unit] / 2**30


def activation_bytes_per_row(model: nn.Module, image_shape: tuple[int, ...]) -> int:
    """The bytes of every leaf module's output for one image.

    Args:
        model (nn.Module): the pixel-space model, in eval mode.
        image_shape (tuple): ``(C, H, W)`` of one image.

    Returns:
        the sum of the output sizes of the modules without children.
    """
    total = 0

    def count(_module: nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal total
        for tensor in output if isinstance(output, tuple | list) else (output,):
            if isinstance(tensor, Tensor):
                total += tensor.numel() * tensor.element_size()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            model(torch.zeros(1, *image_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return max(total, 1)


@dataclass(frozen=True)
class MemoryPlan:
    """How a run fits in its budget.

    Attributes:
        max_memory_gib: the budget.
        resident_gib: the process's memory when the plan was made (model and
            data loaded), for the record; the plan does not use it.
        reserved_gib: what the plan keeps aside: :data:`RUNTIME_RESERVE_GIB`
            and twice the model's parameters and buffers.
        row_bytes: one row's forward and backward memory (layer outputs times
            :data:`BACKWARD_FACTOR`).
        rows_per_pass: the rows one pass may hold (at least 1).
    """

    max_memory_gib: float
    resident_gib: float
    row_bytes: int
    rows_per_pass: int
    reserved_gib: float = RUNTIME_RESERVE_GIB

    def fits(self, rows: int) -> bool:
        return rows <= self.rows_per_pass

    @property
    def forward_rows(self) -> int:
        """The rows one forward-only (no-grad) pass may hold
        (:func:`forward_rows` of :attr:`rows_per_pass`)."""
        return forward_rows(self.rows_per_pass)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def forward_rows(rows_per_pass: int) -> int:
    """The rows a forward-only pass may hold when a forward and backward pass
    may hold ``rows_per_pass``: :data:`FORWARD_ROWS_PER_ROW` times as many.

    Examples::

        >>> forward_rows(5)
        15
    """
    return FORWARD_ROWS_PER_ROW * max(1, int(rows_per_pass))


def forward_batch(settings: Iterable[dict[str, Any]], batch_size: int) -> int:
    """The rows per forward-only pass of a stage that would pass ``batch_size``:
    at most :func:`forward_rows` of the ``rows_per_pass`` the run's methods were
    split to (their :attr:`~captum_contrastive.methods.MethodSpec.settings`);
    ``batch_size`` itself when the methods were not split (the plan then fits
    every pass of a shard, and the results and keys stay as they were).

    The bound comes from the methods' settings, which are part of every study's
    key, so a study whose forward passes are split has a key of its own.
    Chunks start at row 0 and have a fixed size, so which rows share a pass
    never depends on how many images follow.

    Examples::

        >>> forward_batch([{"rows_per_pass": 5}], 32)
        15
        >>> forward_batch([{}], 32)
        32
    """
    rows = [s["rows_per_pass"] for s in settings if s.get("rows_per_pass")]
    if not rows:
        return batch_size
    return max(1, min(batch_size, forward_rows(min(rows))))


def plan_memory(
    model: nn.Module, image_shape: tuple[int, ...], max_memory_gib: float
) -> MemoryPlan:
    """The rows one pass of ``model`` may hold within ``max_memory_gib``.

    Examples::

        >>> plan = plan_memory(context.model, (3, 224, 224), 4.0)
        >>> plan.rows_per_pass
    """
    row = int(activation_bytes_per_row(model, image_shape) * BACKWARD_FACTOR)
    weights = sum(
        t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers())
    )
    reserved = RUNTIME_RESERVE_GIB * 2**30 + 2 * weights
    free = max_memory_gib * 2**30 - reserved
    rows = max(1, math.floor(free * USABLE_SHARE / row)) if free > 0 else 1
    resident = resident_bytes() / 2**30
    return MemoryPlan(max_memory_gib, resident, row, rows, reserved / 2**30)


def peak_memory(device: torch.device | str = "cpu") -> dict[str, float | None]:
    """The process's peak resident memory and, on CUDA, the peak allocated, in
    GiB."""
    cuda = None
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        cuda = torch.cuda.max_memory_allocated(torch.device(device)) / 2**30
    return {"peak_rss_gib": peak_rss_bytes() / 2**30, "cuda_peak_gib": cuda}


class HeldDataWarning(UserWarning):
    """The images a process holds at once, with its passes, would exceed
    ``max_memory``; or a run holds more than its bound."""


#: Bytes a run holds per image besides the images: its label and runner-up
#: class (8 bytes each), and per attack run its labels, predictions, dataset
#: index, noise control's prediction and target (8 bytes each), success (1)
#: and norms (4 each), rounded up.
HELD_BYTES_PER_IMAGE = 16
HELD_BYTES_PER_IMAGE_AND_RUN = 64
#: Held bytes that do not grow with the images (small tensors of the stages).
HELD_BYTES_SLACK = 2**20


def held_images_bound(
    image_bytes: int, shard_size: int, attack_workers: int = 1
) -> int:
    """The most bytes of images a process holds at once, however many images
    the run has (the images stay in the cache and are read a shard at a
    time): ``image_bytes`` times the rows of

    - the shards it keeps for reuse
      (:data:`~captum_contrastive.pipeline.stored_maps.KEPT_SHARDS`, of up to
      two images per row: an attack shard's clean and adversarial images);
    - per attack thread, a shard being attacked: its images, and the clean and
      adversarial images of the result (three per row);
    - a shard being read or explained, and a chunk of rows of up to three
      images per row (a study's adversarial, clean and noise images).

    A shard is ``shard_size`` rows, a chunk
    :data:`~captum_contrastive.row_chunks.CHUNK_ROWS` (the larger counts).

    Examples::

        >>> held_images_bound(3 * 224 * 224 * 4, 32, 1) / 2**20
        275.625
    """
    from captum_contrastive.pipeline.stored_maps import KEPT_SHARDS
    from captum_contrastive.row_chunks import CHUNK_ROWS

    rows = max(int(shard_size), CHUNK_ROWS)
    shards = 2 * KEPT_SHARDS + 3 * max(1, int(attack_workers)) + 1 + 3
    return int(image_bytes) * rows * shards


def held_bytes_bound(n_images: int, attack_runs: int) -> int:
    """The most bytes a run holds after its attacks and maps (besides its
    passes and the bounded images being worked on): a few values per image
    (:data:`HELD_BYTES_PER_IMAGE`, :data:`HELD_BYTES_PER_IMAGE_AND_RUN`), no
    image.

    Examples::

        >>> held_bytes_bound(50_000, 6) / 2**20
        20.073486328125
    """
    per_image = HELD_BYTES_PER_IMAGE + HELD_BYTES_PER_IMAGE_AND_RUN * attack_runs
    return n_images * per_image + HELD_BYTES_SLACK


def check_held_bytes(held_bytes: int, n_images: int, attack_runs: int) -> None:
    """Warn (:class:`HeldDataWarning`) when a run holds more than
    :func:`held_bytes_bound`: some stage kept images in memory, and the run's
    memory would grow with them."""
    bound = held_bytes_bound(n_images, attack_runs)
    if held_bytes <= bound:
        return
    warnings.warn(
        f"the run holds {held_bytes / 2**20:.1f} MiB of tensors, more than its "
        f"bound of {bound / 2**20:.1f} MiB for {n_images} images and "
        f"{attack_runs} attack runs: images are held in memory, so the memory "
        "grows with the number of images. Please report it.",
        HeldDataWarning,
        stacklevel=2,
    )


def warn_if_bound_exceeds(
    plan: MemoryPlan, pass_rows: int, bound_bytes: int, shard_size: int
) -> float:
    """Warn (:class:`HeldDataWarning`) when the plan's reserve, a pass of
    ``pass_rows`` rows and the ``bound_bytes`` of images a process holds at
    once (:func:`held_images_bound`) exceed the budget; returns that projected
    peak in GiB.

    Neither the passes nor the held images grow with the number of images,
    so fewer images never help: a larger budget or a smaller ``shard_size``
    does.
    """
    passes = pass_rows * plan.row_bytes
    projected = (plan.reserved_gib * 2**30 + passes + bound_bytes) / 2**30
    if projected <= plan.max_memory_gib:
        return projected
    raise_to = f"Raise --max-memory to {math.ceil(projected * 10) / 10:g}G"
    warnings.warn(
        f"a process holds up to {bound_bytes / 2**30:.2f} GiB of images at once "
        f"(a few shards of {shard_size} images, however many images the run "
        f"has); with the runtime's {plan.reserved_gib:.2f} GiB and a pass of "
        f"{passes / 2**30:.2f} GiB it may reach {projected:.2f} GiB, over "
        f"`max_memory` = {plan.max_memory_gib:g} GiB, and fewer images cannot "
        f"meet it. {raise_to}, or lower `shard_size` in a --config file (part "
        "of the attacks' and maps' keys).",
        HeldDataWarning,
        stacklevel=2,
    )
    return projected
