"""PostgreSQL: a batch of tracking hits written by one statement on the event loop, over asyncpg.

Why not the writer thread (as before): on one uvicorn worker the loop holds the GIL almost all the
time under load, so each of the thread's network waits (the SELECT of the sends, the INSERT, the
COMMIT) ended with the thread queueing for the GIL; measured on the 2-core box with
bench/bench_tracking.py, the loop sat idle for ~14% of its time waiting for batches and the server
answered 3,300 hits/s at ~250 µs of CPU a hit. Here a batch is one round trip that never leaves the
loop: the statement of :mod:`api.tracking.event_writer` (the batch's rows joined to their sends), in
autocommit, so the statement's own commit has flushed the rows before the reply arrives.

Why asyncpg and not psycopg's async connection (the rest of Beacon's driver): its protocol is
compiled, where psycopg's async execute is Python generators and a reader added and removed on the
loop per wait. Measured per hit in batches of 16 on the loop (CPU of the API process, 2-core box):
psycopg 24.7 µs, asyncpg 11.9 µs, of which 3.9 µs build the batch's parameter either way. asyncpg
prepares the statement once per connection (its statement cache).
"""

from __future__ import annotations

import asyncpg
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from api.tracking.event_writer import POSTGRES_INSERT, Hit, batch_statement, found_sends

_SQL = POSTGRES_INSERT.replace("%s", "$1")  # asyncpg numbers its parameters
# Errors that say the kept connection is gone (closed by the server, or the socket broke): nothing was executed.
_CONNECTION_LOST = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.AdminShutdownError,
                    asyncpg.exceptions.CannotConnectNowError, ConnectionError)


def _as_sqlalchemy_error(exc: Exception) -> Exception:
    """The refusals the committer retries hit by hit, named as the SQLAlchemy path names them."""
    if isinstance(exc, asyncpg.exceptions.IntegrityConstraintViolationError):
        return IntegrityError(_SQL, None, exc)
    if isinstance(exc, asyncpg.exceptions.DataError):
        return DataError(_SQL, None, exc)
    return exc


class AsyncEventWriter:
    """One loop's connection to one PostgreSQL engine, kept between batches; used by one batch at a time."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.connection: asyncpg.Connection | None = None

    async def _connect(self, engine: Engine) -> bool:
        """Make sure a connection to ``engine`` is open; whether it was already (kept from earlier)."""
        if self.engine is not engine:
            await self.close()
            self.engine = engine
        if self.connection is not None and not self.connection.is_closed():
            return True
        # The engine's own URL (host, credentials, query options such as sslmode) as a libpq-style DSN.
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.connection = await asyncpg.connect(dsn)
        return False

    async def write(self, engine: Engine, hits: list[Hit]) -> list[bool]:
        """Store ``hits`` (one statement, committed); per hit, whether its send exists."""
        _, (batch,) = batch_statement(hits, "postgresql")
        while True:
            reused = await self._connect(engine)
            try:
                stored = {row[0] for row in await self.connection.fetch(_SQL, batch)}
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                lost = self.connection.is_closed() or isinstance(exc, _CONNECTION_LOST)
                await self.close()  # a connection that failed a batch is never reused
                if reused and lost:
                    # The kept connection died while idle (server restart, idle timeout). Written once more on a
                    # new one: had the lost statement committed after all, its fresh provider event ids would make
                    # this attempt fail as a duplicate, so no hit is ever stored twice.
                    continue
                raise _as_sqlalchemy_error(exc) from exc
            return found_sends(hits, stored)

    async def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            try:
                await connection.close(timeout=5)
            except Exception:  # already broken: drop it without the goodbye
                connection.terminate()
