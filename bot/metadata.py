"""Typed ``private_metadata`` for the section modals (Slack hands it back as a string)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from steps.step3 import MAX_MILESTONES, MIN_MILESTONES, Section


class ModalMetadata(BaseModel):
    model_config = ConfigDict(frozen=True)

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

    def dump(self) -> str:
        return self.model_dump_json()

    @classmethod
    def load(cls, raw: str) -> ModalMetadata:
        return cls.model_validate_json(raw)
