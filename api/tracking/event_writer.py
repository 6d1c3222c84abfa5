"""Writes a batch of tracking hits below SQLAlchemy's ORM: one INSERT ... SELECT that joins them to their sends.

Why not a Session (or Core) per batch: every microsecond of Python spent per row is taken from the
event loop that answers the hits. Measured per hit in a batch of 32 (CPU, 2-core box): a Session per
batch 48 µs on SQLite / 60 µs on PostgreSQL, Core on a kept connection 53 / 62 µs. Then a SELECT of
the sends and an executemany INSERT through each column's bind processor: ~27 µs a hit on SQLite,
where the per-row Python (bind processors, SQLAlchemy's result rows, one sqlite3 step a row) was a
third. Now one statement a batch does the per-row work in the database: ``INSERT INTO events ...
WITH h AS (<the hits>) SELECT ... FROM h JOIN sends ...`` stores the hits whose send exists, with the
send's organization, contact and channel (SQLite write: 174k -> 130k instructions a hit, callgrind).
PostgreSQL names them (``RETURNING send_id``); SQLite counts them instead, and only a batch with a
send missing reads back which of its (fresh, unique) provider event ids were stored: stepping through
RETURNING's rows cost ~2 µs of CPU a hit (batches of 16: median 19.6 -> 17.4 µs a hit). The hits go
as VALUES on SQLite (as one JSON parameter, escaping each payload's text inside the array and parsing
it again cost as much as was saved) and as one JSON parameter on PostgreSQL. The rows are those the
ORM stores (tested): on SQLite byte for byte (the payload serialised as ``json.dumps`` does for
SQLAlchemy's JSON type, the timestamp in its DATETIME text form, the send id as its 32 hex digits),
on PostgreSQL value for value (jsonb keeps the payload's value, not its text); the event type is its
value, as the non-native enum keeps it.

The connection is kept for the writer's life when the session factory is bound to an engine (the
server: no pool checkout or pre-ping per batch), and dropped after any failure; a batch that finds it
dead (the server restarted or timed it out) is written once more on a new one. A factory bound to a
connection (the tests' rolled-back transaction) is used as it is, through a Session.
"""

from __future__ import annotations

import json
import json.encoder
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from beacon.schema.models import EventType

_SIZES = tuple(2 ** n for n in range(9))  # SQLite rows per statement: a batch is padded up to the next size
MAX_ROWS = _SIZES[-1]
# INSERT first (not WITH): through a Session or SQLAlchemy connection (write_batch) the sqlite3 module opens its
# implicit transaction only before a statement that starts with INSERT, and the commit must be the caller's.
_INSERT = ("INSERT INTO events (organization_id, event_type, occurred_at, provider, provider_event_id, send_id, "
           "contact_id, channel, payload) ")
_SELECTED = ("SELECT s.organization_id, h.event_type, h.occurred_at, 'beacon', h.provider_event_id, s.send_id, "
             "s.contact_id, s.channel, h.payload FROM h ")
# PostgreSQL: the batch as one JSON parameter. Not VALUES as on SQLite: psycopg re-parses the placeholders of
# any statement over 4 kB on every execute (~1 ms for 32 rows), and its array dumper is pure Python.
# Each hit's send is looked up by its key (OFFSET 0 keeps the subquery a per-row index lookup): with a plain join
# the planner, taking the function's 100 rows for an estimate, hashed a scan of every send, whose cost grows with
# the ledger (measured, 5,000 sends, 16 hits a batch: 0.83 -> 0.43 ms of execution a batch, and PostgreSQL's
# CPU per hit about halved; SQLite already searches the sends' key per hit).
POSTGRES_INSERT = (_INSERT + "WITH h AS (SELECT * FROM json_to_recordset(%s::json) AS h (event_type varchar, "
                    "occurred_at timestamptz, provider_event_id varchar, send_id uuid, payload jsonb)) " + _SELECTED
                    + "CROSS JOIN LATERAL (SELECT organization_id, send_id, contact_id, channel FROM sends "
                    "WHERE sends.send_id = h.send_id OFFSET 0) AS s RETURNING send_id")


# json.dumps(payload) as SQLAlchemy's JSON type writes it, without json.dumps building a new C encoder per call
# (2.2 -> 1.1 µs a hit); the pure-Python encoder where the C one is missing.
_C_ENCODER = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)


def _payload_text(payload: dict[str, Any]) -> str:
    return "".join(_C_ENCODER(payload, 0)) if _C_ENCODER else json.dumps(payload)


@lru_cache(maxsize=16)
def _sqlite_insert(size: int) -> str:
    """The INSERT of ``size`` hits (5 parameters each) joined to their sends."""
    rows = ", ".join(["(?, ?, ?, ?, ?)"] * size)
    return (f"{_INSERT}WITH h (event_type, occurred_at, provider_event_id, send_id, payload) AS (VALUES {rows}) "
            f"{_SELECTED}JOIN sends AS s ON s.send_id = h.send_id")


@lru_cache(maxsize=16)
def _sqlite_stored(size: int) -> str:
    """Which of ``size`` tracking provider event ids are stored."""
    return f"SELECT provider_event_id FROM events WHERE provider = 'beacon' AND provider_event_id IN ({', '.join(['?'] * size)})"


@dataclass(slots=True)
class Hit:
    send_id: uuid.UUID
    event_type: EventType
    occurred_at: datetime  # timezone-aware, UTC
    provider_event_id: str
    payload: dict[str, Any]


def batch_statement(hits: list[Hit], dialect: str) -> tuple[str, tuple]:
    """The statement for ``hits`` (at most ``MAX_ROWS``) and its parameters."""
    if dialect != "sqlite":  # jsonb keeps the payload's value, not its text: orjson's compact form is stored alike
        return POSTGRES_INSERT, (orjson.dumps([
            {"event_type": hit.event_type.value, "occurred_at": hit.occurred_at, "provider_event_id": hit.provider_event_id,
             "send_id": hit.send_id, "payload": hit.payload} for hit in hits]).decode(),)
    size = next(size for size in _SIZES if size >= len(hits))
    params: list = []
    for hit in hits:  # as SQLAlchemy's types store them: DATETIME text (UTC, no offset), 32 hex digits, JSON text
        params += (hit.event_type.value, hit.occurred_at.isoformat(" ", "microseconds")[:26], hit.provider_event_id,
                   hit.send_id.hex, _payload_text(hit.payload))
    params += [None] * (5 * (size - len(hits)))  # padding rows: a NULL send id joins no send
    return _sqlite_insert(size), tuple(params)


def found_sends(hits: list[Hit], stored: set) -> list[bool]:
    """Per hit, whether its send was found (PostgreSQL): ``stored`` holds the send ids RETURNING gave, as UUIDs."""
    return [hit.send_id in stored for hit in hits]


def _insert_batches(execute: Callable, hits: list[Hit], dialect: str) -> list[bool]:
    """Run the hits' statements (``MAX_ROWS`` each) by ``execute(sql, params)``; per hit, whether its send exists."""
    outcomes = []
    for start in range(0, len(hits), MAX_ROWS):
        chunk = hits[start:start + MAX_ROWS]
        sql, params = batch_statement(chunk, dialect)
        if dialect != "sqlite":
            outcomes += found_sends(chunk, {row[0] for row in execute(sql, params)})
        elif execute(sql, params).rowcount == len(chunk):  # a hit's row joins at most one send (its key)
            outcomes += [True] * len(chunk)
        else:
            ids = tuple(hit.provider_event_id for hit in chunk)
            stored = {row[0] for row in execute(_sqlite_stored(len(ids)), ids)}
            outcomes += [event_id in stored for event_id in ids]
    return outcomes


def write_batch(conn: Connection, hits: list[Hit]) -> list[bool]:
    """Insert the hits whose send exists, in ``conn``'s transaction; per hit, whether it does."""
    return _insert_batches(conn.exec_driver_sql, hits, conn.dialect.name)


class WriteLockBusy(Exception):
    """SQLite's write lock is held by another connection (raised instead of waiting for it)."""


def _lock_busy(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlite_errorcode", None) == 5  # SQLITE_BUSY


class KeptConnection:
    """A writer's own connection to one engine, kept between batches.

    On SQLite the batch goes straight to the sqlite3 connection, in autocommit: the batch is one statement,
    so it is its own transaction, and SQLite then needs no statement journal to undo it alone (inside an
    explicit transaction it journals every page the statement changes, spilling to a temporary file: an
    open, an unlink and ~50 page writes a batch, strace). Below SQLAlchemy's execution layer as well: per
    hit in batches of 12, 38.8 -> 32.2 µs of CPU (SQLAlchemy's execute, result and transaction objects).
    """

    def __init__(self, *, wait_for_lock: bool = True) -> None:
        self.engine: Engine | None = None
        self.connection: Connection | None = None
        self.sqlite: sqlite3.Connection | None = None  # the driver's connection, in autocommit (SQLite only)
        self.wait_for_lock = wait_for_lock  # False: SQLite's write lock taken by another raises WriteLockBusy

    def _connect(self, engine: Engine) -> bool:
        """Make sure a connection to ``engine`` is open; whether it was already (kept from earlier)."""
        if self.engine is not engine:
            self.close()
            self.engine = engine
        if self.connection is not None:
            return True
        self.connection = engine.connect()
        if engine.dialect.name == "sqlite":
            # Reverted when the connection goes back to the pool.
            self.connection.execution_options(isolation_level="AUTOCOMMIT")
            self.sqlite = self.connection.connection.driver_connection
            self.sqlite.execute("PRAGMA temp_store = MEMORY")  # a batch of more than MAX_ROWS journals in memory
            if not self.wait_for_lock:  # the event loop's: no waiting, and no checkpoint inside a commit
                self.sqlite.execute("PRAGMA busy_timeout = 0")
                self.sqlite.execute("PRAGMA wal_autocheckpoint = 0")
        return False

    def write(self, engine: Engine, hits: list[Hit]) -> list[bool]:
        while True:
            reused = self._connect(engine)
            if self.sqlite is not None:
                return self._write_sqlite(hits)
            try:
                transaction = self.connection.begin()
                outcome = write_batch(self.connection, hits)
            except DBAPIError as exc:
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

    def _write_sqlite(self, hits: list[Hit]) -> list[bool]:
        several = len(hits) > MAX_ROWS  # several statements: one explicit transaction holds them all
        try:
            if several:
                self.sqlite.execute("BEGIN")
            outcome = _insert_batches(self.sqlite.execute, hits, "sqlite")
            if several:
                self.sqlite.execute("COMMIT")
        except sqlite3.Error as exc:
            error = DBAPIError.instance(_INSERT, None, exc, sqlite3.Error)  # as SQLAlchemy would raise it
            if not self.wait_for_lock and _lock_busy(error):
                if self.sqlite.in_transaction:
                    self.sqlite.rollback()
                raise WriteLockBusy from error  # nothing written; the connection stays good
            self.close(invalidate=True)
            raise error from exc
        except BaseException:
            self.close(invalidate=True)  # a half-done connection is never reused
            raise
        return outcome

    def checkpoint(self, engine: Engine) -> None:
        """Copy SQLite's write-ahead log into the database file without waiting on anyone (PASSIVE)."""
        self._connect(engine)
        self.sqlite.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self, *, invalidate: bool = False) -> None:
        if self.connection is not None:
            try:
                if invalidate:
                    self.connection.invalidate()
                self.connection.close()
            finally:
                self.connection = self.sqlite = None


def write_hits(session_factory: Callable, hits: list[Hit], kept: KeptConnection | None = None) -> list[bool]:
    """Store ``hits`` in one transaction; per hit, whether its send exists (no row for one that does not)."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, Engine) and kept is not None:
        return kept.write(bind, hits)
    with session_factory() as session:
        outcome = write_batch(session.connection(), hits)
        session.commit()
    return outcome
