"""Typed ``private_metadata`` for the section modals (Slack hands it back as a string)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from steps.step3 import MIN_MILESTONES, Section


class ModalMetadata(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan_id: int
    channel_id: str
    plan_name: str
    section: Section
    milestone_count: int = MIN_MILESTONES

    def dump(self) -> str:
        return self.model_dump_json()

    @classmethod
    def load(cls, raw: str) -> ModalMetadata:
        return cls.model_validate_json(raw)
