"""Typed ``private_metadata`` for the section modals (Slack hands it back as a string)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, field_validator

from steps.step3 import MAX_MILESTONES, MIN_MILESTONES, Section


class Metadata(BaseModel):
    """``private_metadata`` as a typed model: Slack hands it back as the string we gave it."""

    model_config = ConfigDict(frozen=True)

    def dump(self) -> str:
        return self.model_dump_json()

    @classmethod
    def load(cls, raw: str) -> Self:
        return cls.model_validate_json(raw)


class ModalMetadata(Metadata):
    plan_id: int
    channel_id: str
    plan_name: str
    section: Section
    milestone_count: int = MIN_MILESTONES
    # The section's version when the form was opened: saving over a newer version is refused.
    section_version: int = 0

    @field_validator("milestone_count")
    @classmethod
    def _within_plan_limits(cls, count: int) -> int:
        # The milestones modal always shows between 3 and 5 rows, whatever was saved or clicked.
        return max(MIN_MILESTONES, min(MAX_MILESTONES, count))


class ExtendMetadata(Metadata):
    """The Extend deadline modal: which alert, and where its message is (to reply in its thread)."""

    alert_id: int
    channel_id: str
    message_ts: str


class ShortcutMetadata(Metadata):
    """The Add to onboarding plan modal: the message, and the section versions it was opened on."""

    plan_id: int
    channel_id: str
    message_ts: str
    author: str
    text: str
    versions: dict[Section, int]
