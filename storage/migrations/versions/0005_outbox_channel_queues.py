"""outbox: index each channel's undelivered posts (claimed in queue order) and thread replies by parent

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDELIVERED_SQL = "status IN ('pending', 'sending')"  # as storage.models.UNDELIVERED_SQL when this was written


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_queue",
            ["team_id", "channel_id", "id"],
            unique=False,
            sqlite_where=sa.text(UNDELIVERED_SQL),
            postgresql_where=sa.text(UNDELIVERED_SQL),
        )
        batch_op.create_index("ix_outbox_parent_id", ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_parent_id")
        batch_op.drop_index("ix_outbox_queue")
