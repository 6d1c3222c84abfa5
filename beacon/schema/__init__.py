"""The operational database: models, engine and session helpers, Alembic migrations."""
