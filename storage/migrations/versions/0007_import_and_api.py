"""import and API: customers' external ids, signal provenance, API tokens, idempotency, freshness settings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 23:40:00.000000
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _slug(name: str) -> str:
    # The same rule as steps.imports.assigned_id, frozen here: a migration must not change when the code does.
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:60] or "customer"


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("signal_times", sa.JSON(), nullable=False, server_default="{}"))
    customers = sa.table(
        "customers", sa.column("id", sa.Integer), sa.column("plan_id", sa.Integer), sa.column("name", sa.String),
        sa.column("external_id", sa.String),
    )  # fmt: skip
    connection = op.get_bind()
    taken: set[tuple[int, str]] = set()
    for row in connection.execute(sa.select(customers.c.id, customers.c.plan_id, customers.c.name).order_by("id")):
        base = _slug(row.name)
        candidate, n = base, 1
        while (row.plan_id, candidate) in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add((row.plan_id, candidate))
        connection.execute(customers.update().where(customers.c.id == row.id).values(external_id=candidate))
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("external_id", existing_type=sa.String(length=100), nullable=False)
        batch.create_unique_constraint("uq_customers_plan_external_id", ["plan_id", "external_id"])

    with op.batch_alter_table("signal_readings") as batch:
        batch.add_column(sa.Column("observed_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=120), nullable=False, server_default="slack"))
    readings = sa.table("signal_readings", sa.column("observed_at"), sa.column("recorded_at"))
    connection.execute(readings.update().values(observed_at=readings.c.recorded_at))
    with op.batch_alter_table("signal_readings") as batch:
        batch.alter_column("observed_at", existing_type=UTC_DATETIME, nullable=False)
    op.create_index("ix_signal_readings_observed", "signal_readings", ["customer_id", "factor", "observed_at"])
    _backfill_signal_times(connection)

    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("freshness", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("min_data_share", sa.Integer(), nullable=True))

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.Column("last_used_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
        sa.UniqueConstraint("plan_id", "name", name="uq_api_tokens_plan_name"),
    )
    op.create_table(
        "api_requests",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["api_tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_id", "idempotency_key"),
    )


def _backfill_signal_times(connection: sa.Connection) -> None:
    """Each customer's latest value per factor was recorded when it was typed: that is when it was true, so a value
    from before this migration can go stale like any other (an empty map would keep it fresh for ever)."""
    readings = sa.table(
        "signal_readings", sa.column("customer_id", sa.Integer), sa.column("factor", sa.String),
        sa.column("observed_at", UTC_DATETIME),
    )  # fmt: skip
    latest: dict[int, dict[str, str]] = {}
    query = sa.select(readings.c.customer_id, readings.c.factor, sa.func.max(readings.c.observed_at)).group_by(
        readings.c.customer_id, readings.c.factor
    )
    for customer_id, factor, at in connection.execute(query):
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        latest.setdefault(customer_id, {})[factor] = when.isoformat()
    customers = sa.table("customers", sa.column("id", sa.Integer), sa.column("signal_times", sa.JSON))
    for customer_id, times in latest.items():
        connection.execute(customers.update().where(customers.c.id == customer_id).values(signal_times=times))


def downgrade() -> None:
    op.drop_table("api_requests")
    op.drop_table("api_tokens")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("min_data_share")
        batch.drop_column("freshness")
    op.drop_index("ix_signal_readings_observed", table_name="signal_readings")
    with op.batch_alter_table("signal_readings") as batch:
        batch.drop_column("source")
        batch.drop_column("observed_at")
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint("uq_customers_plan_external_id", type_="unique")
        batch.drop_column("signal_times")
        batch.drop_column("external_id")
