"""The plain-text report of one benchmark result: variants, ratios, checks."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["format_results"]


def format_results(result: dict[str, Any], title: str = "") -> str:
    r"""A plain-text table of the medians, peak memory and ratios of one result.

    Args:
        result (dict): returned by
            :func:`~captum_contrastive.profiling.speed_profile.run_speed_benchmark`.
        title (str): a heading line. Default: ``""``

    Returns:
        *str* the table.
    """
    lines = [title] if title else []
    lines.append(_settings_line(result["settings"]))
    lines += _variant_table(result["variants"])
    lines.append("")
    lines += _comparison_table(result["comparisons"])
    if result["checks"]:
        lines.append("")
        lines += _check_lines(result["checks"])
    return "\n".join(lines)


def _settings_line(settings: dict[str, Any]) -> str:
    return (
        f"input {tuple(settings['input_shape'])}  device {settings['device']}  "
        f"repeats {settings['repeats']} (+1 warm-up)  "
        f"threads {torch.get_num_threads()}  memory {settings['memory_mode']}  "
        f"internal_batch_size {settings['internal_batch_size']}"
    )


def _variant_table(variants: dict[str, dict[str, Any]]) -> list[str]:
    header = (
        f"{'':3} {'variant':<15} {'median s':>9} {'min s':>8} {'max s':>8} "
        f"{'cpu s':>8} {'peak MiB':>9}  description"
    )
    lines = [header, "-" * len(header)]
    for name, row in variants.items():
        times = row["times_s"]
        lines.append(
            f"({row['letter']}) {name:<15} {row['median_s']:>9.3f} "
            f"{min(times):>8.3f} {max(times):>8.3f} {row['cpu_median_s']:>8.3f} "
            f"{_mib(row['memory']):>9}  {row['description']}"
        )
    return lines


def _comparison_table(comparisons: list[dict[str, Any]]) -> list[str]:
    header = (
        f"{'ratio':<31} {'metric':<6} {'median':>6} {'paired':>7} {'cpu':>6} "
        f"{'target':>8}  holds"
    )
    lines = [header, "-" * len(header)]
    for entry in comparisons:
        target = entry["target"]
        holds = {True: "yes", False: "NO", None: ""}[entry["holds"]]
        lines.append(
            f"{entry['name']:<31} {entry['metric']:<6} {entry['ratio']:>6.3f} "
            f"{_number(entry.get('paired_ratio'), 7)} "
            f"{_number(entry.get('cpu_ratio'), 6)} "
            f"{'' if target is None else f'<= {target:.2f}':>8}  {holds}"
        )
    lines.append(
        "median: ratio of wall-clock medians (the target's measure); paired: median "
        "of per-round ratios; cpu: ratio of CPU-time medians"
    )
    return lines


def _check_lines(checks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        a, b = check["variants"]
        verdict = "agree" if check["agree"] else "DIFFER"
        lines.append(
            f"check {a} vs {b}: max |diff| {check['max_abs_difference']:.2e} "
            f"(max |value| {check['max_abs_value']:.2e}) -> {verdict}"
        )
    return lines


def _mib(memory: dict[str, Any] | None) -> str:
    return "-" if memory is None else f"{memory['peak_bytes'] / 2**20:.1f}"


def _number(value: float | None, width: int) -> str:
    return f"{'' if value is None else f'{value:.3f}':>{width}}"
