"""seek, rather than scan, the history that reads on a request's path look into

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCED_SQL = "source_user_id IS NOT NULL"  # as storage.models.SOURCED_SQL when this was written


# The bot keeps every post it sent, every change to a plan and every thread reply. Reads made before an ack (or
# before a form opens, within its trigger's 3 s) went through all of a plan's (or team's) history through these
# tables' plan index: at 100,000 rows on SQLite, `/onboarding status` 77 ms, an alert button's post lookup 21 ms,
# a form's latest replies 11 ms, the changes since a form opened 15 ms a section (bench/history_reads.py). Each new
# index leads with every column those reads compare; a replaced index is a prefix of its successor, which still
# serves every lookup by plan, such as deleting a plan's rows with it.
def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_plan_status", ["plan_id", "status", "id"], unique=False)
        batch_op.create_index("ix_outbox_posted", ["team_id", "channel_id", "ts"], unique=False)
        batch_op.drop_index("ix_outbox_plan_id")
    with op.batch_alter_table("plan_changes", schema=None) as batch_op:
        batch_op.create_index("ix_plan_changes_section", ["plan_id", "section", "section_version", "id"], unique=False)
        batch_op.create_index(
            "ix_plan_changes_sourced",
            ["plan_id", "id"],
            unique=False,
            sqlite_where=sa.text(SOURCED_SQL),
            postgresql_where=sa.text(SOURCED_SQL),
        )
        batch_op.drop_index("ix_plan_changes_plan")
    with op.batch_alter_table("discussion_messages", schema=None) as batch_op:
        batch_op.create_index("ix_discussion_messages_latest", ["plan_id", "section", "posted_at", "id"], unique=False)
        batch_op.drop_index("ix_discussion_messages_section")


def downgrade() -> None:
    with op.batch_alter_table("discussion_messages", schema=None) as batch_op:
        batch_op.create_index("ix_discussion_messages_section", ["plan_id", "section", "ts"], unique=False)
        batch_op.drop_index("ix_discussion_messages_latest")
    with op.batch_alter_table("plan_changes", schema=None) as batch_op:
        batch_op.create_index("ix_plan_changes_plan", ["plan_id", "changed_at"], unique=False)
        batch_op.drop_index("ix_plan_changes_sourced")
        batch_op.drop_index("ix_plan_changes_section")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_plan_id", ["plan_id"], unique=False)
        batch_op.drop_index("ix_outbox_posted")
        batch_op.drop_index("ix_outbox_plan_status")
