"""An interleaved timing harness: every variant sees the same machine drift.

On a shared machine the speed of the CPU drifts during a run (other processes,
thermal limits, frequency scaling). Timing variant A five times and then variant B
five times charges that drift to one of them. :func:`time_interleaved` instead runs
one warm-up call per variant, then ``repeats`` *rounds*, and in each round calls every
variant once, so a slow spell hits all variants alike. By default each round calls the
variants in a fresh (seeded) random order, so no variant always runs first or always
right after the same neighbour: a variant also leaves the process in a state (the C
allocator's free lists and mmap threshold, caches) that changes the speed of the next
one by several percent on small models. Compare variants by the ratio of their
medians, or by the median of the per-round ratios
(:meth:`TimingResult.paired_ratio`), which also cancels drift between rounds.

Besides the wall-clock time, the CPU time of the process (``time.process_time``: all
its threads, user and system) is recorded per sample. When other processes compete
for the cores, the wall time of a sample includes the time its threads waited to be
scheduled, while its CPU time mostly does not, so the CPU-time ratios are a useful
cross-check of the wall-time ones on a busy machine (not on CUDA, where the CPU
mostly waits).
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

__all__ = ["TimingResult", "median", "time_interleaved"]

WARMUP_ROUND = -1
_SCHEDULES = ("fixed", "rotate", "shuffle")


def median(values: Sequence[float]) -> float:
    r"""The median of a non-empty sequence (mean of the two middle values if even).

    Args:
        values (Sequence[float]): the samples.

    Returns:
        *float* the median.

    Examples::

        >>> median([3.0, 1.0, 2.0])
        2.0
        >>> median([4.0, 1.0, 2.0, 3.0])
        2.5
    """
    if not values:
        raise ValueError("median() of an empty sequence")
    return float(statistics.median(values))


@dataclass
class TimingResult:
    r"""The raw times of an interleaved run.

    Attributes:
        times (dict[str, list[float]]): per variant, the wall-clock seconds per
            call of each round, in round order (warm-up excluded).
        cpu_times (dict[str, list[float]]): the same samples in CPU seconds of
            this process (empty lists without a ``cpu_clock``).
        warmup_times (dict[str, float]): per variant, the seconds of its warm-up
            call(s), per call.
        number (dict[str, int]): per variant, how many back-to-back calls each
            sample timed (the sample is divided by it).
        order (list[tuple[int, str]]): every sample in the order it ran, as
            ``(round, name)``; the warm-up round is ``-1``.
        outputs (dict[str, Any]): per variant, the return value of its warm-up call
            (only with ``keep_outputs=True``), e.g. to check that variants agree.
    """

    times: dict[str, list[float]]
    warmup_times: dict[str, float]
    number: dict[str, int]
    order: list[tuple[int, str]]
    outputs: dict[str, Any] = field(default_factory=dict)
    cpu_times: dict[str, list[float]] = field(default_factory=dict)

    def _samples(self, name: str, cpu: bool) -> list[float]:
        return self.cpu_times[name] if cpu else self.times[name]

    def median(self, name: str, cpu: bool = False) -> float:
        r"""Median seconds per call of variant ``name`` (CPU seconds if ``cpu``)."""
        return median(self._samples(name, cpu))

    @property
    def medians(self) -> dict[str, float]:
        r"""Median wall-clock seconds per call of every variant."""
        return {name: median(values) for name, values in self.times.items()}

    def ratio(self, numerator: str, denominator: str, cpu: bool = False) -> float:
        r"""``median(numerator) / median(denominator)``."""
        return self.median(numerator, cpu) / self.median(denominator, cpu)

    def paired_ratio(
        self, numerator: str, denominator: str, cpu: bool = False
    ) -> float:
        r"""Median over rounds of ``time(numerator) / time(denominator)``.

        Both samples of a round ran close together, so this cancels slow drift
        between rounds.
        """
        pairs = zip(
            self._samples(numerator, cpu), self._samples(denominator, cpu), strict=True
        )
        return median([a / b for a, b in pairs])

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict of the raw times, the medians and the call order."""
        return {
            "times_s": {name: list(values) for name, values in self.times.items()},
            "median_s": self.medians,
            "cpu_times_s": {
                name: list(values) for name, values in self.cpu_times.items()
            },
            "warmup_s": dict(self.warmup_times),
            "number": dict(self.number),
            "order": [[round_, name] for round_, name in self.order],
        }


def _run(
    fn: Callable[[], Any],
    number: int,
    synchronize: Callable[[], None] | None,
    clock: Callable[[], float],
    cpu_clock: Callable[[], float] | None,
    collect_garbage: bool,
) -> tuple[float, float, Any]:
    if collect_garbage:
        gc.collect()
    if synchronize is not None:
        synchronize()
    output = None
    cpu_start = cpu_clock() if cpu_clock is not None else 0.0
    start = clock()
    for _ in range(number):
        output = fn()
    if synchronize is not None:
        synchronize()
    elapsed = clock() - start
    cpu_elapsed = cpu_clock() - cpu_start if cpu_clock is not None else math.nan
    return elapsed / number, cpu_elapsed / number, output


def _round_order(
    names: list[str], round_: int, schedule: str, rng: random.Random
) -> list[str]:
    if schedule == "rotate":
        start = round_ % len(names)
        return names[start:] + names[:start]
    if schedule == "shuffle":
        return rng.sample(names, len(names))
    return list(names)


def time_interleaved(
    variants: Mapping[str, Callable[[], Any]],
    repeats: int = 5,
    warmup: int = 1,
    schedule: str = "shuffle",
    seed: int = 0,
    min_sample_time: float = 0.0,
    synchronize: Callable[[], None] | None = None,
    keep_outputs: bool = False,
    progress: Callable[[int, str, float], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    cpu_clock: Callable[[], float] | None = time.process_time,
    collect_garbage: bool = True,
) -> TimingResult:
    r"""Time several zero-argument callables, interleaved round-robin.

    First every variant runs ``warmup`` times (untimed for the statistics, but
    recorded). Then ``repeats`` rounds follow; each calls every variant once, in the
    order given by ``schedule``. ``gc.collect()`` runs before every sample, outside
    the timed region (unless ``collect_garbage=False``).

    Args:
        variants (Mapping[str, Callable[[], Any]]): name -> callable to time.
        repeats (int): number of timed rounds. Default: 5
        warmup (int): untimed calls per variant before the rounds. Default: 1
        schedule (str): the order within each round: ``"fixed"`` (the order of
            ``variants``), ``"rotate"`` (round ``r`` starts at the ``r``-th variant,
            cyclically) or ``"shuffle"`` (a random permutation per round, drawn
            from ``seed``; position and predecessor vary). Default: ``"shuffle"``
        seed (int): seed of the ``"shuffle"`` schedule. Default: 0
        min_sample_time (float): if the warm-up of a variant took less than this
            many seconds, each sample times ``ceil(min_sample_time / warmup_time)``
            back-to-back calls and reports the time per call, so fast variants are
            not dominated by clock and scheduling noise. Default: 0.0 (one call)
        synchronize (Callable[[], None], optional): called before starting and
            before stopping the clock, e.g. ``torch.cuda.synchronize``.
            Default: None
        keep_outputs (bool): keep the return value of each variant's last warm-up
            call in :attr:`TimingResult.outputs`. Default: False
        progress (Callable[[int, str, float], None], optional): called after
            every sample with ``(round, name, seconds_per_call)``; the warm-up
            round is ``-1``. Default: None
        clock (Callable[[], float]): the wall clock. Default: ``time.perf_counter``
        cpu_clock (Callable[[], float], optional): the CPU-time clock recorded
            alongside, or None. Default: ``time.process_time``
        collect_garbage (bool): run ``gc.collect()`` before every sample, so a
            collection triggered by one variant's garbage is not charged to the
            next. Default: True

    Returns:
        *TimingResult* with the per-variant times, medians and the call order.

    Examples::

        >>> result = time_interleaved(
        ...     {"sum": lambda: sum(range(10_000)), "noop": lambda: None},
        ...     repeats=5,
        ... )
        >>> result.medians["sum"] > 0
        True
        >>> result.order[:4]
        [(-1, 'sum'), (-1, 'noop'), (0, 'sum'), (0, 'noop')]
    """
    _check_timing_settings(variants, repeats, warmup, schedule)
    rng = random.Random(seed)
    names = list(variants)
    sample = partial(
        _run,
        synchronize=synchronize,
        clock=clock,
        cpu_clock=cpu_clock,
        collect_garbage=collect_garbage,
    )
    result = TimingResult(
        times={name: [] for name in names},
        warmup_times={},
        number={},
        order=[],
        outputs={},
        cpu_times={name: [] for name in names},
    )
    for name in names:
        _warm_up(result, name, variants[name], sample, warmup, keep_outputs, progress)
        result.number[name] = _calls_per_sample(
            result.warmup_times[name], warmup, min_sample_time
        )
    for round_ in range(repeats):
        for name in _round_order(names, round_, schedule, rng):
            _time_sample(
                result, round_, name, variants[name], sample, cpu_clock, progress
            )
    return result


def _check_timing_settings(
    variants: Mapping[str, Callable[[], Any]], repeats: int, warmup: int, schedule: str
) -> None:
    """Raise :class:`ValueError` on no variants or a bad repeats, warmup, schedule."""
    if not variants:
        raise ValueError("`variants` is empty")
    if repeats < 1:
        raise ValueError(f"`repeats` must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"`warmup` must be >= 0, got {warmup}")
    if schedule not in _SCHEDULES:
        raise ValueError(f"`schedule` must be one of {_SCHEDULES}, got {schedule!r}")


def _warm_up(
    result: TimingResult,
    name: str,
    fn: Callable[[], Any],
    sample: Callable[..., tuple[float, float, Any]],
    warmup: int,
    keep_outputs: bool,
    progress: Callable[[int, str, float], None] | None,
) -> None:
    """Run ``fn`` ``warmup`` times, recording its warm-up time, order and output."""
    total = 0.0
    for _ in range(warmup):
        seconds, _, output = sample(fn, 1)
        total += seconds
        result.order.append((WARMUP_ROUND, name))
        if keep_outputs:
            result.outputs[name] = output
        del output
    result.warmup_times[name] = total / warmup if warmup else math.nan
    if progress is not None and warmup:
        progress(WARMUP_ROUND, name, result.warmup_times[name])


def _calls_per_sample(warmup_time: float, warmup: int, min_sample_time: float) -> int:
    """Back-to-back calls per sample so that one lasts about ``min_sample_time``."""
    calls = 1
    if warmup and min_sample_time > 0 and warmup_time > 0:
        calls = max(1, math.ceil(min_sample_time / warmup_time))
    return calls


def _time_sample(
    result: TimingResult,
    round_: int,
    name: str,
    fn: Callable[[], Any],
    sample: Callable[..., tuple[float, float, Any]],
    cpu_clock: Callable[[], float] | None,
    progress: Callable[[int, str, float], None] | None,
) -> None:
    """Time one sample of variant ``name`` in round ``round_`` into ``result``."""
    seconds, cpu_seconds, output = sample(fn, result.number[name])
    del output
    result.times[name].append(seconds)
    if cpu_clock is not None:
        result.cpu_times[name].append(cpu_seconds)
    result.order.append((round_, name))
    if progress is not None:
        progress(round_, name, seconds)
