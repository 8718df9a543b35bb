"""results.json read back into each study's typed summary (read_summaries)."""

from __future__ import annotations

import json

import pytest

from captum_contrastive.metrics.intervals import Interval
from captum_contrastive.pipeline import read_summaries
from captum_contrastive.typed_json import to_json
from tests.pipeline.study_example import load_example


def _results(summary) -> dict:
    return {
        "schema_version": 1,
        "attacks": {},
        "map_entropy": to_json(summary),
        "run": {"config": {}},
        "verdicts": {},
        "timings": {},
    }


def test_a_study_summary_is_read_back_typed(tmp_path) -> None:
    with load_example() as example:
        interval = Interval(0.5, 0.4, 0.6, n=8)
        summary = example.MapEntropySummary({"saliency": interval}, 8)
        path = tmp_path / "results.json"
        path.write_text(json.dumps(_results(summary)))
        assert read_summaries(path) == {"map_entropy": summary}
        assert read_summaries(_results(summary))["map_entropy"].n_images == 8


def test_a_study_no_unit_reads_is_named() -> None:
    with load_example() as example:
        results = _results(example.MapEntropySummary({}, 0))
    with pytest.raises(ValueError, match="'map_entropy', which no registered"):
        read_summaries(results)


def test_an_attack_run_no_study_uses_is_named_in_the_caveats() -> None:
    from types import SimpleNamespace

    from captum_contrastive.pipeline.config import BenchmarkConfig
    from captum_contrastive.pipeline.report import _unused_attack_caveats
    from captum_contrastive.pipeline.study_registry import registered_units

    def run(studies, **options):
        config = BenchmarkConfig(
            studies=studies, extra_attacks=("pgd_l2:epsilon=0.5",), **options
        )
        units = [registered_units()[name](config) for name in config.studies]
        return SimpleNamespace(config=config, units=units)

    (line,) = _unused_attack_caveats(run(("sanity", "recovery")))
    assert "The --attack run(s) pgd_l2 were not run" in line
    assert "--recovery-attacks" in line
    assert _unused_attack_caveats(run(("adversarial",))) == []
    recovery = run(("recovery",), recovery_attacks=("pgd_l2",))
    assert _unused_attack_caveats(recovery) == []
