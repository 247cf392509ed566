"""Turn pydantic validation errors into one plain sentence per answer field.

Slack shows these under the exact input that caused them, so each error keeps the
location of the field (``("milestones", 1, "name")``) and a message a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldError:
    loc: Loc
    message: str


class InvalidAnswers(ValueError):
    """Raised by the parse functions of a step; carries one error per offending field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.message}" for e in errors))
        self.errors = errors


def field_error(loc: Loc, message: str) -> PydanticCustomError:
    """A cross-field error that still points at one field (model validators have no loc)."""
    return PydanticCustomError("field", message, {"field": ".".join(map(str, loc))})


_MESSAGES = {
    "missing": "This is required.",
    "string_too_short": "This is required.",
    "string_too_long": "Keep this to {max_length} characters or fewer.",
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "int_from_float": "Enter a whole number, without decimals.",
    "greater_than": "Must be more than {gt}.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than": "Must be less than {lt}.",
    "less_than_equal": "Must be at most {le}.",
    "too_short": "Needs at least {min_length}.",
    "too_long": "Allows at most {max_length}.",
    "enum": "Choose one of the options.",
    "literal_error": "Choose one of the options.",
    "time_parsing": "Enter a time as HH:MM.",
    "time_type": "Enter a time as HH:MM.",
}


def _loc_of(error: ErrorDetails) -> Loc:
    field = (error.get("ctx") or {}).get("field")
    if field:
        return tuple(int(p) if p.isdigit() else p for p in str(field).split("."))
    return tuple(error["loc"])


def friendly_errors(exc: ValidationError) -> list[FieldError]:
    out: list[FieldError] = []
    for error in exc.errors():
        kind = error["type"]
        if kind == "too_long" and isinstance(error.get("input"), str):
            # Constraints placed after a BeforeValidator are checked as generic lengths, not string lengths.
            kind = "string_too_long"
        # A blank required answer arrives as None: say "required", not "not a string".
        template = _MESSAGES["missing"] if error.get("input") is None else _MESSAGES.get(kind)
        if template is not None:
            message = template.format(**(error.get("ctx") or {}))
        else:
            message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        out.append(FieldError(_loc_of(error), message))
    return out
