"""Persistence: SQLAlchemy 2 tables, engine/session factory, alembic migrations, transactional outbox."""
