"""Writes a batch of tracking hits below SQLAlchemy's ORM: one SELECT of their sends, one executemany INSERT.

Why not a Session (or Core) per batch: the writer thread shares the GIL with the event loop that
answers the hits, so every microsecond of Python it spends per row is taken from the loop. Measured
per hit in a batch of 32 (CPU, 2-core box): a Session per batch 48 µs on SQLite / 60 µs on PostgreSQL,
Core on a kept connection 53 / 62 µs; in the server it came to ~90 µs a hit. Here the SELECT is
compiled once per number of ids and the INSERT is :class:`beacon.store.contacts.BulkInsert` (each
value through its column type's own bind processor), so rows are stored exactly as the ORM stores
them (tested).

The connection is kept for the writer thread's life when the session factory is bound to an engine
(the server: no pool checkout or pre-ping per batch), and dropped after any failure; a batch that
finds it dead (the server restarted or timed it out) is written once more on a new one. A factory bound
to a connection (the tests' rolled-back transaction) is used as it is, through a Session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from beacon.schema.models import Event, EventType, Send
from beacon.store.contacts import BulkInsert

_EVENTS, _SENDS = Event.__table__, Send.__table__
_INSERTED = ["organization_id", "event_type", "occurred_at", "provider", "provider_event_id", "send_id", "contact_id",
             "channel", "payload"]
_IDS_PER_SELECT = 64


@dataclass(slots=True)
class Hit:
    send_id: uuid.UUID
    event_type: EventType
    occurred_at: datetime
    provider_event_id: str
    payload: dict[str, Any]


@lru_cache(maxsize=256)
def _find_sends(dialect: Dialect, count: int) -> tuple[str, bool]:
    """The SELECT of ``count`` sends by send_id, as the driver takes it, and whether it is positional."""
    query = select(_SENDS.c.send_id, _SENDS.c.organization_id, _SENDS.c.contact_id, _SENDS.c.channel).where(
        _SENDS.c.send_id.in_([bindparam(f"id{i}") for i in range(count)]))
    return query.compile(dialect=dialect).string, dialect.positional


@lru_cache(maxsize=8)
def _to_send_id(dialect: Dialect) -> Callable:
    """send_id as the driver stores and returns it (SQLite: 32 hex digits; PostgreSQL: the UUID itself)."""
    return _SENDS.c.send_id.type.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)


def write_batch(conn: Connection, hits: list[Hit], insert: BulkInsert | None = None) -> list[bool]:
    """Insert the hits whose send exists, in ``conn``'s transaction; per hit, whether it does."""
    to_key = _to_send_id(conn.dialect)
    keys = [to_key(hit.send_id) for hit in hits]
    wanted = list(dict.fromkeys(keys))
    found: dict = {}
    for start in range(0, len(wanted), _IDS_PER_SELECT):
        chunk = wanted[start:start + _IDS_PER_SELECT]
        sql, positional = _find_sends(conn.dialect, len(chunk))
        params = tuple(chunk) if positional else {f"id{i}": v for i, v in enumerate(chunk)}
        found.update((row[0], row) for row in conn.exec_driver_sql(sql, params))
    # organization_id, contact_id and channel are copied as the driver read them; BulkInsert processes the rest
    rows = [{"organization_id": send[1], "event_type": hit.event_type, "occurred_at": hit.occurred_at,
             "provider": "beacon", "provider_event_id": hit.provider_event_id, "send_id": hit.send_id,
             "contact_id": send[2], "channel": send[3], "payload": hit.payload}
            for hit, key in zip(hits, keys, strict=True) if (send := found.get(key)) is not None]
    if rows:
        (insert or BulkInsert(conn, _EVENTS, _INSERTED)).execute(rows)
    return [key in found for key in keys]


class WriteLockBusy(Exception):
    """SQLite's write lock is held by another connection (raised instead of waiting for it)."""


def _lock_busy(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlite_errorcode", None) == 5  # SQLITE_BUSY


class KeptConnection:
    """A writer's own connection to one engine, kept between batches."""

    def __init__(self, *, wait_for_lock: bool = True) -> None:
        self.engine: Engine | None = None
        self.connection: Connection | None = None
        self.insert: BulkInsert | None = None
        self.wait_for_lock = wait_for_lock  # False: SQLite's write lock taken by another raises WriteLockBusy

    def _connect(self, engine: Engine) -> bool:
        """Make sure a connection to ``engine`` is open; whether it was already (kept from earlier)."""
        if self.engine is not engine:
            self.close()
            self.engine = engine
        if self.connection is not None:
            return True
        self.connection = engine.connect()
        if not self.wait_for_lock:  # the event loop's: no waiting, and no checkpoint inside a commit
            self.connection.exec_driver_sql("PRAGMA busy_timeout = 0")
            self.connection.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
            self.connection.commit()  # the PRAGMAs' autobegun transaction
        self.insert = BulkInsert(self.connection, _EVENTS, _INSERTED)
        return False

    def write(self, engine: Engine, hits: list[Hit]) -> list[bool]:
        while True:
            reused = self._connect(engine)
            try:
                transaction = self.connection.begin()
                outcome = write_batch(self.connection, hits, self.insert)
            except DBAPIError as exc:
                if not self.wait_for_lock and _lock_busy(exc):
                    transaction.rollback()  # nothing written; the connection stays good
                    raise WriteLockBusy from exc
                self.close(invalidate=True)
                if reused and exc.connection_invalidated:
                    continue  # the kept connection died while idle (server restart, timeout): nothing was written
                raise
            except BaseException:
                self.close(invalidate=True)  # a half-done connection is never reused
                raise
            try:
                transaction.commit()  # a failure here is not retried: the commit may have happened
            except BaseException:
                self.close(invalidate=True)
                raise
            return outcome

    def checkpoint(self, engine: Engine) -> None:
        """Copy SQLite's write-ahead log into the database file without waiting on anyone (PASSIVE)."""
        self._connect(engine)
        self.connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        self.connection.commit()

    def close(self, *, invalidate: bool = False) -> None:
        if self.connection is not None:
            try:
                if invalidate:
                    self.connection.invalidate()
                self.connection.close()
            finally:
                self.connection = self.insert = None


def write_hits(session_factory: Callable, hits: list[Hit], kept: KeptConnection | None = None) -> list[bool]:
    """Store ``hits`` in one transaction; per hit, whether its send exists (no row for one that does not)."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, Engine) and kept is not None:
        return kept.write(bind, hits)
    with session_factory() as session:
        outcome = write_batch(session.connection(), hits)
        session.commit()
    return outcome
