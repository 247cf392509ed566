"""Every answer field of Step 3 by its path (``milestones.1.definition_of_done``), with a readable label.

Used to say what changed between two versions of a section, and to offer the free-text fields a
Slack message can be folded into.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from steps.step3 import Band, Section, StandardFactor

_LEAVES = {
    "name": "name",
    "description": "description",
    "timeline_days": "expected by day",
    "timeline_note": "timeline wording",
    "definition_of_done": "definition of done",
    "points_on_time": "points when reached on time",
    "points_missed": "points removed when missed",
    "impact_note": "health-score impact note",
    "weight": "weight",
}
_TOP = {
    "retention_correlation": "Milestone completion and retention",
    "missed_deadline_policy": "When a milestone is missed",
    "calculation_notes": "How the score is calculated",
    "critical_below": "Critical below",
    "healthy_from": "Healthy from",
    "cadence": "Update cadence",
    "update_time": "Update time",
    "timezone": "Time zone",
    "monitors": "Monitors",
    "custom_factors": "Custom factors",
    "milestones": "Milestones",
    "documentation": "Documentation, help articles and FAQs",
    "video_tutorials": "Video tutorials and walkthroughs",
    "community": "Community forums and knowledge bases",
    "session_types": "Live session types",
    "schedule_curriculum": "Schedule and curriculum",
    "segment_customisation": "Customisation by customer segment",
    "certification": "Certification programme",
    "certification_levels": "Levels or badges",
    "certification_adoption": "How certification drives adoption",
}

# Free text a message can be folded into: numbers, choices and people are picked in the form instead.
_MILESTONE_TEXT = ("name", "description", "timeline_note", "definition_of_done", "impact_note")
_SECTION_TEXT = {
    Section.MILESTONES: ("retention_correlation", "missed_deadline_policy"),
    Section.HEALTH: ("calculation_notes", *(f"protocols.{band.value}" for band in Band)),
    Section.TRAINING: (
        "documentation", "video_tutorials", "community", "schedule_curriculum", "segment_customisation",
        "certification_levels", "certification_adoption",
    ),
}  # fmt: skip


def field_label(path: str) -> str:
    parts = path.split(".")
    if parts[0] == "milestones" and len(parts) == 3:
        return f"Milestone {int(parts[1]) + 1} · {_LEAVES.get(parts[2], parts[2])}"
    if parts[0] == "custom_factors" and len(parts) == 3:
        return f"Custom factor {int(parts[1]) + 1} · {_LEAVES.get(parts[2], parts[2])}"
    if parts[0] == "weights" and len(parts) == 2:
        return f"{StandardFactor(parts[1]).label} weight"
    if parts[0] == "protocols" and len(parts) == 2:
        return f"Response protocol · {Band(parts[1]).label}"
    return _TOP.get(path, path.replace("_", " ").capitalize())


def _display(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and len(value) == 8 and value.count(":") == 2:
        return value[:5]  # a saved time of day, 09:00:00
    return str(value)


def flatten(answers: dict[str, Any], prefix: str = "") -> dict[str, str | None]:
    """Path → displayed value. Lists of people or choices stay one field; lists of records are expanded."""
    out: dict[str, str | None] = {}
    for key, value in answers.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flatten(value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, item in enumerate(value):
                out |= flatten(item, f"{path}.{index}.")
        else:
            out[path] = _display(value)
    return out


@dataclass(frozen=True)
class FieldChange:
    path: str
    label: str
    old: str | None
    new: str | None


def diff_answers(old: dict[str, Any] | None, new: dict[str, Any]) -> list[FieldChange]:
    """What changed from ``old`` to ``new``, field by field, in the order of the new answers."""
    before = flatten(old or {})
    after = flatten(new)
    paths = list(after) + [p for p in before if p not in after]
    return [
        FieldChange(path, field_label(path), before.get(path), after.get(path))
        for path in paths
        if before.get(path) != after.get(path)
    ]


def text_fields(section: Section, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, label) of every free-text field of a saved section."""
    paths: list[str] = []
    if section is Section.MILESTONES:
        for index in range(len(answers.get("milestones") or [])):
            paths += [f"milestones.{index}.{leaf}" for leaf in _MILESTONE_TEXT]
    paths += list(_SECTION_TEXT[section])
    return [(path, field_label(path)) for path in paths]


def current_text(answers: dict[str, Any], path: str) -> str | None:
    node: Any = answers
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else (node or {}).get(part)
        if node is None:
            return None
    return node if isinstance(node, str) else None


def with_text(answers: dict[str, Any], path: str, text: str, mode: Literal["replace", "append"]) -> dict[str, Any]:
    """A copy of ``answers`` with one free-text field replaced by, or extended with, ``text``."""
    copy: dict[str, Any] = _deep_copy(answers)
    parts = path.split(".")
    node: Any = copy
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    leaf = parts[-1]
    existing = node.get(leaf)
    node[leaf] = f"{existing}\n{text}" if mode == "append" and existing else text
    return copy


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
