"""PostgreSQL: a batch of tracking hits written by one statement on the event loop, over psycopg's async connection.

Why not the writer thread (as before): on one uvicorn worker the loop holds the GIL almost all the
time under load, so each of the thread's network waits (the SELECT of the sends, the INSERT, the
COMMIT) ended with the thread queueing for the GIL; measured on the 2-core box with
bench/bench_tracking.py, the loop sat idle for ~14% of its time waiting for batches and the server
answered 3,300 hits/s at ~250 µs of CPU a hit. Here a batch is one round trip that never leaves the
loop: the statement of :mod:`api.tracking.event_writer` (the batch's rows joined to their sends), on
a connection in autocommit, so the statement's own commit has flushed the rows before the reply
arrives.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from api.tracking.event_writer import Hit, batch_statement, found_sends


def _as_sqlalchemy_error(exc: psycopg.Error) -> Exception:
    """The refusals the committer retries hit by hit, named as the SQLAlchemy path names them."""
    if isinstance(exc, psycopg.errors.IntegrityError):
        return IntegrityError("INSERT INTO events", None, exc)
    if isinstance(exc, psycopg.errors.DataError):
        return DataError("INSERT INTO events", None, exc)
    return exc


class AsyncEventWriter:
    """One loop's connection to one PostgreSQL engine, kept between batches; used by one batch at a time."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.connection: psycopg.AsyncConnection | None = None

    async def _connect(self, engine: Engine) -> bool:
        """Make sure a connection to ``engine`` is open; whether it was already (kept from earlier)."""
        if self.engine is not engine:
            await self.close()
            self.engine = engine
        if self.connection is not None and not self.connection.closed:
            return True
        args, kwargs = engine.dialect.create_connect_args(engine.url)  # the engine's own URL and options
        self.connection = await psycopg.AsyncConnection.connect(*args, **kwargs, autocommit=True)
        return False

    async def write(self, engine: Engine, hits: list[Hit]) -> list[bool]:
        """Store ``hits`` (one statement, committed); per hit, whether its send exists."""
        sql, params = batch_statement(hits, "postgresql")
        while True:
            reused = await self._connect(engine)
            try:
                cursor = await self.connection.execute(sql, params)
                stored = {row[0] for row in await cursor.fetchall()}
            except psycopg.Error as exc:
                broken = self.connection.broken or self.connection.closed
                await self.close()  # a connection that failed a batch is never reused
                if reused and broken and isinstance(exc, psycopg.OperationalError):
                    # The kept connection died while idle (server restart, idle timeout). Written once more on a
                    # new one: had the lost statement committed after all, its fresh provider event ids would make
                    # this attempt fail as a duplicate, so no hit is ever stored twice.
                    continue
                raise _as_sqlalchemy_error(exc) from exc
            return found_sends(hits, stored, "postgresql")

    async def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            try:
                await connection.close()
            except psycopg.Error:
                pass
