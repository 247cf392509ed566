"""index milestones by plan and customer

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 16:32:12.081158
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_milestones", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_milestones_plan_customer", ["plan_id", "customer_id", "position"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_milestones", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_milestones_plan_customer")
