"""The sanity checks (Adebayo et al., 2018) as a unit: is each map about the model?

On the first ``sanity_images`` selected clean images, every method of the run is
compared with itself after model-parameter randomisation (cascading from the
logits to ``sanity_depth`` and ``all``; independent, one layer at a time) and
with the map of a random other class (RandomLogit, Sixt et al. 2020). With
``sanity_data_randomization`` on the shapes preset, they are also compared with
the maps of the same architecture retrained on permuted labels (data
randomisation); that model is trained once and cached in the run's cache under a
key of its training settings, seed and code. The maps are computed here, on
randomised copies of the model, not taken from the run's map store; the study
key holds the methods' keys and the attribution code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_contrastive import plots
from captum_contrastive.fingerprint import code_digest
from captum_contrastive.metrics import bootstrap_ci
from captum_contrastive.metrics.intervals import Interval
from captum_contrastive.pipeline.cache import StageCache, StageKey
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.memory_plan import forward_batch
from captum_contrastive.pipeline.stages import attribution_code
from captum_contrastive.pipeline.units.base import (
    ReportSection,
    RunData,
    StudyResult,
    StudyUnit,
    SummaryRow,
    json_ready,
    register_unit,
    table,
)
from captum_contrastive.presets.base import Normalize, Preset
from captum_contrastive.presets.shapes_random_labels import (
    RandomLabelModel,
    RandomLabelSettings,
    train_random_label_model,
)
from captum_contrastive.studies.sanity import (
    ALL,
    FIXED_CONTRAST_SUFFIX,
    MEAN,
    MODELS_COST,
    SIMILARITY_COST,
    SanityResult,
    SanityRule,
    SanityWork,
    cascading_randomization,
    cascading_steps,
    data_randomization,
    independent_randomization,
    parameterized_layers,
    random_logit,
    sanity_verdict,
    trained_model_maps,
)
from captum_contrastive.studies.sanity_summary import (
    DataRandomizationSummary,
    RandomLabelModelSummary,
    SanityCost,
    SanityExamples,
    SanityRuleSummary,
    SanitySettings,
    SanitySummary,
    SanityTestSummary,
    SkippedTest,
)
from captum_contrastive.studies.verdicts import format_ci
from captum_contrastive.typed_json import from_json, to_json

__all__ = [
    "RANDOM_LABEL_SETTINGS",
    "SanityUnit",
    "cost_table",
    "data_randomization_skip",
    "evenly_spaced_layers",
    "load_or_train_random_label_model",
    "random_label_key",
]

#: Images whose maps are drawn in the example figure.
EXAMPLE_IMAGES = 1
#: The longest side of an example map stored in ``results.json``.
EXAMPLE_SIZE = 64
#: The study's name in ``summary.csv``.
STUDY = "sanity"
#: The ``method`` column of the runner-up change rows.
RUNNER_UP = "runner-up class"
#: The random-label model's training (data randomisation), seeded by the run.
RANDOM_LABEL_SETTINGS = RandomLabelSettings()
#: The cache stage of the random-label model.
RANDOM_LABEL_STAGE = "random_label_model"
#: Below this train accuracy on its permuted labels, the random-label model has
#: not memorised them, and the report says so.
MEMORISED = 0.9
#: The data-randomisation test's name (results, records and rows).
DATA_RANDOMIZATION = "data_randomization"


def random_label_key(settings: RandomLabelSettings, seed: int) -> StageKey:
    """The cache key of the random-label model: every training setting, the
    seed, the torch version and a digest of the training code (and of the
    model and the images it trains on)."""
    from captum_contrastive.presets import (
        shapes,
        shapes_model,
        shapes_random_labels,
        shapes_training,
    )

    code = code_digest(shapes_random_labels, shapes_training, shapes_model, shapes)
    return StageKey(
        RANDOM_LABEL_STAGE,
        {
            "settings": settings.to_json(),
            "seed": int(seed),
            "code": code,
            "torch": str(torch.__version__),
        },
    )


def load_or_train_random_label_model(
    cache_root: str | Path,
    settings: RandomLabelSettings,
    seed: int,
    functional_relu: bool = False,
) -> tuple[RandomLabelModel, StageKey]:
    """The random-label model from ``cache_root``, trained and stored when the
    key (:func:`random_label_key`) has no verified entry; the model is on the
    CPU, in eval mode."""
    key = random_label_key(settings, seed)

    def train(_: list[int]) -> dict[str, Any]:
        trained = train_random_label_model(seed, settings)
        return {"state": dict(trained.model.state_dict()), "metrics": trained.metrics}

    stored = StageCache(cache_root, key).load_or_compute([], train)
    model = settings.build_model(functional_relu)
    model.load_state_dict(stored["state"])
    return RandomLabelModel(model.eval(), stored["metrics"]), key


def data_randomization_skip(config: BenchmarkConfig, preset: Preset) -> str | None:
    """Why the data-randomisation test does not apply to this run (``None``: it
    applies): it retrains the model, and only the shapes preset has a recipe."""
    from captum_contrastive.presets.shapes_model import ShapesVGG

    shapes = config.model is None and config.preset == "shapes"
    if shapes and preset.name == "shapes" and isinstance(preset.model, ShapesVGG):
        return None
    name = config.model or preset.name
    return (
        "it retrains the model on permuted labels, and only the shapes preset "
        f"has a training recipe here (this run's model: {name})"
    )


def evenly_spaced_layers(names: list[str], count: int) -> list[str]:
    """``count`` of ``names`` (ordered from the logits), evenly spaced, the first
    and the last included; all of them when there are fewer.

    Examples::

        >>> evenly_spaced_layers(["fc", "c3", "c2", "c1", "c0"], 3)
        ['fc', 'c2', 'c0']
    """
    if count <= 0 or not names:
        return []
    if count >= len(names):
        return list(names)
    if count == 1:
        return [names[0]]
    positions = np.linspace(0, len(names) - 1, count).round().astype(int)
    return [names[p] for p in dict.fromkeys(positions.tolist())]


def _num_classes(model: nn.Module, image: Tensor) -> int:
    with torch.no_grad():
        return int(model(image[None]).shape[1])


def _example_map(maps: Tensor) -> list:
    """Channel sum of ``|map|``, at most :data:`EXAMPLE_SIZE` pixels a side,
    scaled to ``[0, 1]`` per image."""
    spatial = maps.detach().float().abs().sum(dim=1, keepdim=True).cpu()
    height, width = spatial.shape[-2:]
    scale = EXAMPLE_SIZE / max(height, width)
    if scale < 1:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        spatial = F.adaptive_avg_pool2d(spatial, size)
    peak = spatial.flatten(1).amax(dim=1).clamp_min(1e-12)
    return (spatial[:, 0] / peak[:, None, None]).numpy().round(4).tolist()


def _example_steps(cascade: dict[str, list[str]]) -> dict[str, list[str]]:
    """The example figure's steps: the trained model (``"0"``), the first and
    the middle numbered cascading steps, and ``"all"``, with their layers."""
    numbered = [s for s in cascade if s not in (ALL, "0")]
    chosen = dict.fromkeys(
        [numbered[0], numbered[len(numbered) // 2]] if numbered else []
    )
    return {"0": [], **{s: cascade[s] for s in chosen}, ALL: cascade[ALL]}


@register_unit
class SanityUnit(StudyUnit):
    """Model-parameter randomisation, cascading and independent, and RandomLogit."""

    name = "sanity"
    command = "sanity"
    description = "Sanity checks: model-parameter randomisation and RandomLogit."
    default_out = "results/sanity"
    title = "Sanity checks"
    summary_type = SanitySummary
    relative_cost = 26.0

    def rule(self) -> SanityRule:
        return SanityRule()

    def settings(self) -> dict[str, Any]:
        c = self.config
        rule = self.rule()
        return {
            "images": c.sanity_images,
            "depth": c.sanity_depth,
            "independent_layers": c.sanity_independent_layers,
            "attribution_code": attribution_code(),
            "rule": [rule.measure, rule.threshold, rule.control],
            "batch_size": c.shard_size,
            "seed": c.seed,
            "n_resamples": c.n_resamples,
            "examples": EXAMPLE_IMAGES,
            **self._data_randomization_settings(),
        }

    def _data_randomization_settings(self) -> dict[str, Any]:
        """Nothing when the test is off (the default run's key is unchanged)."""
        c = self.config
        if not c.sanity_data_randomization:
            return {}
        key = random_label_key(RANDOM_LABEL_SETTINGS, c.seed)
        return {DATA_RANDOMIZATION: key.parts}

    def evaluate(self, data: RunData) -> StudyResult:
        c = self.config
        k = min(c.sanity_images, len(data.selection.indices))
        model = data.context.model
        images = data.images[:k].to(data.context.device)
        targets, indices = data.labels[:k], data.selection.indices[:k]
        specs = {m: data.specs[m] for m in c.methods}
        # Forward passes (the runner-up classes) of at most the memory plan's
        # forward rows; the maps' passes are bounded by their own settings.
        batch = forward_batch([s.settings for s in specs.values()], c.shard_size)
        names = [name for name, _ in parameterized_layers(model)]
        work = SanityWork(example_images=min(EXAMPLE_IMAGES, k))
        example_steps = _example_steps(cascading_steps(names, c.sanity_depth))
        for layers in example_steps.values():
            work.keep(layers)
        trained = trained_model_maps(
            model, images, targets, indices, specs, c.seed, batch_size=batch, work=work
        )
        common = dict(
            seed=c.seed,
            batch_size=batch,
            n_resamples=c.n_resamples,
            trained_maps=trained,
            work=work,
        )
        tests = {
            "cascading": cascading_randomization(
                model, images, targets, indices, specs, depth=c.sanity_depth, **common
            ),
            "random_logit": random_logit(
                model,
                images,
                targets,
                indices,
                specs,
                num_classes=_num_classes(model, images[0]),
                **common,
            ),
        }
        layers = evenly_spaced_layers(names, c.sanity_independent_layers)
        if layers:
            tests["independent"] = independent_randomization(
                model, images, targets, indices, specs, layers=layers, **common
            )
        entry = None
        if c.sanity_data_randomization:
            found, entry = self._data_randomization(
                data, images, targets, specs, common
            )
            if found is not None:
                tests[DATA_RANDOMIZATION] = found
        examples = self._examples(data, targets, example_steps, work)
        summary = self._summary(tests, entry, examples, work, k)
        records = {
            name: {
                "records": result.records,
                "runner_up_changed": result.runner_up_changed,
            }
            for name, result in tests.items()
        }
        return StudyResult(self.name, "", summary, json_ready(records))

    def _summary(
        self,
        tests: dict[str, SanityResult],
        entry: DataRandomizationSummary | SkippedTest | None,
        examples: SanityExamples,
        work: SanityWork,
        images: int,
    ) -> SanitySummary:
        """The summary of the tests (``entry``: the data-randomisation test's)
        on ``images`` images, with the example maps and the cost of ``work``."""
        cascading, independent = tests["cascading"], tests.get("independent")
        rule = self.rule()
        return SanitySummary(
            cascading=SanityTestSummary.of(cascading),
            random_logit=SanityTestSummary.of(tests["random_logit"]),
            independent=None
            if independent is None
            else SanityTestSummary.of(independent),
            runner_up_changed={
                step: self._share_interval(changed)
                for step, changed in cascading.runner_up_changed.items()
            },
            rule=SanityRuleSummary.of(rule),
            verdicts=sanity_verdict(cascading, rule),
            examples=examples,
            data_randomization=entry,
            cost=from_json(SanityCost, json_ready({"images": images, **work.cost()})),
            settings=from_json(SanitySettings, {"images": images, **self.settings()}),
        )

    def _share_interval(self, changed: list[bool]) -> Interval:
        """The interval of the share of images whose runner-up changed."""
        values = np.asarray(changed, dtype=np.float64)
        c = self.config
        return Interval.of(bootstrap_ci(values, c.n_resamples, seed=c.seed))

    def _data_randomization(
        self,
        data: RunData,
        images: Tensor,
        targets: Tensor,
        specs: dict[str, Any],
        common: dict[str, Any],
    ) -> tuple[SanityResult | None, DataRandomizationSummary | SkippedTest]:
        """The test's result and summary entry; ``(None, SkippedTest(why))`` on
        a model it does not apply to."""
        preset = data.context.preset
        reason = data_randomization_skip(self.config, preset)
        if reason is not None:
            return None, SkippedTest(reason)
        trained, key = load_or_train_random_label_model(
            data.context.cache_root,
            RANDOM_LABEL_SETTINGS,
            self.config.seed,
            functional_relu=bool(getattr(preset.model, "functional_relu", False)),
        )
        random_model = nn.Sequential(Normalize(preset.mean, preset.std), trained.model)
        random_model = random_model.to(data.context.device).eval()
        indices = data.selection.indices[: images.shape[0]]
        result = data_randomization(
            data.context.model, random_model, images, targets, indices, specs, **common
        )
        changed = result.runner_up_changed[DATA_RANDOMIZATION]
        metrics = {k: v for k, v in trained.metrics.items() if k != "history"}
        model = from_json(RandomLabelModelSummary, {"key": key.digest, **metrics})
        entry = DataRandomizationSummary.of_test(
            result, self._share_interval(changed), model
        )
        return result, entry

    def _examples(
        self,
        data: RunData,
        targets: Tensor,
        steps: dict[str, list[str]],
        work: SanityWork,
    ) -> SanityExamples:
        """Maps of the first images: trained model, then a few cascading steps,
        kept by the tests while they computed them (:meth:`SanityWork.keep`)."""
        n = work.example_images
        maps = {
            name: [
                [
                    _example_map(work.kept(layers)[name][i : i + 1])[0]
                    for layers in steps.values()
                ]
                for i in range(n)
            ]
            for name in self.config.methods
        }
        return SanityExamples(
            indices=[int(i) for i in data.selection.indices[:n]],
            labels=targets[:n].tolist(),
            steps=list(steps),
            maps=maps,
        )

    def render(self, result: StudyResult, out: Path) -> ReportSection:
        summary: SanitySummary = result.summary
        section = ReportSection()
        if not summary:
            return section
        section.rows = _rows(summary)
        section.markdown = "\n".join(
            [
                self._heading(summary),
                self._verdict_table(summary),
                self._independent_table(summary),
                self._random_logit_table(summary),
                self._data_randomization_table(summary),
                cost_table(summary),
            ]
        )
        section.figures = self.figures(result, out)
        section.caveats += self._caveats(summary)
        return section

    def figures(self, result: StudyResult, out: Path) -> dict[str, list[Path]]:
        """Similarity against the randomised depth, and example maps per step
        (the plots read the summary as ``results.json`` holds it)."""
        if not result.summary:
            return {}
        summary = to_json(result.summary)
        cascade = plots.plot_sanity_cascade(summary, out / "sanity_cascading")
        examples = plots.plot_sanity_examples(summary, out / "sanity_examples")
        return {"sanity": cascade.paths + examples.paths}

    def terminal_columns(self, result: StudyResult) -> dict[str, dict[str, str]]:
        """Each of the run's methods' verdict on the cascading test (not the
        fixed-contrast entries, which are no method of the run)."""
        if not result.summary or not result.summary.verdicts:
            return {}
        verdicts = result.summary.verdicts
        methods = [m for m in self.config.methods if m in verdicts]
        return {"sanity": {method: verdicts[method].verdict for method in methods}}

    def protocol(self, result: StudyResult) -> dict[str, Any]:
        """The protocols of the model-randomisation and random-logit tests."""
        summary: SanitySummary = result.summary
        if not summary:
            return {}
        tests = {
            "cascading": summary.cascading,
            "independent": summary.independent,
            "random_logit": summary.random_logit,
        }
        return {name: t.protocol for name, t in tests.items() if t is not None}

    def _heading(self, summary: SanitySummary) -> str:
        settings = summary.settings
        steps = list(summary.cascading.steps)
        layers = summary.cascading.layers
        changed = summary.runner_up_changed
        return (
            "## Sanity checks: do the maps depend on the model? "
            "(Adebayo et al., 2018)\n\n"
            f"{settings.images} clean images (the first of the selection). "
            f"Cascading randomisation re-initialises the top K of the model's "
            f"{len(layers)} parameterized layers, counted from the logits, for "
            f"K = {', '.join(steps)} (the depth is bounded by `sanity_depth` = "
            f"{settings.depth}); each map is compared with the trained model's "
            "map of the same image and class. Contrastive methods are shown twice: "
            "with the randomised model's own runner-up as contrast, and with the "
            "trained model's runner-up held fixed "
            f"(`{FIXED_CONTRAST_SUFFIX.strip()}`). The runner-up class changed "
            f"on {format_ci(changed.get('1'))} of the images at @1 and on "
            f"{format_ci(changed.get(ALL))} at @all.\n\n"
            f"**Rule:** {summary.rule.text}.\n"
        )

    def _verdict_table(self, summary: SanitySummary) -> str:
        intervals = summary.cascading.intervals
        rule = summary.rule.measure
        base = rule.split("@")[0]
        rows = []
        for method, verdict in summary.verdicts.items():
            values = intervals[method]
            rows.append(
                [
                    method,
                    verdict.verdict + (" (control)" if verdict.control else ""),
                    format_ci(values.get(rule)),
                    format_ci(values.get(f"{base}@1")),
                    format_ci(values.get(f"{base}@{ALL}")),
                    format_ci(values.get(f"cascading_ssim@{MEAN}")),
                    format_ci(values.get(f"cascading_iou@{MEAN}")),
                ]
            )
        header = ["method", "verdict", rule, "@1", "@all", "ssim@mean", "iou@mean"]
        return "\n" + table(header, rows) + "\n"

    def _independent_table(self, summary: SanitySummary) -> str:
        independent = summary.independent
        if independent is None:
            return ""
        layers = list(independent.steps)
        rows = [
            [method]
            + [
                format_ci(v.get(f"independent_spearman_abs@{layer}"))
                for layer in layers
            ]
            for method, v in independent.intervals.items()
        ]
        return (
            "\nIndependent randomisation (one layer re-initialised, the others "
            "trained), `spearman_abs`:\n\n" + table(["method"] + layers, rows) + "\n"
        )

    def _random_logit_table(self, summary: SanitySummary) -> str:
        logit = summary.random_logit.intervals
        measures = ["spearman", "spearman_abs", "ssim", "iou"]
        rows = [
            [method] + [format_ci(v.get(f"random_logit_{m}")) for m in measures]
            for method, v in logit.items()
        ]
        return (
            "\nRandomLogit (Sixt et al., 2020): the map of the explained class "
            "against the map of a random other class (low: class-sensitive):\n\n"
            + table(["method"] + measures, rows)
            + "\n"
        )

    def _data_randomization_table(self, summary: SanitySummary) -> str:
        entry = summary.data_randomization
        title = "\nData randomisation (Adebayo et al., 2018): "
        if entry is None:
            return (
                f"{title}not run in this configuration; it retrains the shapes "
                "model on permuted labels (about 70 s of CPU time on one thread) "
                "and runs with `--full` or `--sanity-data-randomization`.\n"
            )
        if isinstance(entry, SkippedTest):
            return f"{title}not evaluated: {entry.skipped}.\n"
        model = entry.random_label_model
        settings = model.settings
        measures = ["spearman_abs", "ssim", "iou"]
        rows = [
            [method] + [format_ci(v.get(f"{DATA_RANDOMIZATION}_{m}")) for m in measures]
            for method, v in entry.intervals.items()
        ]
        return (
            f"{title}the maps of the trained model against those of the same "
            f"architecture retrained on {settings.train_size} training images "
            f"with permuted labels ({settings.epochs} epochs, seed "
            f"{model.seed}): train accuracy on the permuted labels "
            f"{model.train_accuracy:.3f}, test accuracy on the true labels "
            f"{model.test_top1:.3f} (chance {model.chance:.3f}); trained in "
            f"{model.train_seconds:.0f} s ({model.train_cpu_seconds:.0f} s "
            f"CPU, torch threads: {settings.num_threads}). Low similarity: the map "
            "depends on what the model learned from the labels. The runner-up "
            f"class changed on {format_ci(entry.runner_up_changed_ci)} of the "
            "images.\n\n" + table(["method"] + measures, rows) + "\n"
        )

    def _caveats(self, summary: SanitySummary) -> list[str]:
        caveats = [
            "The sanity checks randomise the weights of the trained model; maps "
            "that stay similar are explained by the input and the architecture "
            "rather than by what the model learned. The depth and image count are "
            f"bounded ({summary.settings.images} images, "
            f"`sanity_depth` = {summary.settings.depth}) to keep the default "
            "run short; raise them for a paper."
        ]
        entry = summary.data_randomization
        if (
            isinstance(entry, DataRandomizationSummary)
            and entry.random_label_model.train_accuracy < MEMORISED
        ):
            caveats.append(
                "The random-label model fitted only "
                f"{entry.random_label_model.train_accuracy:.0%} of its permuted "
                f"training labels (below {MEMORISED:.0%}): it has not memorised "
                "them, so the data-randomisation test compares with a partly "
                "trained network."
            )
        control = summary.verdicts.get(summary.rule.control)
        if control is not None and control.verdict != "fails":
            caveats.append(
                f"The known-failing control {control.method} did not fail "
                f"({control.verdict}): the check lacks power on this model and "
                "data, so no pass can be trusted."
            )
        return caveats


def cost_table(summary: SanitySummary) -> str:
    """The report's cost paragraph: seconds per method (rows) and per model the
    maps were computed on (columns: the trained model, each cascading and
    independent step, the random logit), with totals; ``""`` for a result
    without costs (computed before they were recorded)."""
    cost = summary.cost
    if cost is None:
        return ""
    seconds, reused = cost.seconds, cost.reused
    columns = list(seconds)
    entries = list(
        dict.fromkeys(e for c in seconds.values() for e in c if e not in _OVERHEADS)
    )
    entries += [e for e in _OVERHEADS if any(e in c for c in seconds.values())]

    def cell(column: str, entry: str) -> str:
        if column in reused:
            return "reused"
        value = seconds[column].get(entry)
        return "" if value is None else f"{value:.2f}"

    rows = [
        [entry]
        + [cell(column, entry) for column in columns]
        + [f"{sum(c.get(entry, 0.0) for c in seconds.values()):.2f}"]
        for entry in entries
    ]
    totals = [
        "reused" if c in reused else f"{sum(seconds[c].values()):.2f}" for c in columns
    ]
    grand = sum(sum(c.values()) for c in seconds.values())
    rows.append(["total"] + totals + [f"{grand:.2f}"])
    rows += _contention_rows(cost, columns)
    layers = summary.cascading.steps
    added = [
        f"@{step}: {layers[step][-1]}" for step in layers if step not in ("0", ALL)
    ]
    notes = [f"{c} reuses {reused[c]} (the same randomised model)" for c in reused]
    return (
        f"\nCost of the sanity checks: seconds of {cost.images} images with "
        f"{cost.threads} torch thread(s), per method and per model the maps were "
        "computed on (`trained`; each cascading step, which adds the layer "
        f"{', '.join(added) or 'none'} and then every layer at @all; each "
        "independently randomised layer; the random logit). A fixed-contrast entry "
        "costs nothing where the randomised model's runner-up equals the trained "
        "model's for every image (the same maps). "
        f"{'; '.join(notes) + '.' if notes else ''}{_contention_note(cost)}\n\n"
        + table(["entry"] + columns + ["total"], rows)
        + "\n"
    )


def _contention_rows(cost: SanityCost, columns: list[str]) -> list[list[str]]:
    """The cost table's last rows: per column, the CPU seconds of all threads
    and the load average when it started (absent from older results)."""
    cpu, load = cost.cpu_seconds, cost.load_average
    rows = []
    if cpu is not None:
        grand = sum(sum(c.values()) for c in cpu.values())
        cells = [
            "reused" if c in cost.reused else f"{sum(cpu.get(c, {}).values()):.2f}"
            for c in columns
        ]
        rows.append([CPU_ROW] + cells + [f"{grand:.2f}"])
    if load is not None:
        cells = ["" if load.get(c) is None else f"{load[c]:.1f}" for c in columns]
        rows.append([LOAD_ROW] + cells + [""])
    switches = cost.preemptions
    if switches is not None:
        wall = cost.seconds
        cells = [
            ""
            if switches.get(c) is None or not sum(wall[c].values())
            else f"{switches[c] / sum(wall[c].values()):.0f}"
            for c in columns
        ]
        rows.append([PREEMPTION_ROW] + cells + [""])
    return rows


def _contention_note(cost: SanityCost) -> str:
    if cost.load_average is None:
        return ""
    return (
        " The seconds are wall-clock; the last rows give each column's CPU "
        "seconds (all threads of the process) and the system's 1-minute load "
        f"average when the column started, on {cost.cores} core(s): a "
        "column run at a load above the cores shared them with other processes: "
        "its wall seconds overstate the cost, and with more than one torch "
        "thread its CPU seconds too (the OpenMP threads spin while they wait "
        "for a core); with one thread, the CPU seconds hold. The load average "
        "counts this run's own threads and lags by about a minute; the "
        "preemptions (involuntary context switches of the process, per second "
        "of the column) do not: a few dozen a second on a free machine, "
        "hundreds when other processes compete for the cores."
    )


#: The cost table's row of each column's CPU seconds, all threads.
CPU_ROW = "total CPU seconds (all threads)"
#: The cost table's row of the load average at each column's start.
LOAD_ROW = "load average at start"

#: The cost table's row of each column's involuntary context switches a second.
PREEMPTION_ROW = "preemptions per second"

#: The cost table's rows that are no method, last.
_OVERHEADS = (SIMILARITY_COST, MODELS_COST)


def _rows(summary: SanitySummary) -> list[SummaryRow]:
    rows = [
        SummaryRow(STUDY, "", method, measure, interval.to_json())
        for test in summary.tests().values()
        for method, measures in test.intervals.items()
        for measure, interval in measures.items()
    ]
    for step, interval in summary.runner_up_changed.items():
        measure = f"runner_up_changed@{step}"
        rows.append(SummaryRow(STUDY, "", RUNNER_UP, measure, interval.to_json()))
    entry = summary.data_randomization
    if isinstance(entry, DataRandomizationSummary):
        measure = f"runner_up_changed@{DATA_RANDOMIZATION}"
        changed = entry.runner_up_changed_ci.to_json()
        rows.append(SummaryRow(STUDY, "", RUNNER_UP, measure, changed))
    return rows
