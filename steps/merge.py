"""Two people editing one section at once: what each changed is kept; only a field both changed is refused.

A form is opened on one version of a section and submitted after others may have saved newer ones. The history
records, for each field someone saved since, its value when the form was opened (as displayed: choices by their
labels). That is enough to tell, field by field, whether the person who submits changed it too: their value
differs from the one the form showed them. A field only they changed is applied to the saved answers; a field
only the others changed keeps the others' value; a field both changed to different values is refused, and the
caller shows the person both values, so nothing anybody typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from steps.fields import copied, flat_values, put, shown


@dataclass(frozen=True)
class Merged:
    answers: dict[str, Any]  # the saved answers with the submitter's changes, except the refused ones
    applied: tuple[str, ...]  # paths taken from the submission
    refused: dict[str, Any]  # path → the value the submitter typed, where someone else changed the field too


def form_edit(typed: dict[str, Any], saved: dict[str, Any], covers: Callable[[str], bool]) -> dict[str, Any]:
    """Path → value of every field a form holds: what it submitted, and blank for a saved field it covers but
    left out (a custom factor row the person removed, an optional answer a form omits when blank)."""
    edit = flat_values(typed)
    return edit | {path: None for path in flat_values(saved) if covers(path) and path not in edit}


def merge_edit(saved: dict[str, Any], edit: Mapping[str, Any], meanwhile: Mapping[str, str | None]) -> Merged:
    """Apply ``edit`` (``form_edit``) to the ``saved`` answers; ``meanwhile`` maps each field someone else saved
    since the form was opened to its displayed value at that time."""
    current = flat_values(saved)
    answers = copied(saved)
    applied: list[str] = []
    refused: dict[str, Any] = {}
    for path, value in edit.items():
        mine = shown(path, value)
        if mine == shown(path, current.get(path)):
            continue
        if path in meanwhile:
            if mine != meanwhile[path]:
                refused[path] = value
            continue  # unchanged by this person: the newer saved value stands
        put(answers, path, value)
        applied.append(path)
    return Merged(_without_empty_rows(answers), tuple(applied), refused)


def _without_empty_rows(node: Any) -> Any:
    """A row whose every field was cleared is a removed row (a custom factor taken out of the form)."""
    if isinstance(node, dict):
        return {key: _without_empty_rows(value) for key, value in node.items()}
    if isinstance(node, list) and node and all(isinstance(item, dict) or item is None for item in node):
        kept = [item for item in node if isinstance(item, dict) and any(v not in (None, "", []) for v in item.values())]
        return [_without_empty_rows(item) for item in kept]
    return node
