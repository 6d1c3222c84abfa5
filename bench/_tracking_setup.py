"""Shared by the tracking benchmark and the kill -9 test: a seeded send ledger and a real server process.

``seed_sends`` writes what activation would have: one tenant, contacts, a campaign and one ledger
row per contact, and returns each send's signed open and click paths. ``Server`` runs a command
(``beacon api`` or uvicorn on the bare ASGI app) as a child process and waits until it answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

DESTINATION = "https://shop.example.com/spring?utm_source=beacon"


@dataclass(frozen=True)
class SeededSend:
    send_id: uuid.UUID
    org: int
    open_path: str
    click_path: str


def seed_sends(db_url: str, count: int, signing_keys: list[str], *, slug: str = "bench") -> list[SeededSend]:
    """Migrate ``db_url`` and write one tenant with ``count`` sent emails; their tracking paths."""
    from api.organizations.service import bootstrap_organization
    from beacon.schema import migrate
    from beacon.schema.db import make_engine, session_scope
    from beacon.schema.models import Campaign, Contact, ContactList, Send, SendStatus
    from beacon.tokens import TokenKind, sign

    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            made = bootstrap_organization(session, type_code="ecommerce", name=slug.title(), slug=slug,
                                          admin_email=f"owner@{slug}.example", admin_password="a long bench passphrase")
            contacts = [Contact(organization_id=made.org, email=f"reader{i}@{slug}.example",
                                email_normalized=f"reader{i}@{slug}.example", consent_email=True) for i in range(count)]
            audience = ContactList(organization_id=made.org, name="bench audience")
            session.add_all([*contacts, audience])
            session.flush()
            campaign = Campaign(organization_id=made.org, name="Spring", list_id=audience.id, template_code="newsletter",
                                channel="email", status="sent")
            session.add(campaign)
            session.flush()
            sends = [Send(organization_id=made.org, campaign_id=campaign.id, contact_id=c.id, channel="email",
                          address=c.email_normalized, status=SendStatus.sent, send_id=uuid.uuid4()) for c in contacts]
            session.add_all(sends)
            org = made.org
    finally:
        engine.dispose()
    return [SeededSend(s.send_id, org, f"/t/o/{quote(sign(TokenKind.open, s.send_id, signing_keys), safe='')}.gif",
                       f"/t/c/{quote(sign(TokenKind.click, s.send_id, signing_keys, url=DESTINATION), safe='')}")
            for s in sends]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def beacon_api_command(port: int) -> list[str]:
    """``beacon api`` exactly as users start it (one uvicorn worker)."""
    return [sys.executable, "-c", "from beacon.cli import main; main()", "api", "--port", str(port), "--workers", "1"]


def bare_asgi_command(port: int) -> list[str]:
    """The bare ASGI ceiling on the same uvicorn settings ``beacon api`` uses."""
    return [sys.executable, "-m", "uvicorn", "bench._bare_asgi:app", "--port", str(port), "--workers", "1",
            "--proxy-headers", "--forwarded-allow-ips", "*"]


class Server:
    """A server child process; ``kill()`` is SIGKILL (no graceful shutdown), ``stop()`` is SIGTERM."""

    def __init__(self, command: list[str], port: int, env: dict[str, str] | None = None, *, cwd: Path | None = None,
                 ready_timeout: float = 60.0) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server must never block on it
        self.process = subprocess.Popen(command, env={**os.environ, **(env or {})}, cwd=cwd,
                                        stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.stderr()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on port {port} not ready after {ready_timeout} s: {' '.join(command)}")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
