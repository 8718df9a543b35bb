"""The interleaved timing harness: call order, medians, ratios, repetition."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from captum_contrastive.profiling.timing import median, time_interleaved


class FakeClock:
    """A clock that only moves when a fake variant says it took some time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_variant(
    name: str, log: list[str], clock: FakeClock, durations: list[float]
) -> Callable[[], str]:
    calls = iter(durations)

    def call() -> str:
        log.append(name)
        clock.now += next(calls)
        return name

    return call


def test_round_robin_order_is_recorded_and_interleaved() -> None:
    log: list[str] = []
    clock = FakeClock()
    variants = {n: fake_variant(n, log, clock, [1.0] * 10) for n in "abc"}
    result = time_interleaved(
        variants, repeats=4, schedule="fixed", clock=clock, collect_garbage=False
    )
    assert log == list("abc") * 5  # warm-up round + 4 rounds
    assert result.order == [(-1, n) for n in "abc"] + [
        (r, n) for r in range(4) for n in "abc"
    ]


def test_rotation_changes_the_first_variant_of_each_round() -> None:
    log: list[str] = []
    clock = FakeClock()
    variants = {n: fake_variant(n, log, clock, [1.0] * 10) for n in "abc"}
    result = time_interleaved(
        variants, repeats=3, schedule="rotate", clock=clock, collect_garbage=False
    )
    assert log == list("abc") + list("abc") + list("bca") + list("cab")
    assert [name for _, name in result.order] == log
    # every variant still runs exactly once per round
    for round_ in range(3):
        assert sorted(n for r, n in result.order if r == round_) == list("abc")


def test_times_medians_and_ratios() -> None:
    log: list[str] = []
    clock = FakeClock()
    variants = {
        "slow": fake_variant("slow", log, clock, [9.0, 3.0, 1.0, 2.0, 5.0, 4.0]),
        "fast": fake_variant("fast", log, clock, [9.0, 1.0, 1.0, 2.0, 1.0, 2.0]),
    }
    result = time_interleaved(
        variants, repeats=5, schedule="fixed", clock=clock, collect_garbage=False
    )
    assert result.warmup_times == {"slow": 9.0, "fast": 9.0}
    assert result.times["slow"] == [3.0, 1.0, 2.0, 5.0, 4.0]
    assert result.median("slow") == 3.0
    assert result.median("fast") == 1.0
    assert result.medians == {"slow": 3.0, "fast": 1.0}
    assert result.ratio("slow", "fast") == 3.0
    # per-round ratios 3, 1, 1, 5, 2 -> median 2
    assert result.paired_ratio("slow", "fast") == 2.0
    record = result.to_dict()
    assert record["times_s"]["slow"] == [3.0, 1.0, 2.0, 5.0, 4.0]
    assert record["order"][0] == [-1, "slow"]


def test_median_of_even_and_odd_samples() -> None:
    assert median([5.0]) == 5.0
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError):
        median([])


def test_min_sample_time_times_several_calls_per_sample() -> None:
    log: list[str] = []
    clock = FakeClock()
    variants = {"tiny": fake_variant("tiny", log, clock, [0.01] * 100)}
    result = time_interleaved(
        variants, repeats=3, min_sample_time=0.05, clock=clock, collect_garbage=False
    )
    assert result.number == {"tiny": 5}
    assert len(log) == 1 + 3 * 5
    assert result.times["tiny"] == pytest.approx([0.01] * 3)


def test_outputs_synchronize_and_progress() -> None:
    synced: list[int] = []
    seen: list[tuple[int, str]] = []
    result = time_interleaved(
        {"x": lambda: 42, "y": lambda: 7},
        repeats=2,
        keep_outputs=True,
        synchronize=lambda: synced.append(1),
        progress=lambda round_, name, seconds: seen.append((round_, name)),
    )
    assert result.outputs == {"x": 42, "y": 7}
    assert len(synced) == 2 * len(result.order)
    assert seen[:2] == [(-1, "x"), (-1, "y")]
    assert sorted(seen[2:4]) == [(0, "x"), (0, "y")]
    assert all(t >= 0 for times in result.times.values() for t in times)


def test_shuffle_varies_order_and_neighbours_reproducibly() -> None:
    names = list("abcde")

    def rounds(seed: int) -> list[list[str]]:
        log: list[str] = []
        clock = FakeClock()
        variants = {n: fake_variant(n, log, clock, [1.0] * 30) for n in names}
        result = time_interleaved(
            variants, repeats=5, seed=seed, clock=clock, collect_garbage=False
        )
        assert [name for _, name in result.order] == log
        assert log[:5] == names  # warm-up in the given order
        return [log[5 * r : 5 * r + 5] for r in range(1, 6)]

    shuffled = rounds(seed=0)
    for order in shuffled:
        assert sorted(order) == names  # each variant once per round
    assert len({tuple(order) for order in shuffled}) > 1
    assert len({order[0] for order in shuffled}) > 1
    predecessors_of_a = {order[order.index("a") - 1] for order in shuffled}
    assert len(predecessors_of_a) > 1
    assert rounds(seed=0) == shuffled


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        time_interleaved({}, repeats=3)
    with pytest.raises(ValueError):
        time_interleaved({"x": lambda: None}, repeats=0)
    with pytest.raises(ValueError):
        time_interleaved({"x": lambda: None}, schedule="random")


def test_cpu_time_is_recorded_with_its_own_clock() -> None:
    log: list[str] = []
    wall = FakeClock()
    cpu = FakeClock()

    def busy() -> None:
        log.append("busy")
        wall.now += 2.0
        cpu.now += 1.0

    result = time_interleaved(
        {"busy": busy}, repeats=3, clock=wall, cpu_clock=cpu, collect_garbage=False
    )
    assert result.times["busy"] == [2.0, 2.0, 2.0]
    assert result.cpu_times["busy"] == [1.0, 1.0, 1.0]
    assert result.median("busy", cpu=True) == 1.0
    assert result.to_dict()["cpu_times_s"] == {"busy": [1.0, 1.0, 1.0]}
    without = time_interleaved({"x": lambda: None}, repeats=2, cpu_clock=None)
    assert without.cpu_times == {"x": []}
