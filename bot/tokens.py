"""API tokens of a plan: created (the token is returned once, only its hash is kept), listed, revoked, checked.

Use cases only: slash commands, the CLI and the HTTP API call these and render the results themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import customers, plans
from steps.api import TOKEN_NAME, TOKEN_NAME_RULE, TOKEN_PREFIX, new_token, token_hash
from steps.errors import UserError
from storage import api_tokens as store
from storage.db import Session
from storage.records import ApiAnswer, ApiTokenRecord, PlanRecord

# How long an Idempotency-Key is remembered: a retry comes within minutes, a cron job's rerun within a day.
IDEMPOTENCY_KEPT = timedelta(hours=24)


@dataclass(frozen=True)
class NewToken:
    record: ApiTokenRecord
    plan: PlanRecord
    token: str  # shown once, to its creator; nowhere else


@dataclass(frozen=True)
class Caller:
    """Who sent an API request: a live token, and its plan."""

    token: ApiTokenRecord
    plan: PlanRecord

    @property
    def source(self) -> str:
        """A signal's provenance: the API, and which token."""
        return f"api:{self.token.name}"


def check_name(name: str) -> str:
    if not TOKEN_NAME.fullmatch(name):
        raise UserError("A token name is {rule}, like `warehouse-nightly`.", rule=TOKEN_NAME_RULE)
    return name


def create_token(session: Session, plan: PlanRecord, name: str, user_id: str, now: datetime) -> NewToken:
    """A token for ``plan``'s API, which needs a saved Step 3 (customers join only such plans)."""
    customers.require_runnable(session, plan)
    token = new_token()
    record = store.create(session, plan, name=check_name(name), token_hash=token_hash(token), created_by=user_id,
                          now=now)  # fmt: skip
    if record is None:
        raise UserError("This plan already has a token called “{name}”: revoke it first, or choose another name.",
                        name=name)  # fmt: skip
    return NewToken(record, plan, token)


def create_in_channel(
    session: Session, team_id: str, channel_id: str, name: str, user_id: str, now: datetime
) -> NewToken:
    return create_token(session, plans.require(session, team_id, channel_id).plan, name, user_id, now)


def list_tokens(session: Session, team_id: str, channel_id: str) -> tuple[PlanRecord, list[ApiTokenRecord]]:
    plan = plans.require(session, team_id, channel_id).plan
    return plan, store.live_tokens(session, plan.id)


def revoke_token(
    session: Session, team_id: str, channel_id: str, name: str, now: datetime
) -> tuple[PlanRecord, ApiTokenRecord]:
    plan = plans.require(session, team_id, channel_id).plan
    revoked = store.revoke(session, plan.id, name, now)
    if revoked is None:
        raise UserError("This plan has no token called “{name}”. `/onboarding token list` shows its tokens.",
                        name=name)  # fmt: skip
    return plan, revoked


def authenticate(session: Session, token: str) -> Caller | None:
    """The live token ``token`` is, or None (unknown, malformed or revoked: the API answers 401 to each alike)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    found = store.by_hash(session, token_hash(token))
    if found is None or found[0].revoked_at is not None:
        return None
    return Caller(*found)


def mark_used(session: Session, caller: Caller, now: datetime) -> None:
    store.mark_used(session, caller.token.id, now)


def kept_answer(session: Session, caller: Caller, key: str, now: datetime) -> ApiAnswer | None:
    return store.kept_answer(session, caller.token.id, key, now - IDEMPOTENCY_KEPT)


def keep_answer(session: Session, caller: Caller, key: str, answer: ApiAnswer, now: datetime) -> bool:
    return store.keep_answer(session, caller.token.id, key, answer, now, expired_before=now - IDEMPOTENCY_KEPT)


def prune_answers(session: Session, now: datetime) -> int:
    return store.prune_answers(session, now - IDEMPOTENCY_KEPT)
