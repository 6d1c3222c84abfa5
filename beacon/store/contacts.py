"""Writing contacts: the one bulk path shared by the API, file imports and the data generator.

Rows go through SQLAlchemy Core ``executemany`` in chunks (SQLAlchemy's "insertmanyvalues" turns
each chunk into a few multi-row INSERTs on both SQLite and PostgreSQL), so a million rows stay
fast and memory stays bounded by the chunk size. Every row is scoped to one tenant: the caller
passes ``org`` and any ``organization_id`` in a row is rejected rather than trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from beacon.schema.models import Contact, ContactStatus
from beacon.tenancy import OrgId

CONTACTS = Contact.__table__
# What contact search matches besides the email: migration 0008 indexes this expression (on PostgreSQL
# as lower(...)), api/contacts/repository.py queries it spelled so, and SQLite's bulk insert fills it.
SEARCH_NAME = "coalesce(contacts.first_name, '') || ' ' || coalesce(contacts.last_name, '')"

# Columns a caller may give, with the value used when a row leaves one out. Every row of one
# executemany must carry the same keys, so missing ones are filled here rather than by the DB.
DEFAULTS: dict[str, Any] = {
    "external_id": None,
    "email": None,
    "phone": None,
    "first_name": None,
    "last_name": None,
    "birth_date": None,
    "gender": None,
    "city": None,
    "region": None,
    "country": None,
    "timezone": None,
    "language": "en",
    "contact_type_id": None,
    "status": ContactStatus.active.value,
    "tags": None,  # replaced by a fresh [] per row
    "custom_fields": None,  # replaced by a fresh {} per row
    "consent_email": False,
    "consent_sms": False,
    "consent_transactional": True,
    "consent_promotional": False,
    "consent_newsletter": False,
    "source": None,
    "erased_at": None,
    "created_at": None,  # None: "now", taken once per call
    "updated_at": None,  # None: created_at
}
STATUSES = frozenset(s.value for s in ContactStatus)
DEFAULT_CHUNK_SIZE = 5_000


class InvalidContact(ValueError):
    """A row the store refuses, with the row's position in the input and the problem."""


def normalise_email(email: str | None) -> tuple[str | None, str | None]:
    """(email as given but trimmed, its identity form: trimmed and lower-cased); blanks become None."""
    if email is None:
        return None, None
    trimmed = email.strip()
    if not trimmed:
        return None, None
    return trimmed, trimmed.lower()


def _prepare(org: OrgId, row: Mapping[str, Any], position: int, now: datetime) -> dict[str, Any]:
    unknown = set(row) - DEFAULTS.keys()
    if unknown:
        raise InvalidContact(f"contact #{position}: unknown field(s) {sorted(unknown)}")
    values = {**DEFAULTS, **row}
    values["email"], values["email_normalized"] = normalise_email(values["email"])
    status = values["status"]
    status = status.value if isinstance(status, ContactStatus) else status
    if status not in STATUSES:
        raise InvalidContact(f"contact #{position}: unknown status {status!r} (expected one of {sorted(STATUSES)})")
    values["status"] = status
    if values["tags"] is None:
        values["tags"] = []
    if values["custom_fields"] is None:
        values["custom_fields"] = {}
    values["created_at"] = values["created_at"] or now
    values["updated_at"] = values["updated_at"] or values["created_at"]
    values["organization_id"] = org
    return values


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def insert_contacts(
    db: Session | Connection,
    org: OrgId,
    rows: Iterable[Mapping[str, Any]],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    return_ids: bool = True,
) -> list[int]:
    """Insert many contacts of one organization; return their ids in input order (if asked).

    ``rows`` may be any iterable (a generator streams). Emails are trimmed, and
    ``email_normalized`` (the per-tenant identity) is the trimmed lower-cased email. A duplicate
    identity raises the database's IntegrityError; the caller's transaction decides what survives.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    conn = db.connection() if isinstance(db, Session) else db
    postgres = conn.dialect.name == "postgresql"
    columns = (["id"] if postgres else []) + ["organization_id", "email_normalized", *DEFAULTS]
    bulk = BulkInsert(conn, CONTACTS, columns)
    search_index = not postgres and _has_search_index(conn)
    now = datetime.now(UTC)
    ids: list[int] = []
    position = 0
    for chunk in _chunks(rows, chunk_size):
        prepared = [_prepare(org, row, position + i + 1, now) for i, row in enumerate(chunk)]
        position += len(chunk)
        if postgres:
            # Take a block of ids from the table's sequence, so no RETURNING is needed.
            block = conn.execute(
                text("SELECT nextval(pg_get_serial_sequence('contacts', 'id')) FROM generate_series(1, :n)"),
                {"n": len(prepared)},
            ).scalars().all()
            for row, id_ in zip(prepared, block):
                row["id"] = id_
            bulk.execute(prepared)
            ids.extend(block)
        elif search_index:
            ids.extend(_insert_indexing_in_bulk(conn, bulk, prepared))
        else:
            bulk.execute(prepared)
            ids.extend(_sqlite_ids(conn, len(prepared)))
    return ids if return_ids else []


def _has_search_index(conn: Connection) -> bool:
    return conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'contacts_search_paused'").first() is not None


def _insert_indexing_in_bulk(conn: Connection, bulk: BulkInsert, prepared: list[dict]) -> range:
    """SQLite: insert a chunk with the contact search's per-row trigger paused, then index it in one statement.

    The FTS5 trigram index of migration 0008 is kept by triggers; row by row, its insert trigger
    measured ~65 µs a contact (271k -> 14k rows/s in a bare table), one INSERT ... SELECT per chunk
    ~12 µs (65k rows/s). The pause is a row in ``contacts_search_paused``, inside this transaction
    only (SQLite has one writer), and is always removed.
    """
    conn.exec_driver_sql("INSERT INTO contacts_search_paused (paused) VALUES (1)")
    try:
        bulk.execute(prepared)
        ids = _sqlite_ids(conn, len(prepared))
        conn.exec_driver_sql(f"INSERT INTO contacts_search (rowid, email, name) SELECT id, email_normalized, {SEARCH_NAME} "
                             "FROM contacts WHERE id BETWEEN ? AND ?", (ids.start, ids.stop - 1))
    finally:
        conn.exec_driver_sql("DELETE FROM contacts_search_paused")
    return ids


_MEMOIZABLE = frozenset({type(None), bool, int, str, datetime})


class BulkInsert:
    """One INSERT compiled by SQLAlchemy once, run with the driver's executemany on pre-processed rows.

    Why not ``conn.execute(insert(table), rows)``: SQLAlchemy rebuilds every row's parameters
    (~150-200 µs a row for a wide table), and its batched "insertmanyvalues" form makes psycopg
    re-parse a statement with tens of thousands of placeholders per batch. Here each column's own
    SQLAlchemy bind processor (JSON, dates, enums, per dialect) is applied once per value, so the
    values stored are exactly what the ORM would store, on both back ends. Used for any table the
    bulk writers fill (contacts here; sends, events and list members in the generator).
    """

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        self.conn = conn
        dialect = conn.dialect
        self.columns = list(columns)
        compiled = insert(table).compile(dialect=dialect, column_keys=self.columns)
        self.sql = str(compiled)
        self.order = list(compiled.positiontup) if compiled.positional else None
        self.processors = {
            name: processor
            for name in self.columns
            if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }

    def execute(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts with exactly ``columns``; they are modified in place)."""
        if not rows:
            return
        for name, processor in self.processors.items():
            # Values repeat down a column (one created_at per call, a few statuses, None): each
            # distinct immutable value is processed once (SQLite's datetime processor is ~8 µs).
            memo: dict[Any, Any] = {}
            for row in rows:
                value = row[name]
                if type(value) in _MEMOIZABLE:
                    key = (type(value), value)  # True and 1 are equal keys, not equal values
                    if key not in memo:
                        memo[key] = processor(value)
                    row[name] = memo[key]
                else:
                    row[name] = processor(value)
        params = [tuple(row[k] for k in self.order) for row in rows] if self.order else rows
        self.conn.exec_driver_sql(self.sql, params)


def _sqlite_ids(conn: Connection, count: int) -> range:
    """Ids of the rows just inserted by one executemany on SQLite.

    SQLite has one writer at a time and gives each new row max(rowid) + 1, so within our write
    transaction the chunk's ids are the ``count`` consecutive ids ending at max(id).
    """
    last = conn.execute(select(func.max(CONTACTS.c.id))).scalar_one()
    return range(last - count + 1, last + 1)


def set_contact_status(
    db: Session | Connection,
    org: OrgId,
    changes: Sequence[tuple[int, str, datetime]],
) -> int:
    """Bulk status change for one organization's contacts: ``(contact_id, status, changed_at)``.

    Used when events imply a new state (unsubscribe, hard bounce, complaint). Rows of other
    organizations are untouched because the tenant is part of the WHERE clause.
    """
    for contact_id, status, _ in changes:
        if status not in STATUSES:
            raise InvalidContact(f"contact {contact_id}: unknown status {status!r}")
    if not changes:
        return 0
    statement = (
        update(CONTACTS)
        .where(CONTACTS.c.organization_id == bindparam("org"), CONTACTS.c.id == bindparam("contact_id"))
        .values(status=bindparam("new_status"), updated_at=bindparam("changed_at"))
    )
    params = [
        {"org": org, "contact_id": contact_id, "new_status": status, "changed_at": changed_at}
        for contact_id, status, changed_at in changes
    ]
    for chunk in _chunks(params, DEFAULT_CHUNK_SIZE):
        db.execute(statement, chunk)
    return len(changes)
