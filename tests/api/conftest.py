"""API fixtures: one migrated database per back end per test session, each test inside a
transaction that is rolled back at the end (the app's sessions join it through savepoints).

Tenants are made with the same ``bootstrap_organization`` the demo calls; webhook secrets are
set as for real providers, so the tests sign payloads exactly as SendGrid, Twilio and Stripe do.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from api.api_keys import repository as keys_repo
from api.main import create_app
from api.organizations.service import bootstrap_organization
from api.ratelimit import TokenBucketLimiter
from beacon.schema.db import make_engine
from beacon.schema.models import Role
from beacon.settings import Settings

SIGNING_KEYS = "test-key-new,test-key-old"
TWILIO_TOKEN = "twilio-test-auth-token"
STRIPE_SECRET = "whsec_test_secret"
PUBLIC_BASE_URL = "https://beacon.example.com"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Real argon2, with the library's cheapest profile: the default costs ~1 s per hash on CI."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    monkeypatch.setattr("api.security._passwords", PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture(scope="session")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_db_url(request, migrated_database) -> Iterator[str]:
    """A migrated operational DB shared by the session's API tests on one back end."""
    with migrated_database(request.param, "api") as url:
        yield url


@pytest.fixture(scope="session")
def api_engine(api_db_url):
    engine = make_engine(api_db_url)
    if engine.dialect.name == "sqlite":
        # pysqlite starts transactions lazily, which breaks SAVEPOINT inside an outer transaction:
        # SQLAlchemy's documented recipe takes over BEGIN so the test's rollback undoes everything.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN")

    yield engine
    engine.dispose()


@pytest.fixture
def settings(api_db_url, sendgrid_key, tmp_path) -> Settings:
    public = sendgrid_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Settings(
        database_url=api_db_url, signing_keys=SIGNING_KEYS, public_base_url=PUBLIC_BASE_URL, home=tmp_path / "home",
        warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        sendgrid_api_key="SG.test", sendgrid_webhook_public_key=base64.b64encode(public).decode(),
        twilio_account_sid="AC" + "1" * 32, twilio_auth_token=TWILIO_TOKEN,
        stripe_api_key="sk_test_x", stripe_webhook_secret=STRIPE_SECRET,
    )


@pytest.fixture
def db(api_engine) -> Iterator[sessionmaker[Session]]:
    """A session factory bound to one connection whose outer transaction is rolled back after the test."""
    connection = api_engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield factory
    outer.rollback()
    connection.close()


@pytest.fixture
def app(settings, db):
    application = create_app(settings, rate_limiter=TokenBucketLimiter(capacity=10_000, refill_per_second=1_000))
    application.state.engine.dispose()
    application.state.session_factory = db
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def openapi_paths() -> dict:
    """The app's routes as OpenAPI paths (built once: generating the schema takes seconds)."""
    return create_app(Settings(database_url="sqlite://")).openapi()["paths"]


@dataclass
class Tenant:
    org: int
    slug: str
    admin_key: str
    admin_user_id: int
    keys: dict[Role, str]

    def headers(self, role: Role = Role.admin) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def make_tenant(db: sessionmaker[Session], slug: str, type_code: str = "ecommerce") -> Tenant:
    with db() as session:
        made = bootstrap_organization(session, type_code=type_code, name=slug.title(), slug=slug,
                                      admin_email=f"admin@{slug}.example", admin_password="correct horse battery")
        keys = {Role.admin: made.api_key}
        for role in (Role.manager, Role.marketer, Role.viewer):
            keys[role] = keys_repo.create(session, made.org, name=f"{role.value} key", role=role)
        session.commit()
    return Tenant(made.org, slug, made.api_key, made.user_id, keys)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return make_tenant(db, "alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return make_tenant(db, "bravo", "church")


@dataclass
class Message:
    org: int
    send_id: uuid.UUID
    contact_id: int
    campaign_id: int
    address: str


def make_message(db: sessionmaker[Session], tenant: Tenant, *, email: str = "reader@example.org",
                 phone: str | None = None, channel: str = "email") -> Message:
    """A contact, a list, a campaign and one ledger row, as activation would have written them."""
    from beacon.schema.models import Campaign, Contact, ContactList, Send, SendStatus

    with db() as session:
        contact = Contact(organization_id=tenant.org, email=email, email_normalized=email.lower(), phone=phone,
                          consent_email=True, consent_sms=phone is not None, consent_promotional=True, consent_newsletter=True)
        audience = ContactList(organization_id=tenant.org, name=f"list {uuid.uuid4().hex[:6]}")
        session.add_all([contact, audience])
        session.flush()
        campaign = Campaign(organization_id=tenant.org, name="Spring", list_id=audience.id, template_code="newsletter",
                            channel=channel, status="sent")
        session.add(campaign)
        session.flush()
        send = Send(organization_id=tenant.org, campaign_id=campaign.id, contact_id=contact.id, channel=channel,
                    address=phone if channel == "sms" else email.lower(), status=SendStatus.sent,
                    provider_message_id=f"msg-{uuid.uuid4().hex[:10]}")
        session.add(send)
        session.commit()
        return Message(tenant.org, send.send_id, contact.id, campaign.id, send.address)


def read(db: sessionmaker[Session], statement):
    """Run a query in a fresh session (what is committed, not what a client was told)."""
    with db() as session:
        return session.execute(statement).all()
