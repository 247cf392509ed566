"""outbox: seek a plan's posts by status, and a posted message by its ts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 06:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The outbox keeps every sent post. `/onboarding status` and an alert button's lookup of the post it is on scanned
# all of a plan's (or a team's) posts through ix_outbox_plan_id: 84 ms and 23 ms at 100,000 posts on SQLite. The
# plan's index gains the status (and the id, for the newest failed posts first); it still serves every lookup by
# plan, such as deleting a plan's posts with it.
def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_plan_status", ["plan_id", "status", "id"], unique=False)
        batch_op.create_index("ix_outbox_posted", ["team_id", "channel_id", "ts"], unique=False)
        batch_op.drop_index("ix_outbox_plan_id")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_plan_id", ["plan_id"], unique=False)
        batch_op.drop_index("ix_outbox_posted")
        batch_op.drop_index("ix_outbox_plan_status")
