"""The guided-ReLU engine: a context manager that changes how every ReLU backpropagates.

Captum's ``GuidedBackprop`` hooks ``nn.ReLU`` modules, which misses functional ReLUs
(``F.relu``, ``torch.relu``, ``Tensor.relu``, ``relu_``), mis-handles a ReLU whose input
is used elsewhere, and crashes on a ReLU over a tensor that needs no grad. This engine
intercepts the ReLU *calls* with a :class:`torch.overrides.TorchFunctionMode` and
routes each one through an :class:`torch.autograd.Function` whose backward applies the
rule to that call's own gradient only. ``nn.ReLU`` (in-place or not) calls ``F.relu``,
so modules are covered by the same path.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

__all__ = [
    "ReluRule",
    "TorchScriptError",
    "TorchScriptWarning",
    "UnsupportedActivationError",
    "UnsupportedActivationWarning",
    "check_not_torchscript",
    "find_torchscript",
    "guided_relu",
    "handwritten_relu_input",
]


class ReluRule(str, enum.Enum):
    """How a ReLU passes the gradient ``grad`` back to its input ``x``.

    ``GUIDED``: ``grad * 1[x > 0] * 1[grad > 0]`` (Springenberg et al., 2014).
    ``DECONVNET``: ``grad * 1[grad > 0]`` (Zeiler & Fergus, 2014).
    """

    GUIDED = "guided"
    DECONVNET = "deconvnet"


class UnsupportedActivationWarning(UserWarning):
    """An activation that the guided rule is not defined for ran inside the engine."""


class UnsupportedActivationError(RuntimeError):
    """Raised instead of :class:`UnsupportedActivationWarning` when ``strict=True``."""


class TorchScriptWarning(UserWarning):
    """The model is (or holds) a TorchScript module, which the engine cannot guide."""


class TorchScriptError(RuntimeError):
    """Raised instead of :class:`TorchScriptWarning` when ``strict=True``."""


def _scripted_callable_name(model: object) -> str | None:
    if isinstance(model, torch.jit.ScriptFunction):
        return f"TorchScript function {model.name!r}"
    if isinstance(model, torch.ScriptMethod):
        return f"TorchScript method {model.name!r}"
    return None


def _module_of(model: object) -> nn.Module | None:
    if isinstance(model, nn.Module):
        return model
    owner = getattr(model, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def find_torchscript(model: object) -> str | None:
    r"""Describe the first TorchScript part of ``model``, or return ``None``.

    Finds a ``torch.jit.ScriptModule`` (the result of ``torch.jit.script`` or
    ``torch.jit.trace``) as the model itself or as any of its submodules, a
    scripted function, a ``ScriptModule``'s method, or a bound method of a module
    that holds one. A plain function that calls a TorchScript module internally
    cannot be seen.

    Args:
        model (nn.Module or callable): the model or forward function.

    Returns:
        *str* or *None*: e.g. ``"submodule 'features' (TorchScript SmallCNN)"``, or
        ``None`` when no TorchScript part was found.
    """
    described = _scripted_callable_name(model)
    if described is not None:
        return described
    module = _module_of(model)
    if module is None:
        return None
    for name, submodule in module.named_modules():
        if isinstance(submodule, torch.jit.ScriptModule):
            kind = getattr(submodule, "original_name", type(submodule).__name__)
            where = "the model" if not name else f"submodule {name!r}"
            return f"{where} (TorchScript {kind})"
    return None


def check_not_torchscript(
    model: object, strict: bool = False, stacklevel: int = 2
) -> None:
    r"""Warn, or raise with ``strict``, if ``model`` runs TorchScript code.

    TorchScript executes its graph without ``__torch_function__``, so the ReLUs
    inside it are not seen by :func:`guided_relu` and backpropagate their plain
    gradient: the maps would be ordinary gradients there, not guided ones.

    Args:
        model (nn.Module or callable): the model or forward function.
        strict (bool): raise :class:`TorchScriptError` instead of emitting a
            :class:`TorchScriptWarning`. Default: False
        stacklevel (int): which frame the warning points at, counted from the
            caller of this function as in :func:`warnings.warn`. Default: 2

    Raises:
        TorchScriptError: with ``strict=True`` when a TorchScript part is found.
    """
    described = find_torchscript(model)
    if described is None:
        return
    message = (
        f"{described} is TorchScript, which bypasses the guided-ReLU engine "
        "(TorchFunctionMode): its ReLUs backpropagate the plain gradient, so the "
        "maps would be plain gradients there, not guided/deconvnet ones. Pass the "
        "eager (non-scripted, non-traced) nn.Module instead."
    )
    if strict:
        raise TorchScriptError(message)
    warnings.warn(message, TorchScriptWarning, stacklevel=stacklevel + 1)


def _guided_gradient(grad: Tensor, out: Tensor) -> Tensor:
    """``grad * 1[out > 0] * 1[grad > 0]`` in two kernels: the native ReLU backward
    into a fresh buffer, then an in-place clamp. ``aten`` ops bypass the mode."""
    return torch.ops.aten.clamp_min_(torch.ops.aten.threshold_backward(grad, out, 0), 0)


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        out = torch.relu(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return _guided_gradient(grad, out)


class _GuidedReLUInplace(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x.relu_()
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return _guided_gradient(grad, out)


class _DeconvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.relu(x)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad.clamp_min(0.0)


class _DeconvReLUInplace(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x.relu_()
        ctx.mark_dirty(x)
        return x

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad.clamp_min(0.0)


_FUNCTIONS: dict[ReluRule, tuple[type[torch.autograd.Function], ...]] = {
    ReluRule.GUIDED: (_GuidedReLU, _GuidedReLUInplace),
    ReluRule.DECONVNET: (_DeconvReLU, _DeconvReLUInplace),
}

_RELU_OUT_OF_PLACE: frozenset[Callable[..., Any]] = frozenset({torch.relu, Tensor.relu})
_RELU_IN_PLACE: frozenset[Callable[..., Any]] = frozenset(
    {torch.relu_, Tensor.relu_, F.relu_}
)

_CLAMP_MIN: frozenset[Callable[..., Any]] = frozenset(
    {torch.clamp_min, Tensor.clamp_min}
)
_CLAMP: frozenset[Callable[..., Any]] = frozenset(
    {torch.clamp, Tensor.clamp, torch.clip, Tensor.clip}
)
_MAXIMUM: frozenset[Callable[..., Any]] = frozenset(
    {torch.maximum, Tensor.maximum, torch.max, Tensor.max, torch.fmax, Tensor.fmax}
)
_WHERE: frozenset[Callable[..., Any]] = frozenset({torch.where, Tensor.where})
_THRESHOLD: frozenset[Callable[..., Any]] = frozenset({F.threshold, torch.threshold})

# Rectifier-like activations whose guided rule is not defined by the method.
# Sigmoid and tanh are not rectifiers; they backpropagate their plain gradient.
_UNSUPPORTED: dict[Callable[..., Any], str] = {
    F.gelu: "GELU",
    F.silu: "SiLU",
    F.mish: "Mish",
    F.hardswish: "Hardswish",
    F.hardsigmoid: "Hardsigmoid",
    F.hardtanh: "Hardtanh/ReLU6",
    F.relu6: "ReLU6",
    F.leaky_relu: "LeakyReLU",
    F.rrelu: "RReLU",
    F.elu: "ELU",
    F.selu: "SELU",
    F.celu: "CELU",
    F.softplus: "Softplus",
    F.glu: "GLU",
    F.threshold: "Threshold",
    torch.prelu: "PReLU",
    torch.selu: "SELU",
    torch.celu: "CELU",
    torch.threshold: "Threshold",
}


def _is_zero(value: object) -> bool:
    """A literal 0, or a constant tensor (no grad) that is zero everywhere."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, Tensor) and not value.requires_grad:
        return not value.is_complex() and bool((value == 0).all())
    return False


def _keeps_shape(x: Tensor, *others: object) -> bool:
    """Whether broadcasting ``x`` with ``others`` gives ``x``'s own shape."""
    shapes = [t.shape for t in others if isinstance(t, Tensor)]
    try:
        return torch.broadcast_shapes(x.shape, *shapes) == x.shape
    except RuntimeError:
        return False


def _argument(args: tuple, kwargs: dict, position: int, name: str) -> object:
    return args[position] if len(args) > position else kwargs.get(name)


def _clamp_input(func: Callable[..., Any], args: tuple, kwargs: dict) -> object:
    """``x`` of ``clamp(x, min=0)`` / ``clamp_min(x, 0)`` without an upper bound."""
    if func in _CLAMP_MIN:
        low, high = _argument(args, kwargs, 1, "min"), None
    else:
        low = _argument(args, kwargs, 1, "min")
        high = _argument(args, kwargs, 2, "max")
    if high is None and _is_zero(low):
        return args[0]
    return None


def _maximum_input(args: tuple, kwargs: dict) -> object:
    """``x`` of ``maximum(x, 0)`` / ``maximum(0, x)`` with a zero tensor."""
    first, second = args[0], _argument(args, kwargs, 1, "other")
    if not isinstance(second, Tensor):
        return None  # torch.max(x, dim) is a reduction, not a ReLU
    for x, zero in ((first, second), (second, first)):
        if _is_zero(zero) and _keeps_shape(x, zero):
            return x
    return None


def _where_input(func: Callable[..., Any], args: tuple, kwargs: dict) -> object:
    """``x`` of ``where(x > 0, x, 0)`` or ``where(x <= 0, 0, x)``: the condition
    must agree with the sign of ``x`` wherever ``x`` is not zero."""
    if func is Tensor.where:  # x.where(condition, y)
        chosen, condition = args[0], _argument(args, kwargs, 1, "condition")
        other = _argument(args, kwargs, 2, "other")
    else:
        condition = args[0]
        chosen = _argument(args, kwargs, 1, "input")
        other = _argument(args, kwargs, 2, "other")
    if not isinstance(condition, Tensor) or condition.dtype != torch.bool:
        return None
    for x, zero, kept_where in ((chosen, other, True), (other, chosen, False)):
        if not isinstance(x, Tensor) or not x.is_floating_point():
            continue
        if not _is_zero(zero) or not _keeps_shape(x, condition, zero):
            continue
        positive = x > 0
        agrees = (condition == positive) if kept_where else (condition != positive)
        if bool((agrees | (x == 0)).all()):
            return x
    return None


def _threshold_input(args: tuple, kwargs: dict) -> object:
    """``x`` of ``threshold(x, 0, 0)``, which is ``relu(x)``."""
    threshold = _argument(args, kwargs, 1, "threshold")
    value = _argument(args, kwargs, 2, "value")
    if _is_zero(threshold) and _is_zero(value):
        return args[0]
    return None


def handwritten_relu_input(
    func: Callable[..., Any], args: tuple, kwargs: dict
) -> Tensor | None:
    r"""The input ``x`` when ``func(*args, **kwargs)`` computes ``relu(x)``.

    Recognized: ``clamp(x, min=0)`` / ``clamp_min(x, 0)`` (no upper bound),
    ``maximum(x, zeros)`` and ``max(x, zeros)`` in either order, ``where(x > 0,
    x, 0)`` and ``where(x <= 0, 0, x)`` (also with ``>=``, ``<`` and zero
    tensors), and ``threshold(x, 0, 0)``, as ``torch`` functions or ``Tensor``
    methods. Zero operands are literal zeros or constant tensors that are zero
    everywhere; a ``where`` condition must agree with the sign of ``x``
    wherever ``x`` is not zero. Each check reads the values, so a mask that
    merely looks like one is left alone.

    Args:
        func (callable): the function the torch-function mode intercepted.
        args (tuple): its positional arguments.
        kwargs (dict): its keyword arguments.

    Returns:
        *Tensor* or *None*: ``x``, or ``None`` when the call is not a ReLU.
    """
    if not args:
        return None
    if func in _CLAMP_MIN or func in _CLAMP:
        x = _clamp_input(func, args, kwargs)
    elif func in _MAXIMUM:
        x = _maximum_input(args, kwargs)
    elif func in _WHERE:
        x = _where_input(func, args, kwargs)
    elif func in _THRESHOLD:
        x = _threshold_input(args, kwargs)
    else:
        return None
    if isinstance(x, Tensor) and x.is_floating_point():
        return x
    return None


class _GuidedReluMode(TorchFunctionMode):
    def __init__(self, rule: ReluRule, strict: bool, guide_handwritten: bool) -> None:
        super().__init__()
        self.out_of_place, self.in_place = _FUNCTIONS[rule]
        self.strict = strict
        self.guide_handwritten = guide_handwritten
        self.unsupported_seen: set[str] = set()
        self.relu_calls = 0

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple = (),
        kwargs: dict | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func is F.relu:
            self.relu_calls += 1
            inplace = kwargs.get("inplace", args[1] if len(args) > 1 else False)
            apply = self.in_place.apply if inplace else self.out_of_place.apply
            return apply(args[0])
        if func in _RELU_OUT_OF_PLACE:
            self.relu_calls += 1
            return self.out_of_place.apply(args[0])
        if func in _RELU_IN_PLACE:
            self.relu_calls += 1
            return self.in_place.apply(args[0])
        if self.guide_handwritten:
            x = handwritten_relu_input(func, args, kwargs)
            if x is not None:
                self.relu_calls += 1
                return self.out_of_place.apply(x)
        name = _UNSUPPORTED.get(func)
        if name is not None:
            self._report_unsupported(name)
        return func(*args, **kwargs)

    def _report_unsupported(self, name: str) -> None:
        message = (
            f"{name} ran inside guided_relu(); the guided/deconvnet rule applies to "
            f"ReLU only, so the gradient passes through {name} unmodified and the "
            "attribution is not pure guided backpropagation."
        )
        if self.strict:
            raise UnsupportedActivationError(message)
        if name not in self.unsupported_seen:
            self.unsupported_seen.add(name)
            warnings.warn(message, UnsupportedActivationWarning, stacklevel=3)


@contextmanager
def guided_relu(
    rule: ReluRule | str = ReluRule.GUIDED,
    strict: bool = False,
    guide_handwritten: bool = True,
    model: object = None,
) -> Iterator[_GuidedReluMode]:
    r"""Make every ReLU call inside the block backpropagate a modified gradient.

    Covers ``nn.ReLU`` (also ``inplace=True`` and one module reused anywhere),
    ``F.relu``, ``F.relu_``, ``torch.relu``, ``torch.relu_``, ``Tensor.relu``,
    ``Tensor.relu_``, and (with ``guide_handwritten``) ReLUs written by hand:
    ``clamp(x, min=0)`` / ``clamp_min(x, 0)`` without an upper bound,
    ``maximum(x, zeros)``, ``where(x > 0, x, 0)`` and ``threshold(x, 0, 0)``
    (see :func:`handwritten_relu_input`). Each call gets its own autograd node,
    so a ReLU whose input also feeds another branch, or a module used in
    parallel branches, is treated exactly. A ReLU over a tensor that needs no
    grad just runs forward.

    Not covered: TorchScript modules and direct ``torch.ops.aten.relu`` calls, which
    bypass ``__torch_function__``, and arithmetic that equals a ReLU without
    calling one (``x * (x > 0)``, ``(x + x.abs()) / 2``), which backpropagates
    its plain gradient. Pass ``model`` to have TorchScript in it
    reported on entry (see :func:`check_not_torchscript`).

    Args:
        rule (ReluRule or str): ``"guided"`` for guided backpropagation,
            ``"deconvnet"`` for the deconvolution rule. Default: ``"guided"``.
        strict (bool): if ``True``, an activation the rule is undefined for (GELU,
            SiLU, ReLU6, LeakyReLU, ELU, Hardswish, ...) raises
            :class:`UnsupportedActivationError`; otherwise it emits one
            :class:`UnsupportedActivationWarning` per activation type and block.
            Default: ``False``.
        guide_handwritten (bool): treat the hand-written ReLUs above as ReLUs.
            Default: ``True``.
        model (nn.Module or callable, optional): the model that will run in the
            block; if it is or holds a TorchScript module, emit a
            :class:`TorchScriptWarning` (raise :class:`TorchScriptError` when
            ``strict``). Default: None (no check).

    Yields:
        The active mode; its ``relu_calls`` counts the ReLU calls it guided.

    Examples::

        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(),
        ...                             torch.nn.Linear(3, 2))
        >>> x = torch.randn(1, 4, requires_grad=True)
        >>> with guided_relu("guided"):
        ...     grad, = torch.autograd.grad(model(x)[0, 1], x)
    """
    mode = _GuidedReluMode(
        ReluRule(rule), strict=strict, guide_handwritten=guide_handwritten
    )
    if model is not None:
        check_not_torchscript(model, strict=strict, stacklevel=3)
    with mode:
        yield mode
