"""Open pixel, click redirect, unsubscribe and preferences through signed links."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from beacon.schema.models import Contact, Event, Suppression
from beacon.tokens import TokenKind, sign
from tests.api.conftest import make_message, read

NEW_KEYS = ["test-key-new", "test-key-old"]


@pytest.fixture
def message(db, tenant_a):
    return make_message(db, tenant_a, email="Reader@Example.org")


def _events(db, message, kind=None):
    query = select(Event).where(Event.send_id == message.send_id)
    if kind:
        query = query.where(Event.event_type == kind)
    return [row[0] for row in read(db, query)]


def test_open_pixel_returns_an_uncached_gif_and_records_the_open(client, db, message):
    token = sign(TokenKind.open, message.send_id, NEW_KEYS)
    response = client.get(f"/t/o/{token}.gif", headers={"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"] and response.headers["pragma"] == "no-cache"
    client.get(f"/t/o/{token}.gif", headers={"User-Agent": "Mozilla/5.0 (iPhone)"})
    opens = _events(db, message, "opened")
    assert len(opens) == 2, "every hit is an open event"
    assert {e.payload["machine_open"] for e in opens} == {True, False}
    assert all(e.organization_id == message.org and e.contact_id == message.contact_id and e.provider == "beacon" for e in opens)


def test_click_redirects_to_the_signed_destination_and_flags_bots(client, db, message):
    token = sign(TokenKind.click, message.send_id, NEW_KEYS, url="https://shop.example/spring?utm=b")
    response = client.get(f"/t/c/{token}", follow_redirects=False, headers={"User-Agent": "Barracuda link scanner"})
    assert response.status_code == 302 and response.headers["location"] == "https://shop.example/spring?utm=b"
    clicks = _events(db, message, "clicked")
    assert len(clicks) == 1 and clicks[0].payload["bot"] is True and clicks[0].payload["url"] == "https://shop.example/spring?utm=b"


def _tamper(token: str) -> list[str]:
    body, kid, mac = token.split(".")
    flipped = mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    return [f"{body}.{kid}.{flipped}", f"{body[:-3]}xyz.{kid}.{mac}", f"{body}.deadbeef.{mac}", token[:-6], "nonsense",
            sign(TokenKind.click, uuid.uuid4(), NEW_KEYS, url="https://evil.example/")]


def test_forged_or_altered_tokens_are_404_without_location(client, db, message):
    click = sign(TokenKind.click, message.send_id, NEW_KEYS, url="https://shop.example/")
    forged_elsewhere = sign(TokenKind.click, message.send_id, ["attacker-key"], url="https://evil.example/")
    for bad in _tamper(click) + [forged_elsewhere, sign(TokenKind.open, message.send_id, NEW_KEYS)]:
        response = client.get(f"/t/c/{bad}", follow_redirects=False)
        assert response.status_code == 404, bad
        assert "location" not in response.headers
        assert response.json()["error"]["code"] == "not_found"
    opened = sign(TokenKind.open, message.send_id, NEW_KEYS)
    for bad in _tamper(opened):
        assert client.get(f"/t/o/{bad}.gif").status_code == 404
    assert _events(db, message) == [], "nothing is recorded for a bad token"


UNSAFE = ["//evil.example/", "javascript:alert(1)", "data:text/html,x", "/relative", "https:\\\\evil.example", "ftp://files.example/"]


def test_unsafe_destinations_are_refused_even_if_signed_with_our_key(client, db, message):
    # Bypass sign()'s own check to prove the redirect endpoint checks again.
    import base64
    import json

    from beacon.tokens import _mac, key_id

    for destination in UNSAFE:
        body = base64.urlsafe_b64encode(json.dumps({"k": "c", "s": message.send_id.hex, "u": destination}).encode()).rstrip(b"=").decode()
        kid = key_id(NEW_KEYS[0])
        token = f"{body}.{kid}.{_mac(NEW_KEYS[0], f'{body}.{kid}')}"
        response = client.get(f"/t/c/{token}", follow_redirects=False)
        assert response.status_code == 404 and "location" not in response.headers, destination
    assert _events(db, message) == []


def test_key_rotation_keeps_links_signed_with_the_old_key_working(client, message):
    old_link = sign(TokenKind.click, message.send_id, ["test-key-old"], url="https://shop.example/old")
    response = client.get(f"/t/c/{old_link}", follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "https://shop.example/old"
    retired = sign(TokenKind.click, message.send_id, ["test-key-retired"], url="https://shop.example/old")
    assert client.get(f"/t/c/{retired}", follow_redirects=False).status_code == 404


def test_unsubscribe_get_only_asks_and_post_is_one_click_and_idempotent(client, db, message):
    token = sign(TokenKind.unsubscribe, message.send_id, NEW_KEYS)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "<form method=post" in page.text and "reader@example.org" in page.text
    assert read(db, select(Suppression.id)) == [] and _events(db, message) == [], "GET must not unsubscribe"
    contact = read(db, select(Contact).where(Contact.id == message.contact_id))[0][0]
    assert contact.status == "active" and contact.consent_email

    for _ in range(2):  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click", without cookies
        response = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert response.status_code == 200 and "location" not in response.headers and "set-cookie" not in response.headers
    suppressions = read(db, select(Suppression).where(Suppression.organization_id == message.org))
    assert [(s[0].address, s[0].reason.value, s[0].source) for s in suppressions] == [("reader@example.org", "unsubscribed", "unsubscribe_link")]
    assert len(_events(db, message, "unsubscribed")) == 1
    contact = read(db, select(Contact).where(Contact.id == message.contact_id))[0][0]
    assert contact.status == "unsubscribed" and contact.consent_email is False


def test_unsubscribe_with_a_forged_token_changes_nothing(client, db, message):
    token = sign(TokenKind.unsubscribe, message.send_id, ["attacker-key"])
    assert client.post(f"/u/{token}").status_code == 404
    assert read(db, select(Suppression.id)) == []


def test_preferences_page_and_save(client, db, message):
    token = sign(TokenKind.preferences, message.send_id, NEW_KEYS)
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and "name=promotional value=on checked" in page.text
    response = client.post(f"/preferences/{token}", data={"newsletter": "on"})
    assert response.status_code == 200 and "newsletter" in response.text
    contact = read(db, select(Contact).where(Contact.id == message.contact_id))[0][0]
    assert (contact.consent_promotional, contact.consent_newsletter) == (False, True)
    assert _events(db, message, "unsubscribed") == []
    client.post(f"/preferences/{token}", data={})
    assert len(_events(db, message, "unsubscribed")) == 1, "switching every category off is an unsubscribe"
    assert client.get(f"/preferences/{sign(TokenKind.unsubscribe, message.send_id, NEW_KEYS)}").status_code == 404


def test_concurrent_hits_are_each_answered_after_their_own_event_is_stored(app, db, tenant_a, monkeypatch):
    """The fast path's group commit: many hits in flight at once, one event per answer, nothing shared."""
    import asyncio

    import httpx

    def routed(*_args):
        raise AssertionError("a genuine hit must be answered by the fast path, not the FastAPI route")

    monkeypatch.setattr("api.tracking.endpoints._commit_hit", routed)

    messages = [make_message(db, tenant_a, email=f"r{i}@example.org") for i in range(6)]
    bot, human = "Mozilla/5.0 SafeLinks scanner", "Mozilla/5.0 (Macintosh)"

    async def fire():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
            requests = []
            for i, m in enumerate(messages):
                ua = bot if i % 2 else human
                requests.append(ac.get(f"/t/o/{sign(TokenKind.open, m.send_id, NEW_KEYS)}.gif", headers={"User-Agent": ua}))
                url = f"https://shop.example/p/{i}?a=1&b=é"
                requests.append(ac.get(f"/t/c/{sign(TokenKind.click, m.send_id, NEW_KEYS, url=url)}", headers={"User-Agent": ua}))
            return await asyncio.gather(*requests)

    responses = asyncio.run(fire())
    for i, m in enumerate(messages):
        pixel, redirect = responses[2 * i], responses[2 * i + 1]
        assert pixel.status_code == 200 and pixel.content.startswith(b"GIF89a") and pixel.headers["content-type"] == "image/gif"
        assert pixel.headers["cache-control"].startswith("no-store") and pixel.headers["content-length"] == str(len(pixel.content))
        assert redirect.status_code == 302 and redirect.headers["location"] == f"https://shop.example/p/{i}?a=1&b=%C3%A9"
        opened, clicked = _events(db, m, "opened"), _events(db, m, "clicked")
        assert len(opened) == 1 and len(clicked) == 1
        assert opened[0].payload == {"user_agent": bot if i % 2 else human, "ip": "203.0.113.9", "machine_open": False}
        assert clicked[0].payload == {"url": f"https://shop.example/p/{i}?a=1&b=é", "user_agent": bot if i % 2 else human,
                                      "ip": "203.0.113.9", "bot": bool(i % 2)}
        assert (clicked[0].organization_id, clicked[0].contact_id, clicked[0].channel.value) == (m.org, m.contact_id, "email")
        assert opened[0].provider_event_id.startswith("open:") and clicked[0].provider_event_id.startswith("click:")


def test_a_genuine_token_for_an_unknown_send_is_404_and_stores_nothing(client, db, message):
    ghost = uuid.uuid4()
    for path in (f"/t/o/{sign(TokenKind.open, ghost, NEW_KEYS)}.gif", f"/t/c/{sign(TokenKind.click, ghost, NEW_KEYS, url='https://x.example/')}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404 and "location" not in response.headers
        assert response.json()["error"]["code"] == "not_found"
    assert read(db, select(Event.id).where(Event.send_id == ghost)) == []
    token = sign(TokenKind.open, message.send_id, NEW_KEYS)
    assert client.post(f"/t/o/{token}.gif").status_code == 405, "only GET is a hit"
    assert _events(db, message) == []


def test_a_row_the_database_refuses_fails_only_its_own_request(monkeypatch):
    """A batch that fails on one row is written again hit by hit: its neighbours are still stored and answered."""
    import asyncio
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    from api.tracking import fastpath
    from beacon.schema.models import EventType

    poisoned, good = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    written: list[list[uuid.UUID]] = []

    def write_hits(_factory, hits, _connection=None):
        ids = [h.send_id for h in hits]
        if poisoned in ids:
            raise IntegrityError("INSERT", {}, Exception("refused"))
        written.append(ids)
        return [True] * len(hits)

    monkeypatch.setattr(fastpath, "write_hits", write_hits)

    async def run():
        committer = fastpath.GroupCommitter(asyncio.get_running_loop(), lambda: None)
        futures = [committer.submit(fastpath.Hit(s, EventType.opened, datetime.now(UTC), f"open:{s}", {}))
                   for s in (good[0], poisoned, good[1])]
        return await asyncio.gather(*futures, return_exceptions=True)

    first, refused, last = asyncio.run(run())
    assert first is True and last is True and isinstance(refused, IntegrityError)
    assert sorted(written) == sorted([[good[0]], [good[1]]]), "the refused batch was retried one hit at a time"


def _assert_stored_as_the_orm_stores(engine, send_id, at, payload, provider_event_id: str) -> None:
    """The writer's row for an open of ``send_id`` equals the same hit written through the ORM, byte for byte
    (the payload as its stored text; PostgreSQL's jsonb as text), and the ghost hit stored nothing."""
    from sqlalchemy import text

    from beacon.schema.db import session_factory
    from beacon.schema.models import Channel, EventType, Send

    with session_factory(engine)() as session:
        send = session.scalars(select(Send).where(Send.send_id == send_id)).one()
        session.add(Event(organization_id=send.organization_id, event_type=EventType.opened, occurred_at=at,
                          provider="beacon", provider_event_id="open:orm", send_id=send.send_id,
                          contact_id=send.contact_id, channel=Channel.email, payload=payload))
        session.commit()
    payload_text = "payload" if engine.dialect.name == "sqlite" else "payload::text"
    columns = f"organization_id, event_type, occurred_at, send_id, contact_id, channel, provider, {payload_text}"
    with engine.connect() as conn:
        stored = {r[0]: tuple(r[1:]) for r in conn.execute(text(
            f"SELECT provider_event_id, {columns} FROM events WHERE provider_event_id IN (:fast, 'open:orm')"),
            {"fast": provider_event_id})}
        assert stored[provider_event_id] == stored["open:orm"]
        assert conn.scalar(text("SELECT count(*) FROM events WHERE provider_event_id = 'open:ghost'")) == 0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_writer_stores_rows_as_the_orm_does_keeps_its_connection_and_reopens_it_after_a_failure(
        backend, migrated_database):
    """The fast path's writer goes below SQLAlchemy's execution layer (api/tracking/event_writer.py)."""
    from datetime import UTC, datetime

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from api.tracking.event_writer import Hit, KeptConnection, write_hits
    from bench._tracking_setup import seed_sends
    from beacon.schema.db import make_engine, session_factory
    from beacon.schema.models import EventType

    with migrated_database(backend, "tracking_writer") as url:
        sends = seed_sends(url, 4, NEW_KEYS)
        engine = make_engine(url)
        factory, kept = session_factory(engine), KeptConnection()
        at = datetime(2026, 11, 24, 1, 2, 3, 456789, tzinfo=UTC)
        payload = {"user_agent": "Mozilla/5.0 (Mäc)", "ip": None, "machine_open": True}
        hits = [Hit(sends[0].send_id, EventType.opened, at, "open:fast", payload),
                Hit(uuid.uuid4(), EventType.opened, at, "open:ghost", payload),
                Hit(sends[1].send_id, EventType.clicked, at, "click:fast", {"url": "https://x.example/?a=1&b=é"})]
        assert write_hits(factory, hits, kept) == [True, False, True]
        burst = [Hit(sends[i % 4].send_id, EventType.opened, at, f"open:burst{i}", {}) for i in range(100)]
        assert write_hits(factory, burst, kept) == [True] * 100, "100 hits: one statement of 128 rows"
        connection = kept.connection
        assert write_hits(factory, [Hit(sends[2].send_id, EventType.opened, at, "open:2", {})], kept) == [True]
        assert kept.connection is connection, "one connection for the writer's life, not one per batch"

        _assert_stored_as_the_orm_stores(engine, sends[0].send_id, at, payload, "open:fast")

        with pytest.raises(IntegrityError):  # the same provider event id again: refused as SQLAlchemy would say it
            write_hits(factory, [Hit(sends[3].send_id, EventType.opened, at, "open:fast", {})], kept)
        assert kept.connection is None, "a failed batch's connection is never reused"
        assert write_hits(factory, [Hit(sends[3].send_id, EventType.opened, at, "open:3", {})], kept) == [True]
        if backend == "postgres":  # the server drops the idle kept connection: the batch is written on a new one
            connection = kept.connection
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            assert write_hits(factory, [Hit(sends[3].send_id, EventType.opened, at, "open:5", {})], kept) == [True]
            assert kept.connection is not connection
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM events")) == 100 + (6 if backend == "postgres" else 5)
        kept.close()
        engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_the_loop_writes_batches_as_the_orm_does_keeps_its_connection_and_reopens_it(migrated_database):
    """PostgreSQL batches are written on the event loop by asyncpg (api/tracking/pg_writer.py):
    one statement a batch, in autocommit, padded to a statement size with rows that join no send."""
    import asyncio
    from datetime import UTC, datetime

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from api.tracking.event_writer import Hit
    from api.tracking.pg_writer import AsyncEventWriter
    from bench._tracking_setup import seed_sends
    from beacon.schema.db import make_engine
    from beacon.schema.models import EventType

    with migrated_database("postgres", "tracking_async_writer") as url:
        sends = seed_sends(url, 40, NEW_KEYS)
        engine = make_engine(url)
        at = datetime(2026, 11, 24, 1, 2, 3, 456789, tzinfo=UTC)
        payload = {"user_agent": "Mozilla/5.0 (Mäc)", "ip": None, "machine_open": True}

        async def scenario():
            writer = AsyncEventWriter()
            hits = [Hit(sends[0].send_id, EventType.opened, at, "open:async", payload),
                    Hit(uuid.uuid4(), EventType.opened, at, "open:ghost", payload),
                    Hit(sends[1].send_id, EventType.clicked, at, "click:async", {"url": "https://x.example/?a=1&b=é"})]
            assert await writer.write(engine, hits) == [True, False, True]
            connection = writer.connection
            burst = [Hit(sends[i % 40].send_id, EventType.opened, at, f"open:burst{i}", {}) for i in range(100)]
            assert await writer.write(engine, burst) == [True] * 100, "100 hits: one statement of 128 rows"
            assert writer.connection is connection, "one connection for the loop's life, not one per batch"
            with pytest.raises(IntegrityError):  # the same provider event id again: refused as SQLAlchemy says it
                await writer.write(engine, [Hit(sends[2].send_id, EventType.opened, at, "open:async", {})])
            assert writer.connection is None, "a failed batch's connection is never reused"
            assert await writer.write(engine, [Hit(sends[2].send_id, EventType.opened, at, "open:2", {})]) == [True]
            connection = writer.connection
            with engine.connect() as conn:  # the server drops the idle kept connection: written on a new one
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            assert await writer.write(engine, [Hit(sends[3].send_id, EventType.opened, at, "open:3", {})]) == [True]
            assert writer.connection is not connection
            await writer.close()

        asyncio.run(scenario())
        _assert_stored_as_the_orm_stores(engine, sends[0].send_id, at, payload, "open:async")
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM events")) == 2 + 100 + 2 + 1
        engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_a_row_the_database_refuses_fails_only_its_own_request(migrated_database):
    """The loop's batch is retried hit by hit when PostgreSQL refuses one row (here a provider event id
    already stored): its neighbours are stored and answered, the refused hit gets the IntegrityError."""
    import asyncio
    from datetime import UTC, datetime

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from api.tracking import fastpath
    from bench._tracking_setup import seed_sends
    from beacon.schema.db import make_engine, session_factory
    from beacon.schema.models import EventType

    with migrated_database("postgres", "tracking_async_refused") as url:
        sends = seed_sends(url, 3, NEW_KEYS)
        engine = make_engine(url)
        factory = session_factory(engine)
        at = datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC)

        async def run():
            committer = fastpath.GroupCommitter(asyncio.get_running_loop(), lambda: factory)
            assert await committer.submit(fastpath.Hit(sends[0].send_id, EventType.opened, at, "open:taken", {}))
            futures = [committer.submit(fastpath.Hit(s.send_id, EventType.opened, at, event_id, {}))
                       for s, event_id in zip(sends, ("open:a", "open:taken", "open:c"), strict=True)]
            outcomes = await asyncio.gather(*futures, return_exceptions=True)
            await committer.aclose()
            return outcomes

        first, refused, last = asyncio.run(run())
        assert first is True and last is True and isinstance(refused, IntegrityError)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT provider_event_id FROM events ORDER BY provider_event_id")).scalars().all()
        assert stored == ["open:a", "open:c", "open:taken"]
        engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_the_next_batch_is_on_the_wire_before_the_answered_requests_resume(migrated_database):
    """When a batch is stored, the hits that gathered meanwhile are sent to PostgreSQL in the same step of
    the loop: before the stored batch's requests resume to send their responses (otherwise no batch is in
    flight while they do, and the loop sits idle waiting for the next one), and before anything else the
    loop has queued meanwhile (a loop turn there delays every batch under load; bench/bench_tracking.py
    measured both)."""
    import asyncio
    from datetime import UTC, datetime

    from api.tracking import fastpath
    from bench._tracking_setup import seed_sends
    from beacon.schema.db import make_engine, session_factory
    from beacon.schema.models import EventType

    with migrated_database("postgres", "tracking_async_order") as url:
        sends = seed_sends(url, 3, NEW_KEYS)
        engine = make_engine(url)
        factory = session_factory(engine)
        at = datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC)
        order: list[str] = []

        async def run():
            committer = fastpath.GroupCommitter(asyncio.get_running_loop(), lambda: factory)
            real_write, first_sent = committer.on_loop_async.write, asyncio.Event()

            async def write(engine_, hits):  # the real write, noted as it starts and as its reply is read
                order.append(f"write {len(hits)}")
                first_sent.set()
                stored = await real_write(engine_, hits)
                order.append(f"reply {len(hits)}")
                asyncio.get_running_loop().call_soon(order.append, "next loop turn")
                return stored

            committer.on_loop_async.write = write

            async def request(send, name):
                assert await committer.submit(fastpath.Hit(send.send_id, EventType.opened, at, f"open:{name}", {}))
                order.append(f"answered {name}")

            first = asyncio.create_task(request(sends[0], "a"))
            await first_sent.wait()  # a's batch is in flight: b and c gather for the next one
            await asyncio.gather(first, request(sends[1], "b"), request(sends[2], "c"))
            await committer.aclose()

        asyncio.run(run())
        assert order[:5] == ["write 1", "reply 1", "write 2", "next loop turn", "answered a"]
        assert order[5:] == ["reply 2", "next loop turn", "answered b", "answered c"]
        engine.dispose()


def test_on_sqlite_a_held_write_lock_sends_the_batch_to_the_writer_thread_and_never_blocks_the_loop(
        migrated_database, tmp_path):
    """SQLite batches are written on the event loop without waiting for the file's write lock: while
    another connection holds it, the loop keeps answering and the hit is stored once it is free."""
    import asyncio
    import sqlite3
    import threading

    import httpx

    from api.main import create_app
    from bench._tracking_setup import seed_sends
    from beacon.settings import Settings

    with migrated_database("sqlite", "tracking_lock") as url:
        sends = seed_sends(url, 3, NEW_KEYS)
        app = create_app(Settings(database_url=url, signing_keys=NEW_KEYS, home=tmp_path / "home"))
        order: list[str] = []
        holding, release = threading.Event(), threading.Event()

        def hold_the_write_lock():
            other = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            holding.set()
            release.wait(10)
            order.append("lock released")
            other.execute("COMMIT")
            other.close()

        async def fire():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get(sends[0].open_path)).status_code == 200  # the loop's connection is open
                holder = threading.Thread(target=hold_the_write_lock)
                holder.start()
                await asyncio.to_thread(holding.wait, 10)
                pixel = asyncio.create_task(client.get(sends[1].open_path))
                health = await client.get("/health")
                order.append("health answered")
                release.set()
                response = await pixel
                order.append("pixel answered")
                holder.join()
                return health, response

        health, pixel = asyncio.run(fire())
        assert health.status_code == 200 and pixel.status_code == 200
        assert order == ["health answered", "lock released", "pixel answered"]
        engine = app.state.engine
        with engine.connect() as conn:
            stored = conn.execute(select(Event.send_id).where(Event.event_type == "opened")).scalars().all()
        assert sorted(stored) == sorted([sends[0].send_id, sends[1].send_id])
        engine.dispose()


def test_beacon_api_freezes_its_start_up_heap_and_an_app_made_in_a_test_does_not(tmp_path):
    """``beacon api``'s app (``serve_app``) moves what start-up loaded out of the collector's sight, so a full
    collection under load does not walk it (it had held the loop ~100 ms); ``create_app`` leaves the test
    process's collector alone. Each app's lifespan runs in a child process of its own."""
    import os
    import subprocess
    import sys

    code = ("import gc, sys\nfrom fastapi.testclient import TestClient\nfrom api import main\n"
            "with TestClient(getattr(main, sys.argv[1])()):\n    print(gc.get_freeze_count())\n")
    env = {**os.environ, "BEACON_HOME": str(tmp_path), "BEACON_DATABASE_URL": f"sqlite:///{tmp_path / 'beacon.db'}"}
    frozen = {factory: int(subprocess.run([sys.executable, "-c", code, factory], env=env, capture_output=True, text=True,
                                          check=True).stdout.split()[-1])
              for factory in ("serve_app", "create_app")}
    assert frozen["serve_app"] > 50_000 and frozen["create_app"] == 0
