"""Persistence: SQLAlchemy models, sessions, Alembic migrations and queries."""
