"""``torch.compile``d models, reused across attribution methods as users do:
every registered method gives the eager result on every backend (inductor
where a C compiler is present). A model first used by Captum's Saliency and
IntegratedGradients once made Enhanced GBP fail ("donated buffers"), and
an override of that check gave wrong maps under inductor. TorchScript, whose
ReLUs cannot be guided, is refused before any work by the guided methods
(``test_model_checks.py``) and gives the eager result elsewhere."""

from __future__ import annotations

import shutil
import time
import warnings

import pytest
import torch
from captum.attr import IntegratedGradients, Saliency

from captum_contrastive import ContrastiveAttribution, EnhancedGuidedBackprop
from tests.attr.conformance.models import INPUT_FORMS
from tests.attr.conformance.registry import REGISTRY

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

BACKENDS = ("eager", "aot_eager", "inductor")
#: inductor compiles C++ for every graph, 48 s for four methods with a cold
#: cache: one method of each path it compiles differently, the guided backward
#: (GuidedBackprop) and the two backward passes (Enhanced GBP), after Saliency
INDUCTOR_METHODS = ("GuidedBackprop", "EnhancedGuidedBackprop")


def _inductor_available() -> bool:
    return shutil.which("gcc") is not None or shutil.which("cc") is not None


def _attribute(method: object, x: torch.Tensor) -> torch.Tensor:
    kwargs = {"target": 0}
    if isinstance(method, (ContrastiveAttribution, EnhancedGuidedBackprop)):
        kwargs["contrast_target"] = 5
    return method.attribute(x, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_module_reused_across_methods_gives_the_eager_result(
    backend: str,
) -> None:
    if backend == "inductor" and not _inductor_available():
        pytest.skip("inductor needs a C compiler")
    torch._dynamo.reset()
    form = INPUT_FORMS["tensor"]
    model, (x, _) = form.model(), form.inputs(4)
    compiled = torch.compile(form.model(), backend=backend)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the module is first used by Captum's own methods, then by ours
        Saliency(compiled).attribute(x, target=0)
        if backend != "inductor":
            IntegratedGradients(compiled).attribute(x, target=0, n_steps=4)
        for name, entry in REGISTRY.items():
            if backend == "inductor" and name not in INDUCTOR_METHODS:
                continue
            eager = _attribute(entry.build(model), x)
            result = _attribute(entry.build(compiled), x)
            torch.testing.assert_close(result, eager, rtol=1e-4, atol=1e-6, msg=name)
            again = _attribute(entry.build(compiled), x)  # the cached graph
            torch.testing.assert_close(again, eager, rtol=1e-4, atol=1e-6, msg=name)
    print(f"{backend}: {time.perf_counter() - start:.1f} s")
    torch._dynamo.reset()


def test_traced_model_gives_the_eager_result_for_plain_gradients() -> None:
    form = INPUT_FORMS["tensor"]
    model, (x, _) = form.model(), form.inputs(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, x)
    method = ContrastiveAttribution(Saliency(traced))
    torch.testing.assert_close(
        method.attribute(x, target=0, contrast_target=5),
        ContrastiveAttribution(Saliency(model)).attribute(
            x, target=0, contrast_target=5
        ),
    )
