"""Step 3 use cases on a channel's plan: open, save a section, confirm the synthesis.

Database and domain only; the listeners turn the results into Slack calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import customers, discussion
from bot.blocks.changes import change_announcement
from bot.blocks.hub import SectionStatus
from bot.discussion import summaries
from steps.document import compose_step3
from steps.fields import FieldChange, diff_answers
from steps.step3 import SECTION_MODELS, STEP_ID, Answers, HealthModel, MilestonesSection, Section, TrainingPlan
from storage import outbox, repo
from storage.models import DocumentVersion, Plan, PlanChange, PlanSection


@dataclass
class PlanState:
    plan: Plan
    rows: dict[str, PlanSection]

    def answers(self, section: Section) -> Answers | None:
        row = self.rows.get(section.value)
        return None if row is None else SECTION_MODELS[section].model_validate(row.answers)

    def raw(self, section: Section) -> dict[str, Any]:
        row = self.rows.get(section.value)
        return {} if row is None else dict(row.answers)

    def complete_answers(self) -> tuple[MilestonesSection, HealthModel, TrainingPlan]:
        """All three sections, for the synthesis and the document; callers check ``missing`` first."""
        milestones, health, training = (self.answers(s) for s in Section)
        if not (
            isinstance(milestones, MilestonesSection)
            and isinstance(health, HealthModel)
            and isinstance(training, TrainingPlan)
        ):
            raise ValueError(f"plan {self.plan.id} has unanswered sections: {self.missing}")
        return milestones, health, training

    @property
    def statuses(self) -> list[SectionStatus]:
        out = []
        for section in Section:
            row = self.rows.get(section.value)
            out.append(
                SectionStatus(section, row.updated_by, row.updated_at) if row is not None else SectionStatus(section)
            )
        return out

    @property
    def missing(self) -> list[Section]:
        return [s for s in Section if s.value not in self.rows]

    @property
    def fingerprint(self) -> str:
        """Identifies the exact answers a synthesis showed: section versions, in section order."""
        return ",".join(f"{s.value}:{self.rows[s.value].version}" for s in Section if s.value in self.rows)


def load(session: Session, team_id: str, channel_id: str) -> PlanState | None:
    plan = repo.find_plan(session, team_id, channel_id)
    return None if plan is None else PlanState(plan, repo.section_rows(session, plan))


def open_plan(session: Session, *, team_id: str, channel_id: str, channel_name: str, user_id: str) -> PlanState:
    plan = repo.get_or_create_plan(session, team_id=team_id, channel_id=channel_id, name=channel_name, user_id=user_id)
    return PlanState(plan, repo.section_rows(session, plan))


def save_section(
    session: Session, state: PlanState, section: Section, answers: Answers, user_id: str, now: datetime
) -> PlanState:
    repo.save_section(session, state.plan, section.value, answers.model_dump(mode="json"), user_id, now)
    return PlanState(state.plan, repo.section_rows(session, state.plan))


def version_of(state: PlanState, section: Section) -> int:
    """0 for a section never saved."""
    row = state.rows.get(section.value)
    return 0 if row is None else row.version


def record_changes(
    session: Session,
    state: PlanState,
    section: Section,
    changes: Sequence[FieldChange],
    user_id: str,
    now: datetime,
    source: tuple[str, str | None] | None = None,
) -> None:
    version = version_of(state, section)
    for change in changes:
        session.add(
            PlanChange(
                team_id=state.plan.team_id, plan_id=state.plan.id, section=section.value, path=change.path,
                label=change.label, old_value=change.old, new_value=change.new, user_id=user_id, changed_at=now,
                section_version=version, source_user_id=source[0] if source else None,
                source_permalink=source[1] if source else None,
            )
        )  # fmt: skip


def changes_since(session: Session, plan: Plan, section: Section, version: int) -> list[PlanChange]:
    return list(
        session.scalars(
            select(PlanChange)
            .where(
                PlanChange.plan_id == plan.id, PlanChange.section == section.value, PlanChange.section_version > version
            )
            .order_by(PlanChange.id)
        )
    )


def recent_changes(session: Session, plan: Plan, limit: int = 20) -> list[PlanChange]:
    return list(
        session.scalars(
            select(PlanChange).where(PlanChange.plan_id == plan.id).order_by(PlanChange.id.desc()).limit(limit)
        )
    )


def save_and_announce(
    session: Session,
    state: PlanState,
    section: Section,
    answers: Answers,
    user_id: str,
    now: datetime,
    source: tuple[str, str | None] | None = None,
) -> tuple[PlanState, list[FieldChange]]:
    """Save a section; record each changed field in the history and announce the diff in the section's thread."""
    before = state.raw(section)
    state = save_section(session, state, section, answers, user_id, now)
    changes = diff_answers(before or None, state.raw(section))
    record_changes(session, state, section, changes, user_id, now, source)
    thread = discussion.threads(session, state.plan).get(section)
    if changes and thread is not None:
        version = version_of(state, section)
        outbox.enqueue(
            session, team_id=state.plan.team_id, channel_id=thread.channel_id, plan_id=state.plan.id,
            key=f"change:{state.plan.id}:{section.value}:{version}", thread_ts=thread.ts, now=now,
            message=change_announcement(section, user_id, version, changes, source),
        )  # fmt: skip
    if section is Section.MILESTONES:
        ready = customers.runnable(session, state.plan)
        if ready is not None:
            customers.reschedule_after_plan_edit(session, ready, now)
    return state, changes


@dataclass(frozen=True)
class Confirmation:
    document: DocumentVersion
    created: bool  # False: the plan had not changed since this document was saved


class StaleSynthesis(Exception):
    """The sections changed after the synthesis was posted: confirming it would save something nobody reviewed."""


def confirm(session: Session, state: PlanState, fingerprint: str, user_id: str, today: date) -> Confirmation:
    if state.missing or fingerprint != state.fingerprint:
        raise StaleSynthesis(fingerprint)
    latest = repo.latest_document(session, state.plan)
    if latest is not None and latest.source == fingerprint:
        return Confirmation(latest, created=False)
    milestones, health, training = state.complete_answers()
    markdown = compose_step3(
        latest.markdown if latest is not None else None,
        discussion=summaries(session, state.plan),
        plan_name=state.plan.name,
        today=today,
        milestones=milestones,
        health=health,
        training=training,
    )
    if STEP_ID not in state.plan.steps_completed:
        state.plan.steps_completed = [*state.plan.steps_completed, STEP_ID]
    return Confirmation(repo.add_document_version(session, state.plan, markdown, fingerprint, user_id), created=True)
