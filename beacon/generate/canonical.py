"""A canonical, back-end-independent dump of the operational DB, to prove "same seed, same data"."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from beacon.schema.models import Base

# Reference rows written by migrations carry the migration's clock; they are not generated data.
GENERATED_TABLES = ["organizations", "contact_types", "users", "memberships", "subscriptions", "templates", "contacts",
                    "lists", "list_members", "segments", "campaigns", "sends", "events", "suppressions"]


def _value(value: object) -> object:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return value


def table_digests(engine: Engine) -> dict[str, str]:
    """sha256 per table over rows in primary-key order, values rendered the same on every back end."""
    digests = {}
    with engine.connect() as conn:
        for name in GENERATED_TABLES:
            table = Base.metadata.tables[name]
            query = select(table).order_by(*table.primary_key.columns)
            if name == "templates":
                query = query.where(table.c.organization_id.is_not(None))
            digest = hashlib.sha256()
            for row in conn.execute(query):
                record = {key: _value(val) for key, val in row._mapping.items()}
                digest.update(json.dumps(record, sort_keys=True, default=str).encode())
                digest.update(b"\n")
            digests[name] = digest.hexdigest()
    return digests
