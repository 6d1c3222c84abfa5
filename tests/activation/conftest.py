"""Activation fixtures: a migrated operational DB (SQLite and PostgreSQL), the local fake providers
(spoken to by the official SDKs over HTTP), and a small world of contacts, templates and campaigns."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import insert

from beacon.providers.fake import FakeProviderServer
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Campaign, Contact, ContactList, ListMember, Suppression, Template
from beacon.store.organizations import create_organization
from beacon.tenancy import OrgId

CREDENTIALS = ("BEACON_SENDGRID_API_KEY", "BEACON_TWILIO_ACCOUNT_SID", "BEACON_TWILIO_AUTH_TOKEN")
BASE_URL = "https://links.beacon.test"


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeProviderServer]:
    server = FakeProviderServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeProviderServer, monkeypatch) -> FakeProviderServer:
    fake_server.state.reset()
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BEACON_FAKE_PROVIDERS_URL", fake_server.url)
    monkeypatch.setenv("BEACON_PUBLIC_BASE_URL", BASE_URL)
    monkeypatch.setenv("BEACON_SIGNING_KEYS", "activation-test-key")
    return fake_server


def sendgrid_messages(fake: FakeProviderServer) -> list[dict[str, Any]]:
    return fake.control("GET", "/_fake/messages", params={"provider": "sendgrid"})["sendgrid"]


def twilio_messages(fake: FakeProviderServer) -> list[dict[str, Any]]:
    return fake.control("GET", "/_fake/messages", params={"provider": "twilio"})["twilio"]


_slugs = itertools.count(1)


@dataclass
class World:
    """Builds tenant data straight into the operational DB (bulk inserts keep it fast)."""

    url: str
    org: OrgId = OrgId(0)
    engine: Any = None
    ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.url)
        with session_scope(self.engine) as session:
            self.org, _ = create_organization(
                session, type_code="ecommerce", name="Shop", slug=f"shop-{next(_slugs)}",
                domain="shop.example.com", postal_address="1 Main St, Springfield", settings={},
            )

    def set_org_settings(self, **settings: Any) -> None:
        from beacon.schema.models import Organization

        with session_scope(self.engine) as session:
            session.get(Organization, int(self.org)).settings = settings

    def contacts(self, n: int, *, start: int = 0, **overrides: Any) -> list[int]:
        rows = []
        for i in range(start, start + n):
            row = {
                "organization_id": int(self.org), "email": f"person{i}@example.com", "email_normalized": f"person{i}@example.com",
                "phone": f"+1415555{i:04d}", "first_name": f"Ann{i}", "last_name": "Lee", "language": "en",
                "status": "active", "consent_email": True, "consent_sms": True, "consent_promotional": True,
                "consent_newsletter": True, "consent_transactional": True, "tags": [], "custom_fields": {"tier": "gold"},
            }
            row.update(overrides)
            rows.append(row)
        with self.engine.begin() as conn:
            result = conn.execute(insert(Contact.__table__).returning(Contact.__table__.c.id), rows)
            ids = [r[0] for r in result]
        self.ids.extend(ids)
        return ids

    def list_of(self, contact_ids: list[int], name: str | None = None) -> int:
        with self.engine.begin() as conn:
            list_id = conn.execute(
                insert(ContactList.__table__).returning(ContactList.__table__.c.id),
                {"organization_id": int(self.org), "name": name or f"list-{next(_slugs)}"},
            ).scalar_one()
            if contact_ids:
                conn.execute(
                    insert(ListMember.__table__),
                    [{"organization_id": int(self.org), "list_id": list_id, "contact_id": c} for c in contact_ids],
                )
        return list_id

    def template(self, code: str = "promo", *, language: str = "en", channel: str = "email", platform: bool = False,
                 subject: str = "Hi {{ contact.first_name }}", text: str | None = None, html: str | None = None,
                 category: str = "promotional", required: list[str] | None = None) -> int:
        if text is None:
            text = "Hello {{ contact.first_name }}, from {{ organization.name }}. https://shop.example.com/sale"
        if html is None and channel == "email":
            html = ('<html><body><p>Hello {{ contact.first_name }} ({{ contact.custom_fields.tier }})</p>'
                    '<a href="https://shop.example.com/sale?c={{ contact.external_id }}">Sale</a> '
                    '<a href="{{ unsubscribe_url }}">unsubscribe</a></body></html>')
        with self.engine.begin() as conn:
            return conn.execute(
                insert(Template.__table__).returning(Template.__table__.c.id),
                {"organization_id": None if platform else int(self.org), "code": code, "language": language,
                 "channel": channel, "category": category, "subject": subject, "html_body": html, "text_body": text,
                 "required_variables": required or []},
            ).scalar_one()

    def campaign(self, *, list_id: int | None = None, segment_id: int | None = None, template_code: str = "promo",
                 channel: str = "email", category: str = "promotional", **extra: Any) -> int:
        values = {"organization_id": int(self.org), "name": f"campaign-{next(_slugs)}", "list_id": list_id,
                  "segment_id": segment_id, "template_code": template_code, "channel": channel, "category": category,
                  "status": "draft", "variants": [], "automation_steps": [], "holdout_percent": 0}
        values.update(extra)
        with self.engine.begin() as conn:
            return conn.execute(insert(Campaign.__table__).returning(Campaign.__table__.c.id), values).scalar_one()

    def suppress(self, address: str, channel: str = "email", reason: str = "unsubscribed") -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(Suppression.__table__), {"organization_id": int(self.org), "channel": channel,
                                                          "address": address, "reason": reason, "source": "test"})


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def activation_db(request, migrated_database) -> Iterator[str]:
    """One migrated operational DB per back end for the whole session: every test gets its own
    organization (tenant scoping keeps tests apart), which saves a migration per test."""
    with migrated_database(request.param, "activation") as url:
        yield url


@pytest.fixture
def world(activation_db: str, monkeypatch) -> Iterator[World]:
    monkeypatch.setenv("BEACON_DATABASE_URL", activation_db)
    w = World(activation_db)
    yield w
    w.engine.dispose()
