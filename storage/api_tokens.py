"""API tokens (kept as SHA-256 hashes) and the answers kept for ``Idempotency-Key``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import rowcount
from storage.models import ApiRequest, ApiToken
from storage.records import ApiAnswer, ApiTokenRecord, PlanRecord
from storage.repo import get_plan


def _token(row: ApiToken) -> ApiTokenRecord:
    return ApiTokenRecord(
        row.id, row.plan_id, row.name, row.created_by, row.created_at, row.last_used_at, row.revoked_at
    )


def create(
    session: Session, plan: PlanRecord, *, name: str, token_hash: str, created_by: str, now: datetime
) -> ApiTokenRecord | None:
    """A new token named ``name`` for ``plan``; None when one of the plan's live tokens has that name.

    A revoked token's name can be given again: the revoked row goes (with the answers it kept), its hash with it,
    so the old token still gets 401.
    """
    held = session.scalar(select(ApiToken).where(ApiToken.plan_id == plan.id, ApiToken.name == name))
    if held is not None:
        if held.revoked_at is None:
            return None
        session.delete(held)
        session.flush()
    row = ApiToken(
        team_id=plan.team_id, plan_id=plan.id, name=name, token_hash=token_hash, created_by=created_by,
        created_at=now,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another request created that name at the same moment
        return None
    return _token(row)


def live_tokens(session: Session, plan_id: int) -> list[ApiTokenRecord]:
    rows = session.scalars(
        select(ApiToken).where(ApiToken.plan_id == plan_id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.name)
    )
    return [_token(row) for row in rows]


def revoke(session: Session, plan_id: int, name: str, now: datetime) -> ApiTokenRecord | None:
    """Revoke the plan's live token ``name``; None when it has none of that name."""
    row = session.scalar(
        select(ApiToken).where(ApiToken.plan_id == plan_id, ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    row.revoked_at = now
    session.flush()
    return _token(row)


def by_hash(session: Session, token_hash: str) -> tuple[ApiTokenRecord, PlanRecord] | None:
    """The token with this hash and its plan (revoked or not: the caller says which it accepts)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
    if row is None:
        return None
    plan = get_plan(session, row.plan_id)
    return None if plan is None else (_token(row), plan)


def mark_used(session: Session, token_id: int, now: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def kept_answer(session: Session, token_id: int, key: str, since: datetime) -> ApiAnswer | None:
    """The answer kept for ``key`` since ``since``; older ones have expired and count as never sent."""
    row = session.get(ApiRequest, (token_id, key))
    if row is None or row.created_at < since:
        return None
    return ApiAnswer(row.request_hash, row.status, dict(row.response))


def keep_answer(
    session: Session, token_id: int, key: str, answer: ApiAnswer, now: datetime, *, expired_before: datetime
) -> bool:
    """Keep ``answer`` for ``key``; False when a concurrent request with that key kept its own first."""
    session.execute(
        delete(ApiRequest).where(
            ApiRequest.token_id == token_id, ApiRequest.idempotency_key == key, ApiRequest.created_at < expired_before
        )
    )
    try:
        with session.begin_nested():
            session.add(
                ApiRequest(
                    token_id=token_id, idempotency_key=key, request_hash=answer.request_hash, status=answer.status,
                    response=answer.response, created_at=now,
                )
            )  # fmt: skip
    except IntegrityError:
        return False
    return True


def prune_answers(session: Session, before: datetime) -> int:
    """Answers kept longer than a retry could come: ``Idempotency-Key`` expires."""
    return rowcount(session.execute(delete(ApiRequest).where(ApiRequest.created_at < before)))
