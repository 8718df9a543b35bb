r"""Sanity checks: is the explanation about the model? (Adebayo et al., 2018)

A map that explains a model must change when the model's learned weights are
destroyed. Four tests compare, per image, the maps of the trained model with
maps computed after a change, with the same images, classes and noise streams:

- **cascading** (:func:`cascading_randomization`): the top ``K`` parameterized
  layers, counted from the logits, are re-initialised together, for
  ``K = 1, 2, ...`` (``@1``: the logit layer only; ``@all``: every layer);
- **independent** (:func:`independent_randomization`): one layer at a time, the
  others kept trained (``@<layer name>``);
- **random logit** (:func:`random_logit`): the trained model, the explained class
  replaced by a random other class drawn per image from its stream
  ``(seed, index, "sanity:random_logit")``.
- **data randomisation** (:func:`data_randomization`): the model trained on
  the true labels against the same architecture trained on permuted labels
  (measures ``data_randomization_<measure>``, no step).

Similarity measures of the original map ``a`` and the changed map ``b`` of an
image (names as in ``summary.csv``):

- ``spearman``: Spearman rank correlation of the signed channel-summed maps;
- ``spearman_abs``: Spearman of the channel sums of ``|map|``. Randomisation can
  flip signs while keeping the structure, which lowers ``spearman`` only; the
  ``|map|`` form is what Adebayo et al. call "rank correlation (ABS)";
- ``ssim``: :func:`~captum_contrastive.metrics.structural_similarity` of the
  channel sums of ``|map|``, each normalised to ``[0, 1]``;
- ``iou``: IoU of the top-10% pixels of the channel sums of ``|map|``
  (:func:`~captum_contrastive.metrics.top_iou`, seeded tie-break).

Constant maps (e.g. all-zero gradients of a dead randomised network) give NaN
Spearman values; they are kept in the records and counted in each interval's
``n_nan``.

Contrastive methods explain the class against a contrast class. By default the
contrast is the runner-up of the model the map is computed on (so, after
randomisation, the randomised model's runner-up); a second entry,
``"<name> (fixed contrast)"``, keeps the original model's runner-up, so a change
of the runner-up does not count as sensitivity to the weights. The share of
images whose runner-up changed is reported per step.

Layers are re-initialised from seeded streams that depend on the run's seed, the
layer's position from the logits and its name, never on the images, so shards of
a run see the same randomised model and the per-image records do not depend on
the batch split.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from captum_contrastive.attr._targets import runner_up
from captum_contrastive.methods import MethodSpec, compute_maps
from captum_contrastive.metrics import bootstrap_ci, spatial_map, top_fraction_mask
from captum_contrastive.metrics.intervals import Interval
from captum_contrastive.metrics.similarity import (
    centred_ranks,
    mask_iou,
    rank_correlation,
)
from captum_contrastive.metrics.ssim import ssim_of_sides, ssim_side
from captum_contrastive.random_streams import image_generator, stream_seed
from captum_contrastive.studies.verdicts import format_ci

__all__ = [
    "ALL",
    "FIXED_CONTRAST_SUFFIX",
    "KNOWN_FAILING_CONTROL",
    "MEAN",
    "MEASURES",
    "RANDOM_PURPOSE",
    "SANITY_THRESHOLD",
    "SanityResult",
    "SanityRule",
    "SanityVerdict",
    "SanityWork",
    "SimilarityReference",
    "cascading_randomization",
    "cascading_steps",
    "data_randomization",
    "independent_randomization",
    "map_similarity",
    "parameterized_layers",
    "randomize_layers",
    "random_logit",
    "random_other_classes",
    "sanity_verdict",
    "trained_model_maps",
]

#: The similarity measures, in the order of the records and summary rows.
MEASURES = ("spearman", "spearman_abs", "ssim", "iou")
#: The cascading step that randomises every parameterized layer.
ALL = "all"
#: The cascading "step" that averages, per image, over every reported step.
MEAN = "mean"
#: Appended to a contrastive method's name for its fixed-contrast entry.
FIXED_CONTRAST_SUFFIX = " (fixed contrast)"
#: The method Adebayo et al. (2018) found insensitive to the weights.
KNOWN_FAILING_CONTROL = "guided_backprop"
#: Default threshold of :class:`SanityRule` (see there for the justification).
SANITY_THRESHOLD = 0.5
#: The stream purpose of the random-logit test's other class.
RANDOM_PURPOSE = "sanity:random_logit"


def parameterized_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    r"""The randomisable layers of ``model``, from the logits down, with names.

    A layer is a module that owns parameters itself (``parameters(recurse=False)``
    is not empty), e.g. ``Conv2d``, ``Linear``, ``BatchNorm2d``; containers are
    skipped. The order is the module registration order, reversed.

    Limitation: registration order is taken as the forward order. That holds for
    ``nn.Sequential`` models and torchvision's VGG, ResNet, Inception and
    DenseNet, but not for a model that registers a layer before one that runs
    earlier, reuses a layer twice, or calls layers in a data-dependent order;
    pass explicit layer names to :func:`randomize_layers` for those.

    Args:
        model (nn.Module): the classifier.

    Returns:
        list of ``(name, module)``, ``name`` as in ``model.named_modules()``; the
        first entry is the layer nearest to the logits.

    Examples::

        >>> [name for name, _ in parameterized_layers(model)]
        ['fc', 'conv2', 'conv1']
    """
    layers = [
        (name, module)
        for name, module in model.named_modules()
        if next(module.parameters(recurse=False), None) is not None
    ]
    return layers[::-1]


def _reinitialise(layer: nn.Module, layer_seed: int) -> None:
    """Re-initialise ``layer`` in place on the CPU from ``layer_seed``."""
    device = next(layer.parameters(recurse=False)).device
    layer.to("cpu")
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(layer_seed)
        if callable(getattr(layer, "reset_parameters", None)):
            layer.reset_parameters()
        else:
            for parameter in layer.parameters(recurse=False):
                std = float(parameter.std(unbiased=False)) if parameter.numel() else 0
                parameter.normal_(0.0, std)
    layer.to(device)


def randomize_layers(model: nn.Module, layers: Sequence[str], seed: int) -> nn.Module:
    r"""A deep copy of ``model`` with the named layers re-initialised.

    ``model`` itself is never modified. Layer ``name`` at position ``p`` of
    :func:`parameterized_layers` (0: nearest the logits) is re-initialised on the
    CPU, with the global CPU generator forked and seeded from
    ``stream_seed(seed, p, "sanity:<name>")`` (then moved back to its device), so
    the same layer gets the same weights in every test, step and device:

    - with its ``reset_parameters()`` when it has one (PyTorch's default
      initialisation; for normalisation layers this also resets the running
      statistics);
    - otherwise each of its own parameters is replaced by normal noise
      ``N(0, std^2)``, ``std`` the standard deviation of the original values
      (a constant parameter, of std 0, becomes all zeros).

    Args:
        model (nn.Module): the trained classifier.
        layers (sequence of str): names from :func:`parameterized_layers`.
        seed (int): the run's seed.

    Returns:
        the randomised copy (same mode and device as ``model``).

    Examples::

        >>> random_head = randomize_layers(model, ["fc"], seed=0)
    """
    positions = {name: p for p, (name, _) in enumerate(parameterized_layers(model))}
    unknown = [name for name in layers if name not in positions]
    if unknown:
        raise ValueError(
            f"not parameterized layers of the model: {unknown}; known: "
            f"{list(positions)}"
        )
    randomized = copy.deepcopy(model)
    modules = dict(randomized.named_modules())
    for name in dict.fromkeys(layers):
        _reinitialise(
            modules[name], stream_seed(seed, positions[name], f"sanity:{name}")
        )
    return randomized


def map_similarity(
    a: Tensor, b: Tensor, seed: int, indices: Sequence[int], q: float = 0.10
) -> dict[str, np.ndarray]:
    r"""The sanity-check measures of ``a[i]`` against ``b[i]``, per image.

    Args:
        a (Tensor): original maps ``(N, C, H, W)``.
        b (Tensor): changed maps of the same shape.
        seed (int): the run's seed (IoU tie-breaks).
        indices (sequence of int): the images' dataset indices.
        q (float): the top fraction of the IoU. Default: 0.10

    Returns:
        dict from each name of :data:`MEASURES` to a ``(N,)`` float64 array.

    Examples::

        >>> maps = torch.rand(2, 3, 8, 8)
        >>> map_similarity(maps, maps, 0, [0, 1])["spearman_abs"]
        array([1., 1.])
    """
    return SimilarityReference(a, seed, indices, q).compare(b)


class SimilarityReference:
    r"""The original maps of :func:`map_similarity`, prepared once for many
    comparisons.

    Every test compares a method's trained-model maps with the maps of many
    changed models (each cascading and independent step, both contrasts, the
    random logit). What the measures need of the original side alone is computed
    here once: the centred ranks of the signed and of the ``|map|`` channel sums
    (Spearman), the normalised ``|map|`` sums and their local Gaussian statistics
    (SSIM), and the top-``q`` mask (IoU). :meth:`compare` computes the changed
    side and combines, with the same arithmetic as
    :func:`~captum_contrastive.metrics.spearman`,
    :func:`~captum_contrastive.metrics.structural_similarity` and
    :func:`~captum_contrastive.metrics.top_iou` (the values are equal, bit for
    bit).

    Args:
        maps (Tensor): the original maps ``(N, C, H, W)``.
        seed (int): the run's seed (IoU tie-breaks).
        indices (sequence of int): the images' dataset indices.
        q (float): the top fraction of the IoU. Default: 0.10

    Examples::

        >>> reference = SimilarityReference(trained, seed=0, indices=[0, 1])
        >>> reference.compare(randomized)["ssim"]
    """

    def __init__(
        self, maps: Tensor, seed: int, indices: Sequence[int], q: float = 0.10
    ) -> None:
        self.shape = tuple(maps.shape)
        self.seed, self.indices, self.q = seed, list(indices), q
        self.signed = centred_ranks(spatial_map(maps))
        self.absolute = centred_ranks(spatial_map(maps, "abs_sum"))
        self.ssim = ssim_side(maps, "abs_sum", name="a")
        self.mask = top_fraction_mask(maps, q, seed, self.indices, "abs_sum")

    def compare(self, maps: Tensor) -> dict[str, np.ndarray]:
        """The measures of the original maps against ``maps`` (same shape), by
        the names of :data:`MEASURES`."""
        if tuple(maps.shape) != self.shape:
            raise ValueError(
                f"the maps have shape {tuple(maps.shape)}, the original maps "
                f"{self.shape}"
            )
        mask = top_fraction_mask(maps, self.q, self.seed, self.indices, "abs_sum")
        return {
            "spearman": rank_correlation(self.signed, centred_ranks(spatial_map(maps))),
            "spearman_abs": rank_correlation(
                self.absolute, centred_ranks(spatial_map(maps, "abs_sum"))
            ),
            "ssim": ssim_of_sides(self.ssim, ssim_side(maps, "abs_sum", name="b")),
            "iou": mask_iou(self.mask, mask),
        }


@dataclass
class SanityResult:
    """The per-image records and intervals of one sanity test.

    Attributes:
        test: ``"cascading"``, ``"independent"``, ``"random_logit"`` or
            ``"data_randomization"``.
        indices: dataset indices, in the order of every record.
        layers: the parameterized layers, from the logits down.
        steps: per step label (``"1"``, ..., ``"all"``, or a layer name), the
            layers randomised there; empty for the random-logit and
            data-randomisation tests.
        records: per method, per measure name (e.g. ``cascading_spearman@1``),
            one value per image.
        runner_up_changed: per step, per image, whether the runner-up class
            (highest other than the explained one) differs from the original's
            (data randomisation: one entry, ``"data_randomization"``).
        intervals: :func:`~captum_contrastive.metrics.bootstrap_ci` of every
            record, same keys.
        runner_up_changed_share: per step, the share of images whose runner-up
            changed.
        protocol: the settings in words.
        other_class: random-logit test only: per image, the random other class.
    """

    test: str
    indices: list[int]
    layers: list[str]
    steps: dict[str, list[str]]
    records: dict[str, dict[str, list[float]]]
    runner_up_changed: dict[str, list[bool]]
    intervals: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    runner_up_changed_share: dict[str, float] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    other_class: list[int] = field(default_factory=list)

    def summary_rows(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """``(method, measure, interval)`` for ``summary.csv``: measures are
        ``<test>_<measure>@<step>`` (``random_logit_<measure>`` and
        ``data_randomization_<measure>`` without a step),
        with ``<measure>`` one of :data:`MEASURES`."""
        for method, measures in self.intervals.items():
            for measure, interval in measures.items():
                yield method, measure, interval

    def to_json(self) -> dict[str, Any]:
        """Everything as plain JSON-ready Python (NaN stays ``float('nan')``)."""
        return asdict(self)

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> SanityResult:
        return cls(**values)


def _measure(test: str, measure: str, step: str | None) -> str:
    return f"{test}_{measure}" if step is None else f"{test}_{measure}@{step}"


def _summarise(result: SanityResult, n_resamples: int, seed: int) -> SanityResult:
    result.intervals = {
        method: {
            name: bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
            for name, values in measures.items()
        }
        for method, measures in result.records.items()
    }
    result.runner_up_changed_share = {
        step: float(np.mean(changed)) if changed else math.nan
        for step, changed in result.runner_up_changed.items()
    }
    return result


@torch.no_grad()
def _runner_up(
    model: nn.Module, images: Tensor, targets: Tensor, batch_size: int
) -> Tensor:
    parts = [
        runner_up(model(images[i : i + batch_size]), targets[i : i + batch_size])
        for i in range(0, images.shape[0], batch_size)
    ]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


@dataclass(frozen=True)
class _Inputs:
    """What every test shares: the data, the methods and the settings."""

    images: Tensor
    targets: Tensor
    indices: list[int]
    specs: Mapping[str, MethodSpec]
    seed: int
    batch_size: int
    q: float
    options: Mapping[str, dict[str, Any]]
    trained: Mapping[str, Tensor] = field(default_factory=dict)

    def maps(
        self, name: str, model: nn.Module, targets: Tensor, contrast: Tensor | None
    ) -> Tensor:
        spec = self.specs[name]
        return compute_maps(
            spec,
            model,
            self.images,
            targets,
            self.indices,
            self.seed,
            self.batch_size,
            contrast=contrast if spec.contrastive else None,
            options=self.options.get(name),
        )


def _inputs(
    images: Tensor,
    targets: Tensor | Sequence[int],
    indices: Sequence[int] | Tensor,
    specs: Mapping[str, MethodSpec],
    seed: int,
    batch_size: int,
    q: float,
    options: Mapping[str, dict[str, Any]] | None,
    trained: Mapping[str, Tensor] | None = None,
) -> _Inputs:
    targets = torch.as_tensor([int(t) for t in targets], dtype=torch.long)
    indices = [int(i) for i in indices]
    if len(targets) != images.shape[0] or len(indices) != images.shape[0]:
        raise ValueError("`targets` and `indices` need one entry per image")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be positive, got {batch_size}")
    return _Inputs(
        images,
        targets,
        indices,
        dict(specs),
        int(seed),
        batch_size,
        q,
        options or {},
        dict(trained or {}),
    )


def _protocol(test: str, data: _Inputs, **extra: Any) -> dict[str, Any]:
    return {
        "test": test,
        "measures": "spearman: Spearman rho of the signed channel-summed maps; "
        "spearman_abs: of the channel sums of |map|; ssim: SSIM (window 11, sigma "
        "1.5, maps normalised to [0, 1]) of the channel sums of |map|; iou: IoU of "
        f"the top-{data.q:.0%} pixels of the channel sums of |map|",
        "contrast": "runner-up of the model the map is computed on; "
        f"'<name>{FIXED_CONTRAST_SUFFIX}': the original model's runner-up",
        "seed": data.seed,
        "methods": {name: spec.key() for name, spec in data.specs.items()},
        **extra,
    }


#: The cost table's entry of the randomisation and the runner-up passes.
MODELS_COST = "randomisation and runner-up passes"
#: The cost table's entry of the similarity measures.
SIMILARITY_COST = "similarity measures"
#: The cost table's column of the trained model's maps.
TRAINED = "trained"

#: ``(step, layer set or None, model factory)``: a changed model of a test; a
#: layer set names a randomisation of the trained model (shared between tests).
ChangedModel = tuple[str | None, frozenset[str] | None, Callable[[], nn.Module]]


class SanityWork:
    r"""What the sanity tests of one run share, and what each part cost.

    Pass one instance as ``work`` to :func:`trained_model_maps` and to every
    test of a run (the same images, methods, seed and ``q``; a mismatch raises).
    It holds:

    - per method, the :class:`SimilarityReference` of the trained model's maps,
      prepared once for every comparison of every test;
    - the trained model's runner-up classes;
    - per randomised model, by the set of layers it re-initialises, the per-image
      measures and runner-up changes: a model randomised the same way in two
      tests (the cascade's ``@1`` and the independent test of the layer nearest
      the logits) is evaluated once, and the second test reuses the records (the
      same model, images and classes give the same maps);
    - the maps of the first ``example_images`` images of the layer sets asked
      for with :meth:`keep` (the report's example figure), so nothing is
      recomputed for it;
    - the seconds of each part (:meth:`cost`).

    A fixed-contrast entry whose contrast equals the randomised model's own
    runner-up for every image is the own-contrast maps, and is not recomputed.

    Args:
        example_images (int): images whose maps :meth:`keep` keeps. Default: 0

    Examples::

        >>> work = SanityWork(example_images=1)
        >>> trained = trained_model_maps(model, images, labels, indices, specs,
        ...                              work=work)
        >>> cascading = cascading_randomization(model, images, labels, indices,
        ...                                     specs, trained_maps=trained,
        ...                                     work=work)
        >>> work.cost()["seconds"]["cascading@1"]["saliency"]
    """

    def __init__(self, example_images: int = 0) -> None:
        self.example_images = int(example_images)
        self.references: dict[str, SimilarityReference] = {}
        self.runner: Tensor | None = None
        self.steps: dict[frozenset[str], tuple[str, list[bool], dict]] = {}
        self.kept_layers: list[frozenset[str]] = []
        self.examples: dict[frozenset[str], dict[str, Tensor]] = {}
        self.seconds: dict[str, dict[str, float]] = {}
        self.cpu_seconds: dict[str, dict[str, float]] = {}
        self.load_average: dict[str, float | None] = {}
        self.preemptions: dict[str, int | None] = {}
        self.reused: dict[str, str] = {}
        self._data: tuple | None = None

    def keep(self, layers: Iterable[str]) -> None:
        """Keep the maps of the first ``example_images`` images of the model
        with ``layers`` randomised (an empty set: the trained model)."""
        self.kept_layers.append(frozenset(layers))

    def kept(self, layers: Iterable[str]) -> dict[str, Tensor]:
        """Per method, the kept maps of the model with ``layers`` randomised
        (own contrast); empty if that model was not evaluated."""
        return self.examples.get(frozenset(layers), {})

    def cost(self) -> dict[str, Any]:
        """The seconds spent, JSON-ready: per column (``"trained"``,
        ``"<test>@<step>"``, ``"random_logit"``, ``"data_randomization"``), per
        entry (a method, its fixed-contrast entry, :data:`SIMILARITY_COST`,
        :data:`MODELS_COST`), in the order computed, as wall-clock
        (``seconds``) and as CPU seconds of the process, all its threads
        (``cpu_seconds``); ``load_average``: per column, the system's 1-minute
        load average when its first entry started (``None`` where the system
        has none), with ``cores``, the machine's CPU count: a column run at a
        load above the cores shared them with other processes, and its seconds
        overstate the cost; ``preemptions``: per column, the involuntary
        context switches of the process (its threads taken off a core for
        another process; ``None`` where the system does not count them), many
        per second under contention; ``reused``: the columns whose records were taken
        from an earlier column (no entries: nothing was computed); the torch
        threads."""
        return {
            "unit": "seconds",
            "threads": torch.get_num_threads(),
            "cores": os.cpu_count(),
            "seconds": {k: dict(v) for k, v in self.seconds.items()},
            "cpu_seconds": {k: dict(v) for k, v in self.cpu_seconds.items()},
            "load_average": dict(self.load_average),
            "preemptions": dict(self.preemptions),
            "reused": dict(self.reused),
        }

    @contextlib.contextmanager
    def _timed(self, column: str, entry: str) -> Iterator[None]:
        """Add the wall-clock and CPU seconds of the block to ``entry`` of
        ``column`` (and note the load average at the column's first entry)."""
        if column not in self.load_average:
            self.load_average[column] = _load_average()
        wall, cpu = time.perf_counter(), time.process_time()
        switches = _preemptions()
        yield
        after = _preemptions()
        if switches is None or after is None:
            self.preemptions[column] = None
        elif self.preemptions.get(column, 0) is not None:
            self.preemptions[column] = self.preemptions.get(column, 0) + (
                after - switches
            )
        self._add(column, entry, time.perf_counter() - wall, time.process_time() - cpu)

    def _add(
        self, column: str, entry: str, seconds: float, cpu_seconds: float = 0.0
    ) -> None:
        for spent, value in ((self.seconds, seconds), (self.cpu_seconds, cpu_seconds)):
            entries = spent.setdefault(column, {})
            entries[entry] = entries.get(entry, 0.0) + value

    def _bind(self, data: _Inputs) -> None:
        """Check that every test of this work sees the same data."""
        found = (tuple(data.indices), data.seed, data.q, tuple(data.specs))
        if self._data is None:
            self._data = found
        elif self._data != found:
            raise ValueError(
                "a SanityWork serves the tests of one run: the same images, "
                "methods, seed and q"
            )

    def _trained_runner(self, model: nn.Module, data: _Inputs) -> Tensor:
        if self.runner is None:
            with self._timed(TRAINED, MODELS_COST):
                self.runner = _runner_up(
                    model, data.images, data.targets, data.batch_size
                )
        return self.runner

    def _reference(
        self, name: str, model: nn.Module, data: _Inputs
    ) -> SimilarityReference:
        if name not in self.references:
            maps = data.trained.get(name)
            if maps is None:
                with self._timed(TRAINED, name):
                    maps = data.maps(
                        name, model, data.targets, self._trained_runner(model, data)
                    )
            self._keep(frozenset(), name, maps)
            with self._timed(TRAINED, SIMILARITY_COST):
                self.references[name] = SimilarityReference(
                    maps, data.seed, data.indices, data.q
                )
        return self.references[name]

    def _keep(self, layers: frozenset[str] | None, name: str, maps: Tensor) -> None:
        if layers is not None and layers in self.kept_layers:
            kept = maps[: self.example_images].clone()
            self.examples.setdefault(layers, {}).setdefault(name, kept)


def _load_average() -> float | None:
    """The system's 1-minute load average; ``None`` where there is none."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _preemptions() -> int | None:
    """The involuntary context switches of this process so far; ``None``
    where the system does not count them."""
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw)
    except (ImportError, OSError):
        return None


def _column(test: str, step: str | None) -> str:
    return test if step is None else f"{test}@{step}"


def _compare_models(
    test: str,
    model: nn.Module,
    data: _Inputs,
    changed_models: Iterable[ChangedModel],
    work: SanityWork | None = None,
) -> tuple[dict[str, dict[str, list[float]]], dict[str, list[bool]]]:
    """Every method's maps of ``model`` against those of each changed model.

    ``changed_models`` yields :data:`ChangedModel` entries, lazily (one copy at
    a time); a ``None`` step names the measures ``<test>_<measure>`` and the
    runner-up change ``test``. Returns the records and, per step, whether the
    runner-up changed."""
    work = work if work is not None else SanityWork()
    work._bind(data)
    runner = work._trained_runner(model, data)
    references = {name: work._reference(name, model, data) for name in data.specs}
    records: dict[str, dict[str, list[float]]] = {}
    changed: dict[str, list[bool]] = {}
    for step, layers, build in changed_models:
        column = _column(test, step)
        if layers is not None and layers in work.steps:
            source, step_changed, values = work.steps[layers]
            work.reused[column] = source
            work.seconds.setdefault(column, {})
            work.cpu_seconds.setdefault(column, {})
        else:
            step_changed, values = _evaluate_model(
                column, build, layers, runner, references, data, work
            )
            if layers is not None:
                work.steps[layers] = (column, step_changed, values)
        changed[test if step is None else step] = step_changed
        for key, measures in values.items():
            records.setdefault(key, {}).update(
                {_measure(test, k, step): v.tolist() for k, v in measures.items()}
            )
    return records, changed


def _evaluate_model(
    column: str,
    build: Callable[[], nn.Module],
    layers: frozenset[str] | None,
    runner: Tensor,
    references: Mapping[str, SimilarityReference],
    data: _Inputs,
    work: SanityWork,
) -> tuple[list[bool], dict[str, dict[str, np.ndarray]]]:
    """One changed model's runner-up change and measures, per map entry."""
    with work._timed(column, MODELS_COST):
        other = build()
        new_runner = _runner_up(other, data.images, data.targets, data.batch_size)
    same_contrast = torch.equal(new_runner, runner)
    values: dict[str, dict[str, np.ndarray]] = {}
    for name, spec in data.specs.items():
        variants = {name: new_runner}
        if spec.contrastive:
            variants[name + FIXED_CONTRAST_SUFFIX] = runner
        for key, contrast in variants.items():
            if key != name and same_contrast:
                # The same model, classes and contrasts: the same maps.
                values[key] = values[name]
                work._add(column, key, 0.0)
                continue
            with work._timed(column, key):
                maps = data.maps(name, other, data.targets, contrast)
            if key == name:
                work._keep(layers, name, maps)
            with work._timed(column, SIMILARITY_COST):
                values[key] = references[name].compare(maps)
    return (new_runner != runner).tolist(), values


def _randomization_test(
    test: str,
    model: nn.Module,
    data: _Inputs,
    steps: dict[str, list[str]],
    n_resamples: int,
    work: SanityWork | None,
) -> SanityResult:
    """Maps of the original and of each step's randomised copy, compared."""

    def randomized(layers: list[str]) -> Callable[[], nn.Module]:
        return lambda: randomize_layers(model, layers, data.seed)

    changed_models = (
        (step, frozenset(layers), randomized(layers)) for step, layers in steps.items()
    )
    records, changed = _compare_models(test, model, data, changed_models, work)
    if test == "cascading":
        _add_step_means(records, test, [s for s in steps if s != "0"])
    result = SanityResult(
        test,
        data.indices,
        [name for name, _ in parameterized_layers(model)],
        steps,
        records,
        changed,
        protocol=_protocol(test, data, steps=steps, mean_over=_MEAN_OVER),
    )
    return _summarise(result, n_resamples, data.seed)


_MEAN_OVER = (
    "'@mean': per image, the mean over the reported cascading steps (1, ..., "
    "depth and 'all'; step 0 excluded) of the measure, NaN steps left out"
)


def _add_step_means(
    records: dict[str, dict[str, list[float]]], test: str, steps: list[str]
) -> None:
    """Add ``<test>_<measure>@mean``: per image, the mean over ``steps``."""
    for measures in records.values():
        for measure in MEASURES:
            rows = [measures[_measure(test, measure, s)] for s in steps]
            values = np.asarray(rows, dtype=np.float64)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(values, axis=0)
            measures[_measure(test, measure, MEAN)] = mean.tolist()


def cascading_randomization(
    model: nn.Module,
    images: Tensor,
    targets: Tensor | Sequence[int],
    indices: Sequence[int] | Tensor,
    specs: Mapping[str, MethodSpec],
    depth: int | None = None,
    seed: int = 0,
    *,
    batch_size: int = 64,
    q: float = 0.10,
    n_resamples: int = 2000,
    options: Mapping[str, dict[str, Any]] | None = None,
    trained_maps: Mapping[str, Tensor] | None = None,
    include_unchanged: bool = False,
    work: SanityWork | None = None,
) -> SanityResult:
    r"""Cascading randomisation: the top ``K`` layers from the logits, cumulative.

    Steps ``K = 1, ..., min(depth, L - 1)`` randomise the ``K`` layers nearest
    the logits (:func:`parameterized_layers`, ``L`` of them), and step ``"all"``
    every layer (``K = L`` is always reported as ``"all"``). Each step starts from
    the trained model (:func:`randomize_layers`), so a layer gets the same random
    weights at every step. Every method's maps of the randomised copy are compared
    with those of the trained model (:func:`map_similarity`).

    Args:
        model (nn.Module): the trained classifier, in eval mode.
        images (Tensor): ``(N, C, H, W)`` on the model's device.
        targets (Tensor or sequence of int): ``(N,)`` classes to explain.
        indices (sequence of int or Tensor): the images' dataset indices.
        specs (Mapping[str, MethodSpec]): the methods, by name.
        depth (int, optional): the largest ``K`` before ``"all"``; ``None``: every
            ``K``. Default: None
        seed (int): the run's seed (layers, noise, tie-breaks, bootstrap).
        batch_size (int): images per attribution and forward call. Default: 64
        q (float): the top fraction of the IoU. Default: 0.10
        n_resamples (int): bootstrap resamples. Default: 2000
        options (Mapping[str, dict], optional): per method name, extra keyword
            arguments of its ``attribute`` call.
        trained_maps (Mapping[str, Tensor], optional): per method name, the
            trained model's maps of ``images`` for ``targets`` (contrast: that
            model's runner-up), from :func:`trained_model_maps`, to share them
            between tests; computed when missing.
        include_unchanged (bool): also report step ``"0"`` (nothing randomised:
            similarity 1 unless a method is not deterministic). Default: False

        work (SanityWork, optional): what the tests of a run share (prepared
            trained maps, randomised models evaluated once, example maps, the
            cost of each part); a private one when missing.
    Returns:
        :class:`SanityResult` with measures ``cascading_<measure>@<K>``.

    Examples::

        >>> result = cascading_randomization(model, images, labels, indices,
        ...                                  {"saliency": METHODS["saliency"]})
        >>> result.intervals["saliency"]["cascading_spearman_abs@all"]["mean"]
    """
    data = _inputs(
        images, targets, indices, specs, seed, batch_size, q, options, trained_maps
    )
    names = [name for name, _ in parameterized_layers(model)]
    steps = cascading_steps(names, depth, include_unchanged)
    return _randomization_test("cascading", model, data, steps, n_resamples, work)


def cascading_steps(
    names: Sequence[str], depth: int | None = None, include_unchanged: bool = False
) -> dict[str, list[str]]:
    r"""The steps of :func:`cascading_randomization` and the layers each
    randomises: ``"1"`` to ``str(min(depth, L - 1))`` (the top ``K`` of
    ``names``), then ``"all"``; ``"0"`` (nothing) first with
    ``include_unchanged``.

    Args:
        names (sequence of str): the layers from the logits down
            (:func:`parameterized_layers`).
        depth (int, optional): the largest ``K`` before ``"all"``; ``None``:
            every ``K``. Default: None
        include_unchanged (bool): also step ``"0"``. Default: False

    Returns:
        dict from step label to its layer names.

    Examples::

        >>> cascading_steps(["fc", "conv2", "conv1"], depth=1)
        {'1': ['fc'], 'all': ['fc', 'conv2', 'conv1']}
    """
    names = list(names)
    last = len(names) - 1 if depth is None else min(int(depth), len(names) - 1)
    steps = {"0": []} if include_unchanged else {}
    steps.update({str(k): names[:k] for k in range(1, last + 1)})
    steps[ALL] = names
    return steps


def independent_randomization(
    model: nn.Module,
    images: Tensor,
    targets: Tensor | Sequence[int],
    indices: Sequence[int] | Tensor,
    specs: Mapping[str, MethodSpec],
    seed: int = 0,
    *,
    layers: Sequence[str] | None = None,
    batch_size: int = 64,
    q: float = 0.10,
    n_resamples: int = 2000,
    options: Mapping[str, dict[str, Any]] | None = None,
    trained_maps: Mapping[str, Tensor] | None = None,
    work: SanityWork | None = None,
) -> SanityResult:
    r"""Independent randomisation: one layer re-initialised, the others trained.

    Args:
        model (nn.Module): the trained classifier, in eval mode.
        images (Tensor): ``(N, C, H, W)`` on the model's device.
        targets (Tensor or sequence of int): ``(N,)`` classes to explain.
        indices (sequence of int or Tensor): the images' dataset indices.
        specs (Mapping[str, MethodSpec]): the methods, by name.
        seed (int): the run's seed (layers, noise, tie-breaks, bootstrap).
        layers (sequence of str, optional): the layers to test, each alone;
            default: every layer of :func:`parameterized_layers`.
        batch_size (int): images per attribution and forward call. Default: 64
        q (float): the top fraction of the IoU. Default: 0.10
        n_resamples (int): bootstrap resamples. Default: 2000
        options (Mapping[str, dict], optional): per method name, extra keyword
            arguments of its ``attribute`` call.
        trained_maps (Mapping[str, Tensor], optional): per method name, the
            trained model's maps of ``images`` for ``targets`` (contrast: that
            model's runner-up), from :func:`trained_model_maps`, to share them
            between tests; computed when missing.

        work (SanityWork, optional): what the tests of a run share (prepared
            trained maps, randomised models evaluated once, example maps, the
            cost of each part); a private one when missing.
    Returns:
        :class:`SanityResult` with measures ``independent_<measure>@<layer>``.

    Examples::

        >>> result = independent_randomization(model, images, labels, indices,
        ...                                    specs, layers=["conv1"])
    """
    data = _inputs(
        images, targets, indices, specs, seed, batch_size, q, options, trained_maps
    )
    if layers is None:
        layers = [name for name, _ in parameterized_layers(model)]
    steps = {name: [name] for name in layers}
    return _randomization_test("independent", model, data, steps, n_resamples, work)


def random_other_classes(
    targets: Tensor, indices: Sequence[int], seed: int, num_classes: int
) -> Tensor:
    """Per image, a class other than its target, uniform, from the image's stream
    ``(seed, index, "sanity:random_logit")``."""
    draws = []
    for index in indices:
        generator = image_generator(seed, int(index), RANDOM_PURPOSE)
        draws.append(int(torch.randint(num_classes - 1, (), generator=generator)))
    other = torch.as_tensor(draws, dtype=torch.long)
    return other + (other >= targets.cpu()).long()


def random_logit(
    model: nn.Module,
    images: Tensor,
    targets: Tensor | Sequence[int],
    indices: Sequence[int] | Tensor,
    specs: Mapping[str, MethodSpec],
    seed: int,
    num_classes: int,
    *,
    batch_size: int = 64,
    q: float = 0.10,
    n_resamples: int = 2000,
    options: Mapping[str, dict[str, Any]] | None = None,
    trained_maps: Mapping[str, Tensor] | None = None,
    work: SanityWork | None = None,
) -> SanityResult:
    r"""The map of the explained class against the map of a random other class.

    The other class is drawn uniformly per image (:func:`random_other_classes`).
    Contrastive methods explain each class against that class's own runner-up.

    Args:
        model (nn.Module): the trained classifier, in eval mode.
        images (Tensor): ``(N, C, H, W)`` on the model's device.
        targets (Tensor or sequence of int): ``(N,)`` classes to explain.
        indices (sequence of int or Tensor): the images' dataset indices.
        specs (Mapping[str, MethodSpec]): the methods, by name.
        seed (int): the run's seed (classes, noise, tie-breaks, bootstrap).
        num_classes (int): the number of classes (at least 2).
        batch_size (int): images per attribution and forward call. Default: 64
        q (float): the top fraction of the IoU. Default: 0.10
        n_resamples (int): bootstrap resamples. Default: 2000
        options (Mapping[str, dict], optional): per method name, extra keyword
            arguments of its ``attribute`` call.
        trained_maps (Mapping[str, Tensor], optional): per method name, the
            trained model's maps of ``images`` for ``targets`` (contrast: that
            model's runner-up), from :func:`trained_model_maps`, to share them
            between tests; computed when missing.

        work (SanityWork, optional): what the tests of a run share (prepared
            trained maps, randomised models evaluated once, example maps, the
            cost of each part); a private one when missing.
    Returns:
        :class:`SanityResult` with measures ``random_logit_<measure>`` (no
        ``runner_up_changed`` steps).

    Examples::

        >>> result = random_logit(model, images, labels, indices, specs, 0, 1000)
    """
    if num_classes < 2:
        raise ValueError(f"`num_classes` must be at least 2, got {num_classes}")
    data = _inputs(
        images, targets, indices, specs, seed, batch_size, q, options, trained_maps
    )
    test = "random_logit"
    work = work if work is not None else SanityWork()
    work._bind(data)
    other = random_other_classes(data.targets, data.indices, data.seed, num_classes)
    with work._timed(test, MODELS_COST):
        other_runner = _runner_up(model, data.images, other, data.batch_size)
    records = {}
    for name in data.specs:
        reference = work._reference(name, model, data)
        with work._timed(test, name):
            maps = data.maps(name, model, other, other_runner)
        with work._timed(test, SIMILARITY_COST):
            values = reference.compare(maps)
        records[name] = {_measure(test, k, None): v.tolist() for k, v in values.items()}
    why = f"uniform over the other classes, stream (seed, index, {RANDOM_PURPOSE!r})"
    result = SanityResult(
        "random_logit",
        data.indices,
        [name for name, _ in parameterized_layers(model)],
        {},
        records,
        {},
        other_class=other.tolist(),
        protocol=_protocol("random_logit", data, other_class=why),
    )
    return _summarise(result, n_resamples, data.seed)


def data_randomization(
    model: nn.Module,
    random_label_model: nn.Module,
    images: Tensor,
    targets: Tensor | Sequence[int],
    indices: Sequence[int] | Tensor,
    specs: Mapping[str, MethodSpec],
    seed: int = 0,
    *,
    batch_size: int = 64,
    q: float = 0.10,
    n_resamples: int = 2000,
    options: Mapping[str, dict[str, Any]] | None = None,
    trained_maps: Mapping[str, Tensor] | None = None,
    work: SanityWork | None = None,
) -> SanityResult:
    r"""Data randomisation: the trained model's maps against a random-label model's.

    ``random_label_model`` has the same architecture, trained on the training
    images with randomly permuted labels, so it can only memorise (Adebayo et
    al., 2018; for the shapes preset:
    :func:`~captum_contrastive.presets.shapes_random_labels.train_random_label_model`).
    A map that stays similar does not depend on the relation between the images
    and their labels. Both models explain the same images and classes; a
    contrastive method is contrasted with the runner-up of the model it explains,
    and its ``(fixed contrast)`` entry with the trained model's runner-up.

    Args:
        model (nn.Module): the trained classifier, in eval mode.
        random_label_model (nn.Module): the random-label classifier (same inputs,
            same classes), in eval mode, on the same device.
        images (Tensor): ``(N, C, H, W)`` on the models' device.
        targets (Tensor or sequence of int): ``(N,)`` classes to explain.
        indices (sequence of int or Tensor): the images' dataset indices.
        specs (Mapping[str, MethodSpec]): the methods, by name.
        seed (int): the run's seed (noise, tie-breaks, bootstrap).
        batch_size (int): images per attribution and forward call. Default: 64
        q (float): the top fraction of the IoU. Default: 0.10
        n_resamples (int): bootstrap resamples. Default: 2000
        options (Mapping[str, dict], optional): per method name, extra keyword
            arguments of its ``attribute`` call.
        trained_maps (Mapping[str, Tensor], optional): per method name, the
            trained model's maps of ``images`` for ``targets`` (contrast: that
            model's runner-up), from :func:`trained_model_maps`, to share them
            between tests; computed when missing.

        work (SanityWork, optional): what the tests of a run share (prepared
            trained maps, randomised models evaluated once, example maps, the
            cost of each part); a private one when missing.
    Returns:
        :class:`SanityResult` with test ``"data_randomization"``, measures
        ``data_randomization_<measure>`` (no step) and the runner-up change under
        ``runner_up_changed["data_randomization"]``.

    Examples::

        >>> result = data_randomization(model, random_model, images, labels,
        ...                             indices, {"saliency": METHODS["saliency"]})
        >>> result.intervals["saliency"]["data_randomization_spearman_abs"]["mean"]
    """
    test = "data_randomization"
    data = _inputs(
        images, targets, indices, specs, seed, batch_size, q, options, trained_maps
    )
    _check_same_outputs(model, random_label_model, data.images[:1])
    changed_models = [(None, None, lambda: random_label_model)]
    records, changed = _compare_models(test, model, data, changed_models, work)
    result = SanityResult(
        test,
        data.indices,
        [name for name, _ in parameterized_layers(model)],
        {},
        records,
        changed,
        protocol=_protocol(test, data, changed_model=_RANDOM_LABELS),
    )
    return _summarise(result, n_resamples, data.seed)


_RANDOM_LABELS = (
    "the same architecture trained on the training images with randomly "
    "permuted labels (Adebayo et al., 2018, data randomisation test)"
)


@torch.no_grad()
def _check_same_outputs(model: nn.Module, other: nn.Module, image: Tensor) -> None:
    shapes = [tuple(m(image).shape) for m in (model, other)]
    if shapes[0] != shapes[1]:
        raise ValueError(
            f"the random-label model gives outputs of shape {shapes[1]}, the "
            f"trained model {shapes[0]}; they must explain the same classes"
        )


@dataclass(frozen=True)
class SanityRule:
    r"""When a method passes a sanity test.

    Rule: the method **passes** if the upper end of the 95% bootstrap CI of the
    mean of ``measure`` lies below ``threshold``, **fails** if the lower end lies
    at or above it, and is **inconclusive** otherwise (the CI straddles the
    threshold, or fewer than 2 non-NaN images).

    Default: ``cascading_spearman_abs@mean < 0.5``. Why:

    - ``@mean``: per image, the similarity averaged over the cascade's steps
      (``@1``, ..., ``@depth``, ``@all``). Adebayo et al. (2018) found GuidedBP
      insensitive to randomising the *top* layers: its maps stay nearly the same
      while the class-specific layers are destroyed, and only change once the
      low-level filters go. A rule on ``@all`` alone misses that: on a shallow
      network the last step changes every method's maps (measured on the shapes
      preset, 32 images: GuidedBP ``@all`` 0.29, but ``@1`` to ``@6`` 0.96 to
      0.81). The mean over the steps weighs the top layers as the cascade
      does, so it depends on the depth, which is recorded. With the default depth
      (6 steps and ``all``) GuidedBP scored 0.81, Saliency 0.38, Enhanced GBP
      0.12 on those images;
    - ``spearman_abs``: rank correlation of ``|map|`` ignores sign flips, which
      randomisation causes even in maps whose structure stays the same; it is the
      harder test to pass;
    - ``0.5``: the conventional boundary of a "large" correlation (Cohen, 1988:
      0.1 small, 0.3 medium, 0.5 large). Zero is not the right bar: two maps of
      the same image share its edges and object even when the models are
      unrelated (the random-network floor is above 0 for input-weighted methods).
      A method whose maps, averaged over the cascade, still correlate at 0.5 or
      more with the trained model's maps is, to a large extent, not about the
      model;
    - the upper CI end, not the mean: a pass must be shown, not just likely.

    GuidedBP (:data:`KNOWN_FAILING_CONTROL`) is the known-failing control: it
    should fail. If it passes, the check lacks power on these data (or the model
    is too shallow for GuidedBP to reconstruct the image) and every pass is
    doubtful; the verdicts say so.

    Attributes:
        measure: the measure name in :attr:`SanityResult.intervals`.
        threshold: the similarity bar.
        control: the method expected to fail.
    """

    measure: str = "cascading_spearman_abs@mean"
    threshold: float = SANITY_THRESHOLD
    control: str = KNOWN_FAILING_CONTROL

    def describe(self) -> str:
        return (
            f"passes if the 95% CI of {self.measure} lies below {self.threshold}, "
            f"fails if it lies at or above it, else inconclusive; control expected "
            f"to fail: {self.control}"
        )


@dataclass(frozen=True)
class SanityVerdict:
    """A method's sanity verdict, with the rule and the numbers that decide it.

    Attributes:
        method: the method (as in the result's records).
        verdict: ``"passes"``, ``"fails"`` or ``"inconclusive"``.
        rule: the rule in words.
        interval: the bootstrap interval of the rule's measure (NaN, ``n = 0``
            when the method has no such measure).
        evidence: the numbers in words.
        control: whether ``method`` is the known-failing control.
    """

    method: str
    verdict: str
    rule: str
    interval: Interval
    evidence: str
    control: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: The interval of a method without the rule's measure.
_NO_INTERVAL = Interval(math.nan, math.nan, math.nan, 0)


def _decide(interval: Interval, threshold: float) -> str:
    low, high = interval.ci_low, interval.ci_high
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if high < threshold:
        return "passes"
    return "fails" if low >= threshold else "inconclusive"


def sanity_verdict(
    result: SanityResult, rule: SanityRule | None = None
) -> dict[str, SanityVerdict]:
    r"""Per method, whether its maps depend on the model, by ``rule``.

    See :class:`SanityRule` for the rule and the threshold. When the control
    method (GuidedBP) is among the results and does not fail, every other
    verdict's evidence says so.

    Args:
        result (SanityResult): a test's result holding ``rule.measure``.
        rule (SanityRule, optional): Default: ``SanityRule()``

    Returns:
        dict from method name to :class:`SanityVerdict`, in the result's order.

    Examples::

        >>> verdicts = sanity_verdict(cascading_randomization(...))
        >>> verdicts["saliency"].verdict
        'passes'
    """
    rule = rule or SanityRule()
    if not any(rule.measure in m for m in result.intervals.values()):
        raise ValueError(f"no method of the {result.test} result has {rule.measure!r}")
    verdicts = {}
    for method, measures in result.intervals.items():
        found = measures.get(rule.measure)
        interval = Interval.of(found) if found else _NO_INTERVAL
        verdict = _decide(interval, rule.threshold)
        evidence = (
            f"{rule.measure} = {format_ci(interval)} over {interval.n} "
            f"images ({interval.n_nan} NaN)"
        )
        verdicts[method] = SanityVerdict(
            method, verdict, rule.describe(), interval, evidence, method == rule.control
        )
    control = verdicts.get(rule.control)
    if control is not None and control.verdict != "fails":
        note = f"; the control {rule.control} did not fail ({control.verdict})"
        verdicts = {
            k: v if v.control else replace(v, evidence=v.evidence + note)
            for k, v in verdicts.items()
        }
    return verdicts


def trained_model_maps(
    model: nn.Module,
    images: Tensor,
    targets: Tensor | Sequence[int],
    indices: Sequence[int] | Tensor,
    specs: Mapping[str, MethodSpec],
    seed: int = 0,
    *,
    batch_size: int = 64,
    options: Mapping[str, dict[str, Any]] | None = None,
    work: SanityWork | None = None,
) -> dict[str, Tensor]:
    r"""Every method's maps of the trained model, the reference of every test.

    Contrastive methods explain each target against the model's runner-up. Pass
    the result as ``trained_maps`` to the tests so that they are computed once.

    Args:
        model (nn.Module): the trained classifier, in eval mode.
        images (Tensor): ``(N, C, H, W)`` on the model's device.
        targets (Tensor or sequence of int): ``(N,)`` classes to explain.
        indices (sequence of int or Tensor): the images' dataset indices.
        specs (Mapping[str, MethodSpec]): the methods, by name.
        seed (int): the run's seed (noise). Default: 0
        batch_size (int): images per attribution and forward call. Default: 64
        options (Mapping[str, dict], optional): per method name, extra keyword
            arguments of its ``attribute`` call.

        work (SanityWork, optional): what the tests of a run share (prepared
            trained maps, randomised models evaluated once, example maps, the
            cost of each part); a private one when missing.
    Returns:
        dict from method name to its ``(N, C, H, W)`` maps.

    Examples::

        >>> trained = trained_model_maps(model, images, labels, indices, specs)
        >>> cascading_randomization(model, images, labels, indices, specs,
        ...                         trained_maps=trained)
    """
    data = _inputs(images, targets, indices, specs, seed, batch_size, 0.1, options)
    work = work if work is not None else SanityWork()
    runner = work._trained_runner(model, data)
    maps = {}
    for name in specs:
        with work._timed(TRAINED, name):
            maps[name] = data.maps(name, model, data.targets, runner)
    return maps
