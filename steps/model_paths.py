"""Where each answer sits in a section's pydantic model, and the lengths and ranges the model accepts for it.

A pattern names an answer with ``*`` for a row's index (``milestones.*.name``). The constraints are read from
``Annotated`` metadata, possibly inside an Optional (``OptionalText``) or as the value type of a list or dict
(``dict[StandardFactor, Score]``), so the form's limits are the very ones validation applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class Limits:
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None


def _annotated(info: FieldInfo) -> Any:
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def _bare(annotation: Any) -> Any:
    """The type under its constraints and its ``| None``: the list, dict, model or scalar itself."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _annotation_at(model: type[BaseModel], pattern: str) -> Any:
    """The declared type, constraints included, of the answer at ``pattern`` in ``model``."""
    first, *rest = pattern.split(".")
    annotation = _annotated(model.model_fields[first])
    for part in rest:
        container = _bare(annotation)
        if _is_model(container):
            annotation = _annotated(container.model_fields[part])
        elif get_origin(container) is list:
            annotation = get_args(container)[0]
        elif get_origin(container) is dict:
            annotation = get_args(container)[1]
        else:
            raise KeyError(f"{pattern!r} goes past the answer {part!r} of {model.__name__}")
    return annotation


def _constraints(annotation: Any) -> Iterator[object]:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        for item in metadata:
            yield from item.metadata if isinstance(item, FieldInfo) else (item,)
        yield from _constraints(base)
    elif origin in (Union, UnionType):
        for arg in get_args(annotation):
            yield from _constraints(arg)


def _whole(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"A form limit must be a whole number, not {value!r}.")
    return value


def limits_at(model: type[BaseModel], pattern: str) -> Limits:
    """The lengths and ranges the model accepts for the answer at ``pattern``."""
    minimum = maximum = max_length = None
    for constraint in _constraints(_annotation_at(model, pattern)):
        if isinstance(constraint, Ge):
            minimum = _whole(constraint.ge)
        elif isinstance(constraint, Gt):
            minimum = _whole(constraint.gt) + 1  # answers are whole numbers: more than 0 is at least 1
        elif isinstance(constraint, Le):
            maximum = _whole(constraint.le)
        elif isinstance(constraint, MaxLen):
            max_length = constraint.max_length
    return Limits(minimum, maximum, max_length)


def model_patterns(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every answer of ``model`` by pattern: each list of records, the fields of its rows, each key of a dict."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        bare = _bare(_annotated(info))
        args = get_args(bare)
        if get_origin(bare) is list and _is_model(args[0]):
            yield path
            yield from model_patterns(args[0], f"{path}.*.")
        elif get_origin(bare) is dict and isinstance(args[0], type) and issubclass(args[0], StrEnum):
            yield from (f"{path}.{key.value}" for key in args[0])
        else:
            yield path
