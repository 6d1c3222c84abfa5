"""kill -9 under load: every request the server answered 2xx/3xx has its event stored.

``beacon api`` runs as a real uvicorn process on each back end; open-pixel, click and signed
SendGrid webhook requests go to it concurrently over HTTP, and once a good number have been
answered the server is SIGKILLed mid-load (no graceful shutdown, requests still in flight). The
database is then read back: each answered request is matched to its own row (the send_id of a
pixel or click, the ``sg_event_id`` of a webhook). Requests cut off by the kill may or may not be
stored; they were never acknowledged, so a provider or a browser would retry them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from bench._tracking_setup import Server, beacon_api_command, free_port, seed_sends
from beacon.providers.credentials import fake_sendgrid_signing_key
from beacon.schema.db import make_engine
from beacon.schema.models import Event

KEY = "kill-test-signing-key"
SENDS = 200
KILL_AFTER_ANSWERS = 120  # enough acknowledged writes of every kind before the kill
WORKERS = 12


@dataclass(frozen=True)
class Hit:
    kind: str  # open | click | sendgrid
    send_id: uuid.UUID
    path: str
    body: bytes | None = None
    sg_event_id: str | None = None


def _sendgrid_hit(send_id: uuid.UUID, org: int, key: ec.EllipticCurvePrivateKey) -> Hit:
    event_id = uuid.uuid4().hex
    payload = json.dumps([{"email": "reader@example.org", "timestamp": int(time.time()), "event": "delivered",
                           "sg_event_id": event_id, "sg_message_id": f"m-{event_id}", "send_id": str(send_id),
                           "organization_id": str(org)}]).encode()
    return Hit("sendgrid", send_id, "/webhooks/sendgrid", payload, event_id)


def _hits(sends) -> list[Hit]:
    key = fake_sendgrid_signing_key()
    hits = []
    for s in sends:  # interleaved, so every kind is in flight when the kill comes
        hits += [Hit("open", s.send_id, s.open_path), Hit("click", s.send_id, s.click_path), _sendgrid_hit(s.send_id, s.org, key)]
    return hits


async def _fire(base_url: str, hits: list[Hit], server: Server) -> tuple[list[Hit], int]:
    """Send ``hits`` from WORKERS concurrent clients; SIGKILL the server once enough are answered.
    Returns the acknowledged hits and how many requests failed (cut off by the kill)."""
    key = fake_sendgrid_signing_key()
    queue = list(reversed(hits))
    acknowledged: list[Hit] = []
    failed = 0
    killed = asyncio.Event()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failed
        while queue and not (killed.is_set() and failed > WORKERS * 4):
            hit = queue.pop()
            try:
                if hit.body is None:
                    response = await client.get(hit.path)
                else:  # signed at send time: SendGrid refuses timestamps older than 10 minutes
                    stamp = str(int(time.time()))
                    signature = base64.b64encode(key.sign(stamp.encode() + hit.body, ec.ECDSA(hashes.SHA256()))).decode()
                    response = await client.post(hit.path, content=hit.body, headers={
                        "Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": signature,
                        "X-Twilio-Email-Event-Webhook-Timestamp": stamp})
            except httpx.TransportError:
                failed += 1
                continue
            if 200 <= response.status_code < 400:
                acknowledged.append(hit)
                if len(acknowledged) >= KILL_AFTER_ANSWERS and not killed.is_set():
                    killed.set()
                    server.process.kill()  # SIGKILL, while the other workers' requests are in flight
            else:
                raise AssertionError(f"{hit.kind}: unexpected {response.status_code} {response.text[:300]}")

    limits = httpx.Limits(max_connections=WORKERS)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10.0, follow_redirects=False) as client:
        await asyncio.gather(*(worker(client) for _ in range(WORKERS)))
    assert killed.is_set(), "the server was never killed: fewer answers than KILL_AFTER_ANSWERS"
    return acknowledged, failed


@pytest.mark.slow
def test_every_acknowledged_request_survives_kill_9(op_db_url, tmp_path):
    sends = seed_sends(op_db_url, SENDS, [KEY], slug="killtest")
    port = free_port()
    env = {"BEACON_DATABASE_URL": op_db_url, "BEACON_HOME": str(tmp_path / "home"), "BEACON_SIGNING_KEYS": KEY}
    server = Server(beacon_api_command(port), port, env)
    try:
        acknowledged, failed = asyncio.run(_fire(server.base_url, _hits(sends), server))
        assert server.process.wait(timeout=10) == -9, "the server must die by SIGKILL, not shut down"
    finally:
        server.stop()

    assert failed > 0, "no request was cut off: the kill did not land mid-load"
    assert {hit.kind for hit in acknowledged} == {"open", "click", "sendgrid"}

    engine = make_engine(op_db_url)  # also proves the database opens cleanly after the crash
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Event.event_type, Event.send_id, Event.provider, Event.provider_event_id)).all()
    finally:
        engine.dispose()
    stored = {"open": {r.send_id for r in rows if r.event_type == "opened"},
              "click": {r.send_id for r in rows if r.event_type == "clicked"},
              "sendgrid": {r.provider_event_id for r in rows if r.provider == "sendgrid"}}
    lost = [hit for hit in acknowledged
            if (hit.sg_event_id if hit.kind == "sendgrid" else hit.send_id) not in stored[hit.kind]]
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged requests have no stored event: {lost[:5]}"
