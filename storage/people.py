"""Slack users' names, as the bot last read them from Slack, per workspace."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import Person
from storage.records import PersonRecord


def known(session: Session, team_id: str, user_ids: Collection[str]) -> dict[str, PersonRecord]:
    """The known names among ``user_ids``, by user id (a person never looked up, or never found, is absent)."""
    if not user_ids:
        return {}
    rows = session.scalars(select(Person).where(Person.team_id == team_id, Person.user_id.in_(user_ids)))
    return {row.user_id: PersonRecord(row.user_id, row.name, row.updated_at) for row in rows}


def remember(session: Session, team_id: str, user_id: str, name: str, now: datetime) -> None:
    """Store a name read from Slack; an upsert, as two replicas may save documents naming the same person at once."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(Person).values(team_id=team_id, user_id=user_id, name=name, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(index_elements=["team_id", "user_id"], set_={"name": name, "updated_at": now})
    )
