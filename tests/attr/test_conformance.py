"""The Captum contract, generated: every public attribution class x every way
Captum users call it x every target form x batch sizes x input forms.

Oracles: for the drop-in replacements, Captum's own class on a model whose
ReLUs are ``nn.ReLU`` modules; for the contrastive methods, a per-example loop
written out in ``conformance/oracles.py``. Where the oracle refuses a call, the
method must refuse it too, with an error that names the argument. After every
call, accepted or refused, no hook is left on the model and no torch-function
mode is active. Run ``pytest tests/attr/test_conformance.py --co -q`` to see
the matrix's size.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from captum.attr import Attribution
from torch.overrides import _get_current_function_mode_stack

import captum_contrastive
from tests.attr.conformance.cases import (
    Case,
    InvalidCase,
    invalid_cases,
    valid_cases,
)
from tests.attr.conformance.compositions import COMPOSITIONS, Call
from tests.attr.conformance.forms import (
    CONTRASTS,
    INVALID_FORMS,
    SINGLE_CONTRAST,
    SINGLE_TARGET,
    TARGETS,
    VALID_FORMS,
    captum_value,
    classes_meant,
    form_value,
)
from tests.attr.conformance.models import INPUT_FORMS, all_hooks
from tests.attr.conformance.oracles import PerExampleOracle
from tests.attr.conformance.registry import REGISTRY, ConformanceMethod

pytestmark = pytest.mark.filterwarnings(
    "ignore:Input Tensor 0 did not already require gradients:UserWarning",
    "ignore:Setting backward hooks on ReLU activations:UserWarning",
    "ignore:.*not already require gradients:UserWarning",
)

VALID = valid_cases()
INVALID = invalid_cases()


def _assert_equal_to_oracle(result: Any, oracle: Any) -> None:
    """Equal up to float rounding: per-row and batched convolutions round
    differently, by about 1e-7 of the maps' scale. The tolerance is absolute,
    scaled to the maps, with a floor of 2e-6: vargrad subtracts the squares of
    maps of scale up to 2 (keras_reference), so float32's rounding of those
    squares (1.2e-7 x 4, over a few operations) shows in a far smaller
    difference. A wrong class or row changes the maps by their own scale."""
    results = result if isinstance(result, tuple) else (result,)
    oracles = oracle if isinstance(oracle, tuple) else (oracle,)
    for ours, expected in zip(results, oracles, strict=True):
        atol = max(2e-6 * float(expected.abs().max()), 2e-6)
        torch.testing.assert_close(ours, expected, rtol=1e-4, atol=atol)


def test_every_public_attribution_class_is_in_the_matrix() -> None:
    """A public class missing from the registry fails here: register it once in
    ``conformance/registry.py`` and every composition and form covers it."""
    form = INPUT_FORMS["tensor"]
    covered = {type(entry.build(form.model())) for entry in REGISTRY.values()}
    public = {
        value
        for name in captum_contrastive.__all__
        if isinstance(value := getattr(captum_contrastive, name), type)
        and issubclass(value, Attribution)
    }
    # ModifiedReluAttribution is the class GuidedBackprop and Deconvolution
    # only configure (their rule): its attribute is theirs.
    uncovered = {cls for cls in public if not any(issubclass(c, cls) for c in covered)}
    assert not uncovered, f"register these in the conformance matrix: {uncovered}"
    print(f"conformance matrix: {len(VALID)} valid cases, {len(INVALID)} refusals")


def _method_kwargs(
    entry: ConformanceMethod, case: Case, target: Any, contrast: Any, extra: Any
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"target": target, **entry.kwargs}
    if entry.contrastive:
        kwargs["contrast_target"] = contrast
    if extra is not None:
        kwargs["additional_forward_args"] = extra
    kwargs.update(COMPOSITIONS[case.composition].adds)
    return kwargs


def _assert_clean(model: torch.nn.Module, inputs: Any, copies: Any) -> None:
    assert list(all_hooks(model)) == [], "a hook was left on the model"
    assert not _get_current_function_mode_stack(), "a torch-function mode is left"
    tensors = inputs if isinstance(inputs, tuple) else (inputs,)
    for tensor, copy in zip(tensors, copies, strict=True):
        assert not tensor.requires_grad
        assert torch.equal(tensor, copy), "the inputs were modified"


def _run(method: Attribution, case: Case, call: Call) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return COMPOSITIONS[case.composition].run(method, call)


def _predicted(model: torch.nn.Module, inputs: Any, extra: Any) -> list[int]:
    arguments = inputs if isinstance(inputs, tuple) else (inputs,)
    with torch.no_grad():
        return model(*arguments, *(extra or ())).argmax(dim=1).tolist()


def _expected_refusal(entry: ConformanceMethod, case: Case, model) -> str | None:
    """The argument a contrastive case must be refused for, by the package's
    documented rules (the drop-ins ask Captum instead)."""
    if entry.layer_map and INPUT_FORMS[case.inputs].tensors > 1:
        return "inputs"
    added = COMPOSITIONS[case.composition].adds
    for argument in added:
        if not entry.accepts(argument, model):
            return argument
    return None


def _oracle_for_drop_in(entry, case, call, model, target_form) -> Any:
    twin = entry.captum_twin(model)
    kwargs = dict(call.kwargs)
    kwargs["target"] = captum_value(target_form, TARGETS, SINGLE_TARGET, case.batch)
    for argument in COMPOSITIONS[case.composition].adds:
        # Captum's twin lacks internal_batch_size, which only splits the work
        kwargs.pop(argument)
    inputs, _ = INPUT_FORMS[case.inputs].inputs(case.batch)  # Captum's own copy
    oracle_call = Call(model, inputs, kwargs, kwargs["target"])
    return _run(twin, case, oracle_call)


_ORACLES: dict[tuple, Any] = {}


def _oracle_for_contrastive(entry, case, call, model, target_form) -> Any:
    """The per-example loop's result, computed once per meaning: the forms of
    one class for all examples (int, NumPy, tensors) mean the same classes."""
    targets = classes_meant(target_form, TARGETS, SINGLE_TARGET, case.batch)
    contrast_form = VALID_FORMS[case.contrast]
    contrasts = classes_meant(contrast_form, CONTRASTS, SINGLE_CONTRAST, case.batch)
    key = (
        case.method,
        case.composition,
        case.batch,
        case.inputs,
        None if targets is None else tuple(targets),
        None if contrasts is None else tuple(contrasts),
    )
    if key not in _ORACLES:
        _ORACLES[key] = _per_example_loop(entry, case, call, model, targets, contrasts)
    return _ORACLES[key]


def _per_example_loop(entry, case, call, model, targets, contrasts) -> Any:
    oracle = PerExampleOracle(model, entry, case.batch, targets, contrasts)
    extra = call.kwargs.get("additional_forward_args")
    kwargs = {} if extra is None else {"additional_forward_args": extra}
    return _run(oracle, case, Call(model, call.inputs, kwargs, call.infidelity_target))


def _assert_refused(error: BaseException, argument: str) -> None:
    assert isinstance(error, (ValueError, TypeError)), repr(error)
    assert argument in str(error), f"the error does not name `{argument}`: {error}"


@pytest.mark.parametrize("case", VALID, ids=[c.id for c in VALID])
def test_conformance(case: Case) -> None:
    entry = REGISTRY[case.method]
    form = INPUT_FORMS[case.inputs]
    model = form.model()
    inputs, extra = form.inputs(case.batch)
    copies = tuple(
        t.clone() for t in (inputs if isinstance(inputs, tuple) else (inputs,))
    )
    target_form = VALID_FORMS[case.target]
    target = form_value(target_form, TARGETS, SINGLE_TARGET, case.batch)
    contrast = None
    if entry.contrastive:
        contrast = form_value(
            VALID_FORMS[case.contrast], CONTRASTS, SINGLE_CONTRAST, case.batch
        )
    kwargs = _method_kwargs(entry, case, target, contrast, extra)
    meant = classes_meant(target_form, TARGETS, SINGLE_TARGET, case.batch)
    infidelity_target = meant if meant is not None else _predicted(model, inputs, extra)
    call = Call(model, inputs, kwargs, infidelity_target)

    if entry.contrastive:
        refusal = _expected_refusal(entry, case, model)
        oracle = None
        if refusal is None:
            oracle = _oracle_for_contrastive(entry, case, call, model, target_form)
    else:
        refusal = None
        try:
            oracle = _oracle_for_drop_in(entry, case, call, model, target_form)
        except (AssertionError, ValueError, TypeError, RuntimeError, IndexError):
            refusal = "target"  # Captum refuses the target form (None)

    method = entry.build(model)
    if refusal is not None:
        with pytest.raises((ValueError, TypeError)) as raised:
            _run(method, case, call)
        _assert_refused(raised.value, refusal)
    else:
        result = _run(method, case, call)
        _assert_equal_to_oracle(result, oracle)
        results = result if isinstance(result, tuple) else (result,)
        assert all(bool(torch.isfinite(r).all()) for r in results)
    _assert_clean(model, inputs, copies)


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_wrong_forms_are_refused_naming_the_argument(case: InvalidCase) -> None:
    entry = REGISTRY[case.method]
    form = INPUT_FORMS["tensor"]
    model = form.model()
    inputs, _ = form.inputs(4)
    classes = TARGETS if case.argument == "target" else CONTRASTS
    wrong = INVALID_FORMS[case.form](classes)
    kwargs: dict[str, Any] = {"target": SINGLE_TARGET, **entry.kwargs}
    if entry.contrastive:
        kwargs["contrast_target"] = SINGLE_CONTRAST
    kwargs[case.argument] = wrong
    call = Call(model, inputs, kwargs, None)
    if entry.captum_twin is not None:
        captum_call = Call(model, form.inputs(4)[0], kwargs, None)
        with pytest.raises(Exception):  # noqa: B017, PT011 - Captum refuses it too
            _run(entry.captum_twin(model), case, captum_call)
    with pytest.raises((ValueError, TypeError)) as raised:
        _run(entry.build(model), case, call)
    _assert_refused(raised.value, f"`{case.argument}`")
    _assert_clean(model, inputs, (inputs.clone(),))
