"""Typed, sealed ``private_metadata`` for the bot's modals.

Slack hands ``private_metadata`` back as the string we gave it, but a signed request can carry any value, so
what a modal remembers (which plan, which alert) is sealed with an HMAC keyed by the bot token and bound to the
workspace and the person who opened it. On submission it is only believed when the seal holds and the request
comes from that workspace and that person; otherwise nothing is read from it and nothing changes.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from steps.errors import UserError
from steps.step3 import MAX_CUSTOM_FACTORS, MAX_MILESTONES, Section

# 128 bits of HMAC-SHA256 is ample against forgery and keeps the 3,000-character budget for the content.
SEAL_LENGTH = 32
SEPARATOR = "."
# Shown in place of the form, under the title "Nothing was saved" (bot.blocks.refusals).
NOT_YOURS = (
    "This form can no longer be used: it was opened elsewhere or by someone else, or the bot was reinstalled. "
    "Open it again from the plan's channel."
)


def sealing_key(token: str | None) -> bytes:
    """A key only this installation knows (the bot token never leaves the server), stable across replicas."""
    if not token:
        raise UserError("The bot has no token, so it cannot open or accept forms.")
    return hmac.new(token.encode(), b"onboarding-bot private_metadata v1", hashlib.sha256).digest()


def _seal(key: bytes, content: str) -> str:
    return hmac.new(key, content.encode(), hashlib.sha256).hexdigest()[:SEAL_LENGTH]


class Metadata(BaseModel):
    model_config = ConfigDict(frozen=True)

    team_id: str
    # Only the person who opened a modal can submit it (Slack shows a modal to one person).
    user_id: str

    def dump(self, key: bytes) -> str:
        content = self.model_dump_json()
        return f"{_seal(key, content)}{SEPARATOR}{content}"

    @classmethod
    def load(cls, raw: object, key: bytes, *, team_id: object, user_id: object) -> Self:
        """The metadata of a modal submitted by ``user_id`` of ``team_id``, or ``UserError``."""
        if not isinstance(raw, str):
            raise UserError(NOT_YOURS)
        seal, _, content = raw.partition(SEPARATOR)
        if not hmac.compare_digest(seal.encode(), _seal(key, content).encode()):
            raise UserError(NOT_YOURS)
        try:
            meta = cls.model_validate_json(content)
        except ValidationError:
            raise UserError(NOT_YOURS) from None
        if meta.team_id != team_id or meta.user_id != user_id:
            raise UserError(NOT_YOURS)
        return meta


class ModalMetadata(Metadata):
    plan_id: int
    channel_id: str
    plan_name: str
    section: Section
    # Milestones forms hold one milestone (its index), or, when None, the questions asked across all milestones.
    milestone: int | None = Field(default=None, ge=0, lt=MAX_MILESTONES)
    adding: bool = False  # a new milestone
    milestone_count: int = Field(default=0, ge=0, le=MAX_MILESTONES)  # the plan's milestones when the form opened
    factor_count: int = 0  # custom health factor rows shown
    # The section's version when the form was opened: what others saved since is merged with this form.
    section_version: int = 0

    @field_validator("factor_count")
    @classmethod
    def _within_factor_limits(cls, count: int) -> int:
        return max(0, min(MAX_CUSTOM_FACTORS, count))


class ExtendMetadata(Metadata):
    """An alert's forms (Extend deadline, Mark done): which alert, and where its message is."""

    alert_id: int
    channel_id: str
    message_ts: str


class ImportMetadata(Metadata):
    """The import form: which plan the file goes into."""

    plan_id: int
    channel_id: str


class ShortcutMetadata(Metadata):
    """The Add to onboarding plan modal: the message, and the section versions it was opened on."""

    plan_id: int
    channel_id: str
    message_ts: str
    author: str
    text: str
    versions: dict[Section, int]
    # Looked up when the form opened, so that the submission needs no Slack call before its ack.
    permalink: str | None = None
