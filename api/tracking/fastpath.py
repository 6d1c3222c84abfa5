"""The open pixel and click redirect served below FastAPI, with their events written by group commit.

Every open and click of every message lands here, so the two GETs are answered by a plain ASGI
middleware in front of the router; anything else (and every hit this path does not answer itself:
a bad or forged token, an unknown send, another method) goes on to the FastAPI routes in
:mod:`api.tracking.endpoints`, which stay declared for the OpenAPI docs and answer exactly as
before (404 JSON, never a Location header). Measured with bench/bench_tracking.py on one uvicorn
worker: the routed endpoint spent ~1,900-2,500 µs of server CPU per hit (routing, request object,
one thread-pool hop, one session and one commit per hit) against ~120 µs for a bare ASGI app.

Durability is unchanged: a response is released only after the commit that holds its event row.
Hits are queued on the event loop, and one batch at a time is written: on the loop itself (SQLite;
PostgreSQL through asyncpg, api/tracking/pg_writer.py), or by the writer thread
when another connection holds SQLite's write lock; the comment above ``_WriterThread`` says why.
While a batch is being written the next one gathers; a batch is one statement
(api/tracking/event_writer.py), committed once. If a batch fails, its hits are retried one by one if
the database refused a row, so a poisoned row fails only its own request (a 500, as a failed commit
always was); any other failure (database down, commit refused) fails the batch's requests.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from api.errors import error_response
from api.tracking.endpoints import NO_CACHE, PIXEL
from api.tracking.event_writer import MAX_ROWS, Hit, KeptConnection, WriteLockBusy, write_hits
from api.tracking.pg_writer import AsyncEventWriter
from api.tracking.service import is_bot, is_machine_open
from beacon.schema.models import EventType
from beacon.tokens import InvalidToken, TokenKind, TokenVerifier

log = logging.getLogger(__name__)

_NO_CACHE = [(name.lower().encode(), value.encode()) for name, value in NO_CACHE.items()]
# The same headers, in the same order, that Response(PIXEL, media_type="image/gif") and RedirectResponse sent.
# Messages are built fresh per response from these (an outer middleware may add headers in place).
_PIXEL_HEADERS = (*_NO_CACHE, (b"content-length", str(len(PIXEL)).encode()), (b"content-type", b"image/gif"))
MAX_BATCH = MAX_ROWS  # rows per commit (one statement); a burst bigger than this is written in several

@lru_cache(maxsize=4096)
def _redirect_headers(url: str) -> tuple:
    # Location quoted exactly as starlette's RedirectResponse does it.
    location = quote(url, safe=":/%#?=@[]!$&'()*+,;").encode("latin-1")
    return (*_NO_CACHE, (b"content-length", b"0"), (b"location", location))


# Where batches are written. SQLite: on the event loop itself, on a connection that never waits for the
# file's write lock: measured at one uvicorn worker on an idle 2-core box (bench/bench_tracking.py),
# 3,500-4,100 hits/s at 231-267 µs of server CPU a hit, against 2,900-3,100 at 335-355 µs through the
# writer thread, whose per-row GIL hand-offs with the loop (the sqlite3 module drops the GIL around each
# row's step) cost more than the writes. If another connection holds the lock, the batch goes to the
# writer thread, which may wait for it: the loop must not, since a sync endpoint in the thread pool can
# hold the lock while it waits for the loop (its session commits in the dependency's teardown;
# tests/api/test_kill_under_load.py deadlocked on a loop that waited). PostgreSQL: on the loop too, with
# asyncpg (api/tracking/pg_writer.py says why). The thread also writes for a session
# factory bound to a connection (the tests' rolled-back transaction) and checkpoints SQLite's WAL.
class _WriterThread(threading.Thread):
    """Writes batches handed over by the committers and posts each outcome back to its loop.

    A plain thread and queue rather than ``run_in_executor``: per batch that saved two futures, their
    chaining and a task on the loop, which the profile (py-spy --gil) showed as ~6% of the loop's time.
    """

    def __init__(self) -> None:
        super().__init__(name="beacon-tracking-writer", daemon=True)
        self.batches: queue.SimpleQueue = queue.SimpleQueue()
        self.connection = KeptConnection()  # used only on this thread

    def run(self) -> None:
        while True:
            committer, batch = self.batches.get()
            if batch is CHECKPOINT:
                try:
                    self.connection.checkpoint(committer.session_factory().kw["bind"])
                except Exception:
                    log.exception("tracking: WAL checkpoint failed (the next one retries)")
                continue
            try:
                outcomes = committer._write([hit for hit, _ in batch], self.connection)
            except Exception as exc:  # the batch failed as a whole (database down, commit refused)
                outcomes = [exc] * len(batch)
            try:
                committer.loop.call_soon_threadsafe(committer._written, batch, outcomes)
            except RuntimeError:  # the loop has closed: nobody is waiting, and nobody was told "stored"
                pass


CHECKPOINT = object()  # in place of a batch: checkpoint the SQLite file the committer writes to
CHECKPOINT_EVERY = 200  # batches written on the loop, whose connection never checkpoints itself

_WRITER: _WriterThread | None = None
_WRITER_LOCK = threading.Lock()


def _writer() -> _WriterThread:
    global _WRITER
    with _WRITER_LOCK:
        if _WRITER is None or not _WRITER.is_alive():
            _WRITER = _WriterThread()
            _WRITER.start()
        return _WRITER


class GroupCommitter:
    """Queue of hits for one event loop; at most one batch is being written at any time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, session_factory: Callable[[], Callable]) -> None:
        self.loop = loop
        self.session_factory = session_factory  # read per batch: tests swap app.state.session_factory
        self.pending: list[tuple[Hit, asyncio.Future]] = []
        self.busy = False
        self.on_loop = KeptConnection(wait_for_lock=False)  # SQLite: batches are written on the loop itself
        self.since_checkpoint = 0
        self.on_loop_async = AsyncEventWriter()  # PostgreSQL: batches are written on the loop by asyncpg
        self.writing: asyncio.Task | None = None  # the PostgreSQL batch in flight (a task is only weakly held)

    def submit(self, hit: Hit) -> asyncio.Future:
        future = self.loop.create_future()
        self.pending.append((hit, future))
        if not self.busy:
            # Hand over on the loop's next turn, not now: every hit whose request ran in this turn joins the
            # batch (handing over at once made the first batch after a pause a batch of one).
            self.busy = True
            self.loop.call_soon(self._next_batch)
        return future

    def _next_batch(self) -> None:
        self.busy = bool(self.pending)
        if not self.busy:
            return
        engine = self._engine()
        if engine is not None and engine.dialect.name == "postgresql":
            self.writing = self.loop.create_task(self._drain_async(engine))
            return
        batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
        if engine is not None and engine.dialect.name == "sqlite":
            try:
                outcomes = self.on_loop.write(engine, [hit for hit, _ in batch])
            except (WriteLockBusy, IntegrityError, DataError):
                pass  # nothing was written: the writer thread waits for the lock, or retries hit by hit
            except Exception as exc:  # the batch failed as a whole (as it would on the thread)
                self.loop.call_soon(self._written, batch, [exc] * len(batch))
                return
            else:
                self.loop.call_soon(self._written, batch, outcomes)  # hits of the next turn gather meanwhile
                self.since_checkpoint += 1
                if self.since_checkpoint >= CHECKPOINT_EVERY:  # a checkpoint in the loop's commit cost p99 ms
                    self.since_checkpoint = 0
                    _writer().batches.put((self, CHECKPOINT))
                return
        _writer().batches.put((self, batch))

    def _engine(self) -> Engine | None:
        """The engine batches go to (None for a test's connection or a stand-in factory: the writer thread)."""
        bind = getattr(self.session_factory(), "kw", {}).get("bind")
        return bind if isinstance(bind, Engine) else None

    def _written(self, batch: list, outcomes: list) -> None:
        """On the loop: answer the batch's requests, and hand over the hits that gathered meanwhile."""
        self._answer(batch, outcomes)
        self._next_batch()

    @staticmethod
    def _answer(batch: list, outcomes: list) -> None:
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the request went away; its row may be stored, it was never acknowledged
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _drain_async(self, engine: Engine) -> None:
        """On the loop (PostgreSQL): write batches one after another until no hit is pending.

        One task for the whole run of batches, not one per batch: a batch's reply and the next batch's statement
        are handled in the same step of the loop. The hits' answers only schedule their requests, so the next
        statement is on the wire before any of those requests resume to send their responses (answering first
        in the old per-batch design left no batch in flight for ~half the time), and no loop turn passes between
        a reply and the next statement (a task per batch took one: reading every socket that had become readable
        meanwhile, ms under load, before the next statement went out). Measured on the 2-core box, click
        redirect at 2,200 hits/s in an open loop (about half the max), 8 rounds of each taking turns: p99 3.7-28.1
        ms (median 6.9) against 5.6-23.1 ms (median 12.2) with a task per batch.
        """
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    outcomes = await self._store_async(engine, [hit for hit, _ in batch])
                except Exception as exc:  # the batch failed as a whole (database down)
                    outcomes = [exc] * len(batch)
                self._answer(batch, outcomes)
        finally:
            self.busy = bool(self.pending)
            if self.busy:  # only if the loop above was interrupted: the hits left are not forgotten
                self.loop.call_soon(self._next_batch)

    async def _store_async(self, engine: Engine, hits: list[Hit]) -> list[bool | BaseException]:
        """:meth:`_write`, on the loop with the async connection."""
        try:
            return await self.on_loop_async.write(engine, hits)
        except (IntegrityError, DataError):  # one row the database refuses must not fail its batch mates
            if len(hits) == 1:
                raise
            log.exception("tracking batch of %d refused; writing its hits one by one", len(hits))
        outcomes: list[bool | BaseException] = []
        for hit in hits:
            try:
                outcomes.append((await self.on_loop_async.write(engine, [hit]))[0])
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    async def aclose(self) -> None:
        await self.on_loop_async.close()

    def _write(self, hits: list[Hit], connection: KeptConnection) -> list[bool | BaseException]:
        """On the writer thread."""
        factory = self.session_factory()
        try:
            return write_hits(factory, hits, connection)
        except (IntegrityError, DataError):  # one row the database refuses must not fail its batch mates
            if len(hits) == 1:
                raise
            log.exception("tracking batch of %d refused; writing its hits one by one", len(hits))
        outcomes: list[bool | BaseException] = []
        for hit in hits:
            try:
                outcomes.append(write_hits(factory, [hit], connection)[0])
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


def _time_ordered_id() -> str:
    """A UUIDv7 (RFC 9562): the millisecond first, so the unique (provider, provider_event_id) index takes
    new rows at its end instead of on random pages (measured, batches of 32 on SQLite: the writer's CPU
    49-54 -> 42 µs a hit against uuid4). The 74 random bits only need to be unique, not secret: Python's
    generator (seeded from the OS per process, and again in a forked child) costs 0.08 µs against
    0.75 µs for os.urandom's syscall."""
    value = (time.time_ns() // 1_000_000) << 80 | random.getrandbits(80)
    value = (value & ~(0xF << 76) | 0x7 << 76) & ~(0x3 << 62) | 0x2 << 62  # version 7, RFC variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _user_agent(scope: dict) -> str:
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return value.decode("latin-1")
    return ""


class TrackingFastPath:
    """Pure ASGI middleware: answers ``GET /t/o/{token}.gif`` and ``GET /t/c/{token}`` itself."""

    def __init__(self, app, beacon) -> None:
        self.app = app
        self.beacon = beacon  # the FastAPI app: its state holds the settings and the session factory
        self.committers: dict[asyncio.AbstractEventLoop, GroupCommitter] = {}
        self.verifier: tuple[object, TokenVerifier] | None = None  # (the settings it was made for, the verifier)

    def _committer(self) -> GroupCommitter:
        loop = asyncio.get_running_loop()
        committer = self.committers.get(loop)
        if committer is None:
            for old in [k for k in self.committers if k.is_closed()]:
                del self.committers[old]
            committer = self.committers[loop] = GroupCommitter(loop, lambda: self.beacon.state.session_factory)
        return committer

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith("/t/o/") and path.endswith(".gif"):
                claims = self._claims(path[5:-4], TokenKind.open)
                if claims is not None:
                    return await self._open(claims, scope, receive, send)
            elif path.startswith("/t/c/"):
                claims = self._claims(path[5:], TokenKind.click)  # an unsafe destination is InvalidToken too
                if claims is not None:
                    return await self._click(claims, scope, receive, send)
        await self.app(scope, receive, send)

    async def aclose(self) -> None:
        """At the server's shutdown: close this loop's database connection."""
        committer = self.committers.pop(asyncio.get_running_loop(), None)
        if committer is not None:
            await committer.aclose()

    def _claims(self, token: str, kind: TokenKind):
        if "/" in token:  # not one path segment: the router's answer (404) is the right one
            return None
        settings = self.beacon.state.settings
        if self.verifier is None or self.verifier[0] is not settings:
            self.verifier = (settings, TokenVerifier(settings.signing_keys))
        try:
            return self.verifier[1].verify(token, kind)
        except InvalidToken:
            return None  # the FastAPI route answers: 404, no Location

    async def _open(self, claims, scope, receive, send) -> None:
        user_agent, client = _user_agent(scope), scope.get("client")
        payload = {"user_agent": user_agent, "ip": client[0] if client else None,
                   "machine_open": is_machine_open(user_agent)}
        hit = Hit(claims.send_id, EventType.opened, datetime.now(UTC), f"open:{_time_ordered_id()}", payload)
        if await self._stored(hit, scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": list(_PIXEL_HEADERS)})
            await send({"type": "http.response.body", "body": PIXEL})

    async def _click(self, claims, scope, receive, send) -> None:
        url = claims.url
        user_agent, client = _user_agent(scope), scope.get("client")
        payload = {"url": url, "user_agent": user_agent, "ip": client[0] if client else None,
                   "bot": is_bot(user_agent)}
        hit = Hit(claims.send_id, EventType.clicked, datetime.now(UTC), f"click:{_time_ordered_id()}", payload)
        if await self._stored(hit, scope, receive, send):
            await send({"type": "http.response.start", "status": 302, "headers": list(_redirect_headers(url))})
            await send({"type": "http.response.body", "body": b""})

    async def _stored(self, hit: Hit, scope, receive, send) -> bool:
        """Whether ``hit`` is stored; if not, the request has been answered (404 by the route, or a 500)."""
        try:
            if await self._committer().submit(hit):
                return True
        except Exception:
            # Outside FastAPI's error handling (see BeaconAPI): answer as its handler for the unforeseen does.
            log.exception("tracking hit not stored")
            await error_response(500, "internal_error", "internal error")(scope, receive, send)
            return False
        await self.app(scope, receive, send)  # no such send: the route answers 404, no Location
        return False
