"""The adversarial-discriminativity study's summary, typed.

:func:`~captum_contrastive.studies.adversarial.adversarial_discriminativity`
returns plain JSON values (``results.json``'s ``adversarial`` entry, one per
attack run); :class:`AdversarialRunSummary` is the same tree with names, read
with :func:`~captum_contrastive.typed_json.from_json` and written back with
:func:`~captum_contrastive.typed_json.to_json` into the same keys, in the same
order. Parts a run may lack (a control, the failed group, the comparisons) are
``None`` and left out of the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from captum_contrastive.metrics.intervals import Interval, ReferenceComparison

__all__ = [
    "AdversarialRunSummary",
    "AdversarialSummary",
    "AttackGroups",
    "MapChange",
    "MapSimilarity",
    "OutcomeSimilarity",
    "RandomMaps",
    "RunnerUpShare",
]

_OMIT = {"omit_none": True}


@dataclass(frozen=True)
class MapSimilarity:
    """How alike two maps of the same images are.

    Attributes:
        spearman: Spearman's rho over the pixels of the channel-summed maps.
        iou: the IoU of their top-q pixels.
        change: ``1 - mean rho`` (NaN for an empty group).
    """

    spearman: Interval
    iou: Interval
    change: float


@dataclass(frozen=True)
class OutcomeSimilarity:
    """One comparison split by the attack's outcome.

    Attributes:
        adv_s: the images the attack fooled (re-verified).
        adv_f: the images it did not fool (only for the main comparison).
    """

    adv_s: MapSimilarity
    adv_f: MapSimilarity | None = field(default=None, metadata=_OMIT)

    def groups(self) -> dict[str, MapSimilarity]:
        """The groups present, by name (``"adv_s"``, ``"adv_f"``)."""
        return _present(self)


@dataclass(frozen=True)
class MapChange:
    """One method's map compared across conditions (see
    :data:`~captum_contrastive.studies.adversarial.COMPARISONS`).

    Attributes:
        main: clean image @ clean prediction vs adversarial image @
            adversarial prediction.
        class_only, input_only, noise: the controls (``None`` on runs without
            them).
    """

    main: OutcomeSimilarity
    class_only: OutcomeSimilarity | None = field(default=None, metadata=_OMIT)
    input_only: OutcomeSimilarity | None = field(default=None, metadata=_OMIT)
    noise: OutcomeSimilarity | None = field(default=None, metadata=_OMIT)

    def comparisons(self) -> dict[str, OutcomeSimilarity]:
        """The comparisons present, by name, in the study's order."""
        return _present(self)


@dataclass(frozen=True)
class AttackGroups:
    """How many images the attack fooled (``adv_s``) and did not (``adv_f``)."""

    adv_s: int
    adv_f: int


@dataclass(frozen=True)
class RandomMaps:
    """Two independent random maps per image: the floor of each measure."""

    spearman: Interval
    iou: Interval


@dataclass(frozen=True)
class RunnerUpShare:
    """How often the clean runner-up class is the adversarial class, over the
    ``n`` fooled images."""

    share: float
    n: int


@dataclass(frozen=True)
class AdversarialRunSummary:
    """The adversarial-discriminativity study on one attack run.

    Attributes:
        protocol: each comparison and measure in words (free-form text).
        groups: the sizes of the Adv_s and Adv_f groups.
        methods: per method, its map change.
        random_maps: the random-map floor.
        runner_up_is_adversarial_class: the share of fooled images whose clean
            runner-up is the adversarial class (``None``: not measured).
        comparisons: each method's main Adv_s rho against the reference's,
            paired and Holm-corrected (``None``: fewer than 2 fooled images or
            no reference).
        noise_prediction_unchanged: the share of images whose prediction the
            equal-norm noise left unchanged (``None``: no noise control).
    """

    protocol: dict[str, str]
    groups: AttackGroups
    methods: dict[str, MapChange]
    random_maps: RandomMaps
    runner_up_is_adversarial_class: RunnerUpShare | None = field(
        default=None, metadata=_OMIT
    )
    comparisons: list[ReferenceComparison] | None = field(default=None, metadata=_OMIT)
    noise_prediction_unchanged: float | None = field(default=None, metadata=_OMIT)


#: The study's summary: attack run -> its summary.
AdversarialSummary = dict[str, AdversarialRunSummary]


def _present(value: object) -> dict:
    """``value``'s fields that are not ``None``, by name, in declaration order."""
    found = {f.name: getattr(value, f.name) for f in fields(value)}  # type: ignore[arg-type]
    return {name: item for name, item in found.items() if item is not None}
