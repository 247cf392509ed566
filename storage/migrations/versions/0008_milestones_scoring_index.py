"""milestones: a covering index for scoring a plan's customers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 02:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column scoring reads, after the ones it seeks and orders by: the read never visits the table, whose rows
# for one plan are spread over all its pages (customers of every plan are interleaved). It replaces 0004's index,
# its prefix.
COLUMNS = ["plan_id", "customer_id", "position", "due_date", "completed_on", "name"]


def upgrade() -> None:
    with op.batch_alter_table("customer_milestones", schema=None) as batch_op:
        batch_op.create_index("ix_customer_milestones_scoring", COLUMNS, unique=False)
        batch_op.drop_index("ix_customer_milestones_plan_customer")


def downgrade() -> None:
    with op.batch_alter_table("customer_milestones", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_milestones_plan_customer", ["plan_id", "customer_id", "position"], unique=False
        )
        batch_op.drop_index("ix_customer_milestones_scoring")
