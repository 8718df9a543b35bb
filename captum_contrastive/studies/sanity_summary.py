"""The sanity checks' summary in ``results.json``, typed.

:class:`SanitySummary` is what the benchmark's sanity unit reports: per test
(:class:`SanityTestSummary`, a :class:`~captum_contrastive.studies.sanity.SanityResult`
without its per-image records), the runner-up changes, the rule and the
verdicts, the example maps, the optional data-randomisation test, the cost and
the settings. :func:`~captum_contrastive.typed_json.to_json` writes it into
``results.json``'s keys, in their order;
:func:`~captum_contrastive.typed_json.from_json` reads it back and refuses keys
it does not declare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from captum_contrastive.metrics.intervals import Interval
from captum_contrastive.presets.shapes_random_labels import RandomLabelSettings
from captum_contrastive.studies.sanity import SanityResult, SanityRule, SanityVerdict

__all__ = [
    "DataRandomizationSummary",
    "RandomLabelModelSummary",
    "SanityCost",
    "SanityExamples",
    "SanityRuleSummary",
    "SanitySettings",
    "SanitySummary",
    "SanityTestSummary",
    "SkippedTest",
]

#: ``omit_none``: the field is left out of the JSON when it is ``None``.
_OPTIONAL = {"omit_none": True}


@dataclass
class SanityTestSummary:
    """One test's result without its per-image records (those go to
    ``records.json``); the attributes are those of
    :class:`~captum_contrastive.studies.sanity.SanityResult`.

    Attributes:
        protocol: the settings in words (free-form: each test adds its own).
    """

    test: str
    indices: list[int]
    layers: list[str]
    steps: dict[str, list[str]]
    intervals: dict[str, dict[str, Interval]]
    runner_up_changed_share: dict[str, float]
    protocol: dict[str, Any]
    other_class: list[int]

    @classmethod
    def of(cls, result: SanityResult) -> SanityTestSummary:
        """``result`` without its records, its intervals typed."""
        return cls(**_test_fields(result))


def _test_fields(result: SanityResult) -> dict[str, Any]:
    return {
        "test": result.test,
        "indices": [int(i) for i in result.indices],
        "layers": list(result.layers),
        "steps": {step: list(layers) for step, layers in result.steps.items()},
        "intervals": {
            method: {name: Interval.of(ci) for name, ci in measures.items()}
            for method, measures in result.intervals.items()
        },
        "runner_up_changed_share": dict(result.runner_up_changed_share),
        "protocol": result.protocol,
        "other_class": [int(c) for c in result.other_class],
    }


@dataclass
class RandomLabelModelSummary:
    """The random-label model of the data-randomisation test: its cache key's
    digest and how its training went (see
    :class:`~captum_contrastive.presets.shapes_random_labels.RandomLabelModel`,
    whose metrics these are, less the per-epoch history)."""

    key: str
    train_accuracy: float
    train_accuracy_true_labels: float
    label_agreement: float
    test_top1: float
    chance: float
    train_seconds: float
    train_cpu_seconds: float
    settings: RandomLabelSettings
    seed: int
    torch_version: str


@dataclass
class DataRandomizationSummary(SanityTestSummary):
    """The data-randomisation test: a test summary, the interval of the share of
    images whose runner-up changed, and the random-label model."""

    runner_up_changed_ci: Interval = field(kw_only=True)
    random_label_model: RandomLabelModelSummary = field(kw_only=True)

    @classmethod
    def of_test(
        cls,
        result: SanityResult,
        runner_up_changed_ci: Interval,
        random_label_model: RandomLabelModelSummary,
    ) -> DataRandomizationSummary:
        return cls(
            **_test_fields(result),
            runner_up_changed_ci=runner_up_changed_ci,
            random_label_model=random_label_model,
        )


@dataclass
class SkippedTest:
    """A test that does not apply to the run, and why."""

    skipped: str


@dataclass
class SanityRuleSummary:
    """The :class:`~captum_contrastive.studies.sanity.SanityRule` of the verdicts,
    with its text."""

    measure: str
    threshold: float
    control: str
    text: str

    @classmethod
    def of(cls, rule: SanityRule) -> SanityRuleSummary:
        return cls(rule.measure, rule.threshold, rule.control, rule.describe())


@dataclass
class SanityExamples:
    """The example figure's maps.

    Attributes:
        indices, labels: the example images' dataset indices and classes.
        steps: the models, ``"0"`` (trained) then cascading steps.
        maps: per method, per image, per step, the ``(H, W)`` channel sum of
            ``|map|`` scaled to ``[0, 1]``.
    """

    indices: list[int]
    labels: list[int]
    steps: list[str]
    maps: dict[str, list[list[list[list[float]]]]]


@dataclass
class SanityCost:
    """What the sanity checks cost, as
    :meth:`~captum_contrastive.studies.sanity.SanityWork.cost` describes it, with
    the image count. ``cpu_seconds``, ``load_average`` and ``preemptions`` are
    ``None`` in results computed before they were recorded."""

    images: int
    unit: str
    threads: int
    cores: int | None
    seconds: dict[str, dict[str, float]]
    cpu_seconds: dict[str, dict[str, float]] | None = field(
        default=None, metadata=_OPTIONAL
    )
    load_average: dict[str, float | None] | None = field(
        default=None, metadata=_OPTIONAL
    )
    preemptions: dict[str, int | None] | None = field(default=None, metadata=_OPTIONAL)
    reused: dict[str, str] = field(default_factory=dict)


@dataclass
class SanitySettings:
    """The sanity unit's settings (its stage key's), ``images`` the images
    requested.

    Attributes:
        depth: the cascade's last numbered step (``None``: every layer).
        attribution_code: versions and digest of the attribution code.
        rule: ``(measure, threshold, control)`` of the rule.
        data_randomization: the random-label model's cache key parts, when the
            test is on (free-form: the key's parts).
    """

    images: int
    depth: int | None
    independent_layers: int
    attribution_code: dict[str, str]
    rule: tuple[str, float, str]
    batch_size: int
    seed: int
    n_resamples: int
    examples: int
    data_randomization: dict[str, Any] | None = field(default=None, metadata=_OPTIONAL)


@dataclass
class SanitySummary:
    """The sanity unit's summary in ``results.json``.

    Attributes:
        cascading, random_logit: the tests that always run.
        independent: the independent test (``None``: no layer chosen).
        runner_up_changed: per cascading step, the share of images whose
            runner-up class changed.
        rule: the verdicts' rule.
        verdicts: per method, its verdict on the cascading test.
        examples: the example figure's maps.
        data_randomization: the data-randomisation test (``None``: off;
            :class:`SkippedTest`: it does not apply to the model).
        cost: seconds per method and per model (``None`` in older results).
        settings: the unit's settings.
    """

    cascading: SanityTestSummary
    random_logit: SanityTestSummary
    independent: SanityTestSummary | None = field(default=None, metadata=_OPTIONAL)
    runner_up_changed: dict[str, Interval] = field(kw_only=True)
    rule: SanityRuleSummary = field(kw_only=True)
    verdicts: dict[str, SanityVerdict] = field(kw_only=True)
    examples: SanityExamples = field(kw_only=True)
    data_randomization: DataRandomizationSummary | SkippedTest | None = field(
        default=None, metadata=_OPTIONAL
    )
    cost: SanityCost | None = field(default=None, metadata=_OPTIONAL)
    settings: SanitySettings = field(kw_only=True)

    def tests(self) -> dict[str, SanityTestSummary]:
        """The tests that ran, by name, in the report's order (cascading,
        independent, random logit, data randomisation)."""
        found = {
            "cascading": self.cascading,
            "independent": self.independent,
            "random_logit": self.random_logit,
            "data_randomization": self.data_randomization,
        }
        return {
            name: test
            for name, test in found.items()
            if isinstance(test, SanityTestSummary)
        }
