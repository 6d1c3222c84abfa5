"""The open pixel and click redirect served below FastAPI, with their events written by group commit.

Every open and click of every message lands here, so the two GETs are answered by a plain ASGI
middleware in front of the router; anything else (and every hit this path does not answer itself:
a bad or forged token, an unknown send, another method) goes on to the FastAPI routes in
:mod:`api.tracking.endpoints`, which stay declared for the OpenAPI docs and answer exactly as
before (404 JSON, never a Location header). Measured with bench/bench_tracking.py on one uvicorn
worker: the routed endpoint spent ~1,900-2,500 µs of server CPU per hit (routing, request object,
one thread-pool hop, one session and one commit per hit) against ~120 µs for a bare ASGI app.

Durability is unchanged: a response is released only after the commit that holds its event row.
Hits are queued on the event loop to a single writer (see ``_WRITER_THREAD`` for where it runs); while a
batch is being written the next one gathers, then it is written with one SELECT of the sends it
names and one executemany INSERT, and committed once. If a batch fails, its hits are retried one by
one if the database refused a row, so a poisoned row fails only its own request (a 500, as a failed
commit always was); any other failure (database down, commit refused) fails the batch's requests.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import DataError, IntegrityError

from api.tracking.endpoints import NO_CACHE, PIXEL
from api.tracking.service import BOT_UA, MACHINE_OPEN_UA
from beacon.schema.models import Event, EventType, Send
from beacon.tokens import InvalidToken, TokenKind, verify

log = logging.getLogger(__name__)

_NO_CACHE = [(name.lower().encode(), value.encode()) for name, value in NO_CACHE.items()]
# The same headers, in the same order, that Response(PIXEL, media_type="image/gif") and RedirectResponse sent.
# Messages are built fresh per response from these (an outer middleware may add headers in place).
_PIXEL_HEADERS = (*_NO_CACHE, (b"content-length", str(len(PIXEL)).encode()), (b"content-type", b"image/gif"))
MAX_BATCH = 256  # rows per commit; a burst bigger than this is written in several

_EVENTS, _SENDS = Event.__table__, Send.__table__
_FIND_SENDS = select(_SENDS.c.send_id, _SENDS.c.organization_id, _SENDS.c.contact_id, _SENDS.c.channel).where(
    _SENDS.c.send_id.in_(bindparam("ids", expanding=True)))
_INSERT_EVENTS = insert(_EVENTS)


@lru_cache(maxsize=4096)
def _redirect_headers(url: str) -> tuple:
    # Location quoted exactly as starlette's RedirectResponse does it.
    location = quote(url, safe=":/%#?=@[]!$&'()*+,;").encode("latin-1")
    return (*_NO_CACHE, (b"content-length", b"0"), (b"location", location))


@dataclass(slots=True)
class Hit:
    send_id: uuid.UUID
    event_type: EventType
    occurred_at: datetime
    provider_event_id: str
    payload: dict[str, Any]


def write_hits(session_factory: Callable, hits: list[Hit]) -> list[bool]:
    """Store ``hits`` in one transaction; per hit, whether its send exists (no row for one that does not)."""
    with session_factory() as session:
        found = {row.send_id: row for row in session.execute(_FIND_SENDS, {"ids": list({h.send_id for h in hits})})}
        rows = []
        for hit in hits:
            send = found.get(hit.send_id)
            if send is not None:
                rows.append({"organization_id": send.organization_id, "event_type": hit.event_type,
                             "occurred_at": hit.occurred_at, "provider": "beacon",
                             "provider_event_id": hit.provider_event_id, "send_id": hit.send_id,
                             "contact_id": send.contact_id, "channel": send.channel, "payload": hit.payload})
        if rows:
            session.execute(_INSERT_EVENTS, rows)
        session.commit()
    return [h.send_id in found for h in hits]


# The single writer is one thread for the process, never the event loop itself. Measured (server CPU
# per hit by thread from /proc, loaded 2-core box), writing on the loop costs less on SQLite (~295 vs
# ~350-450 µs a hit: the sqlite3 module drops the GIL around each row's step) but deadlocks: a sync
# endpoint in the thread pool can hold the file's write lock while it waits for the loop (its session
# commits in the dependency's teardown), and the loop would wait for that lock (tests/api/
# test_kill_under_load.py stalled on it). On PostgreSQL the batch waits on the network anyway.
_WRITER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beacon-tracking-writer")


class GroupCommitter:
    """Queue of hits for one event loop; at most one batch is being written at any time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, session_factory: Callable[[], Callable]) -> None:
        self.loop = loop
        self.session_factory = session_factory  # read per batch: tests swap app.state.session_factory
        self.pending: list[tuple[Hit, asyncio.Future]] = []
        self.busy = False

    def submit(self, hit: Hit) -> asyncio.Future:
        future = self.loop.create_future()
        self.pending.append((hit, future))
        if not self.busy:
            self.busy = True
            self.loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                hits = [hit for hit, _ in batch]
                try:
                    outcomes = await self.loop.run_in_executor(_WRITER_THREAD, self._write, hits)
                except asyncio.CancelledError:  # the loop is shutting down: nobody is told "stored"
                    for _, future in batch + self.pending:
                        future.cancel()
                    self.pending = []
                    raise
                except Exception as exc:  # the batch failed as a whole (database down, commit refused)
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # the request went away; its row may be stored, it was never acknowledged
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self.busy = False

    def _write(self, hits: list[Hit]) -> list[bool | BaseException]:
        factory = self.session_factory()
        try:
            return write_hits(factory, hits)
        except (IntegrityError, DataError):  # one row the database refuses must not fail its batch mates
            if len(hits) == 1:
                raise
            log.exception("tracking batch of %d refused; writing its hits one by one", len(hits))
        outcomes: list[bool | BaseException] = []
        for hit in hits:
            try:
                outcomes.append(write_hits(factory, [hit])[0])
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


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
                if await self._open(scope, path[5:-4], send):
                    return
            elif path.startswith("/t/c/"):
                if await self._click(scope, path[5:], send):
                    return
        await self.app(scope, receive, send)

    def _claims(self, token: str, kind: TokenKind):
        if "/" in token:  # not one path segment: the router's answer (404) is the right one
            return None
        try:
            return verify(token, self.beacon.state.settings.signing_keys, kind=kind)
        except InvalidToken:
            return None  # the FastAPI route answers: 404, no Location

    async def _open(self, scope, token: str, send) -> bool:
        claims = self._claims(token, TokenKind.open)
        if claims is None:
            return False
        user_agent, client = _user_agent(scope), scope.get("client")
        payload = {"user_agent": user_agent, "ip": client[0] if client else None,
                   "machine_open": bool(MACHINE_OPEN_UA.search(user_agent))}
        hit = Hit(claims.send_id, EventType.opened, datetime.now(UTC), f"open:{uuid.uuid4()}", payload)
        if not await self._committer().submit(hit):
            return False  # no such send: the route answers 404
        await send({"type": "http.response.start", "status": 200, "headers": list(_PIXEL_HEADERS)})
        await send({"type": "http.response.body", "body": PIXEL})
        return True

    async def _click(self, scope, token: str, send) -> bool:
        claims = self._claims(token, TokenKind.click)
        if claims is None:  # verify() refuses an unsafe destination too (InvalidToken)
            return False
        url = claims.url
        user_agent, client = _user_agent(scope), scope.get("client")
        payload = {"url": url, "user_agent": user_agent, "ip": client[0] if client else None,
                   "bot": bool(BOT_UA.search(user_agent))}
        hit = Hit(claims.send_id, EventType.clicked, datetime.now(UTC), f"click:{uuid.uuid4()}", payload)
        if not await self._committer().submit(hit):
            return False
        await send({"type": "http.response.start", "status": 302, "headers": list(_redirect_headers(url))})
        await send({"type": "http.response.body", "body": b""})
        return True
