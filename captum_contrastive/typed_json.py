"""Typed results to and from JSON: dataclasses, driven by their type hints.

A study's summary is a tree of dataclasses, with
:class:`~captum_contrastive.metrics.intervals.Interval` at the leaves.
:func:`to_json` turns such a tree into plain JSON values, field by field in
declaration order; :func:`from_json` reads it back into the declared types, and
refuses keys a dataclass does not declare, so a typo or a renamed key fails
where it is read rather than in the report.

Supported annotations: dataclasses, ``dict[str, T]``, ``dict[float, T]``
(JSON's string keys are converted), ``list[T]``, ``tuple[T, ...]``,
``T | None``, ``Literal[...]``, ``float`` (an ``int`` or a JSON ``NaN`` is
accepted), ``int``, ``str``, ``bool`` and ``Any`` (kept as it is).

This module imports nothing from the package.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from functools import cache
from typing import Any, TypeVar, Union

__all__ = ["JsonSchemaError", "from_json", "to_json"]

T = TypeVar("T")


class JsonSchemaError(ValueError):
    """A JSON value does not match the dataclass it is read into."""


def to_json(value: Any) -> Any:
    """``value`` as plain JSON values: dataclasses become dicts of their fields
    (in declaration order; a field whose metadata has ``omit_none`` is left out
    when it is ``None``), tuples become lists, and float keys become ``str(key)``.

    Examples::

        >>> from captum_contrastive.metrics.intervals import Interval
        >>> to_json(Interval(0.5, 0.4, 0.6, n=10))["ci_low"]
        0.4
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if item is None and field.metadata.get("omit_none"):
                continue
            found[field.name] = to_json(item)
        return found
    if isinstance(value, dict):
        return {_key_to_json(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def _key_to_json(key: Any) -> Any:
    return str(key) if isinstance(key, float) else key


def from_json(cls: type[T], value: Any, where: str = "") -> T:
    """``value`` (JSON values) read into the annotation ``cls``.

    Args:
        cls (type): a dataclass or a supported annotation.
        value (Any): what :func:`to_json` (or ``json.load``) gave.
        where (str): the path of ``value`` for error messages.

    Returns:
        ``value`` as ``cls``.

    Raises:
        JsonSchemaError: a key the dataclass does not declare, a missing
            required field, or a value of the wrong kind.
    """
    return _read(cls, value, where or getattr(cls, "__name__", str(cls)))


def _read(annotation: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is Any or annotation is object:
        return value
    if origin in (Union, types.UnionType):
        return _read_union(typing.get_args(annotation), value, where)
    if dataclasses.is_dataclass(annotation):
        return _read_dataclass(annotation, value, where)
    if origin is dict:
        return _read_dict(typing.get_args(annotation), value, where)
    if origin in (list, tuple):
        return _read_sequence(origin, typing.get_args(annotation), value, where)
    if origin is typing.Literal:
        if value not in typing.get_args(annotation):
            raise JsonSchemaError(
                f"{where}: {value!r} is not one of {typing.get_args(annotation)}"
            )
        return value
    return _read_scalar(annotation, value, where)


def _read_union(options: tuple[Any, ...], value: Any, where: str) -> Any:
    if value is None and type(None) in options:
        return None
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _read(option, value, where)
        except JsonSchemaError as error:
            errors.append(str(error))
    raise JsonSchemaError("; ".join(errors) or f"{where}: {value!r} is not None")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _read_dataclass(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise JsonSchemaError(
            f"{where}: expected an object for {cls.__name__}, "
            f"got {type(value).__name__}"
        )
    hints = _hints(cls)
    by_key = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(by_key))
    if unknown:
        raise JsonSchemaError(
            f"{where}: {cls.__name__} has no field {', '.join(map(repr, unknown))}"
        )
    values = {}
    for key, field in by_key.items():
        if key in value:
            values[field.name] = _read(hints[field.name], value[key], f"{where}.{key}")
        elif _required(field):
            raise JsonSchemaError(f"{where}: {cls.__name__} needs {key!r}")
    return cls(**values)


def _required(field: dataclasses.Field) -> bool:
    return (
        field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    )


def _read_dict(args: tuple[Any, ...], value: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise JsonSchemaError(
            f"{where}: expected an object, got {type(value).__name__}"
        )
    key_type, item_type = args or (Any, Any)
    return {
        _read_key(key_type, k, where): _read(item_type, v, f"{where}[{k!r}]")
        for k, v in value.items()
    }


def _read_key(key_type: Any, key: Any, where: str) -> Any:
    if key_type is float:
        try:
            return float(key)
        except (TypeError, ValueError):
            raise JsonSchemaError(f"{where}: key {key!r} is not a number") from None
    return key


def _read_sequence(origin: type, args: tuple[Any, ...], value: Any, where: str) -> Any:
    if not isinstance(value, list | tuple):
        raise JsonSchemaError(f"{where}: expected a list, got {type(value).__name__}")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise JsonSchemaError(
                f"{where}: expected {len(args)} items, got {len(value)}"
            )
        return tuple(
            _read(a, v, f"{where}[{i}]")
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    item = args[0] if args else Any
    items = [_read(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _read_scalar(annotation: Any, value: Any, where: str) -> Any:
    """A number, string or bool; NumPy scalars are read as Python's."""
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise JsonSchemaError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise JsonSchemaError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, numbers.Integral):
            return int(value)
        if math.isfinite(value) and float(value).is_integer():
            return int(value)
        raise JsonSchemaError(f"{where}: expected an integer, got {value!r}")
    if annotation is bool and type(value).__name__ == "bool_":
        return bool(value)
    if annotation in (str, bool):
        if not isinstance(value, annotation):
            raise JsonSchemaError(
                f"{where}: expected {annotation.__name__}, got {value!r}"
            )
        return value
    raise JsonSchemaError(f"{where}: unsupported annotation {annotation!r}")
