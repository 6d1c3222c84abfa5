"""The shared contact write path: bulk, tenant-scoped, email identity normalised, on both back ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Contact
from beacon.store.contacts import InvalidContact, insert_contacts, normalise_email, set_contact_status
from beacon.store.organizations import create_organization


@pytest.fixture
def engine(migrated_db):
    engine = make_engine(migrated_db)
    yield engine
    engine.dispose()


def _orgs(engine):
    with session_scope(engine) as session:
        a, _ = create_organization(session, type_code="ecommerce", name="A", slug="a")
        b, _ = create_organization(session, type_code="church", name="B", slug="b")
    return a, b


def test_bulk_insert_streams_chunks_and_returns_ids_in_order(engine):
    a, _ = _orgs(engine)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = ({"email": f"  Person{i}@Example.COM ", "first_name": f"P{i}", "created_at": at} for i in range(11))
    with session_scope(engine) as session:
        ids = insert_contacts(session, a, rows, chunk_size=4)
    assert len(ids) == 11 and len(set(ids)) == 11
    with session_scope(engine) as session:
        stored = session.execute(select(Contact).where(Contact.id.in_(ids))).scalars().all()
        by_id = {c.id: c for c in stored}
        for i, id_ in enumerate(ids):
            contact = by_id[id_]
            assert contact.first_name == f"P{i}"  # ids come back in input order
            assert contact.email == f"Person{i}@Example.COM"
            assert contact.email_normalized == f"person{i}@example.com"
            assert contact.organization_id == a
            assert contact.status == "active" and contact.tags == [] and contact.custom_fields == {}
            assert contact.updated_at.replace(tzinfo=UTC) == at  # defaults to created_at


def test_identity_is_case_and_space_insensitive_per_tenant(engine):
    a, b = _orgs(engine)
    with session_scope(engine) as session:
        insert_contacts(session, a, [{"email": "ann@x.io"}])
        insert_contacts(session, b, [{"email": " ANN@x.io"}])  # another tenant: allowed
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            insert_contacts(session, a, [{"email": "Ann@X.io  "}])


def test_bad_rows_are_refused_with_their_position(engine):
    a, _ = _orgs(engine)
    with session_scope(engine) as session:
        with pytest.raises(InvalidContact, match=r"contact #2: unknown field\(s\) \['organization_id'\]"):
            insert_contacts(session, a, [{"email": "a@x.io"}, {"email": "b@x.io", "organization_id": 99}])
        with pytest.raises(InvalidContact, match="contact #1: unknown status 'gone'"):
            insert_contacts(session, a, [{"email": "c@x.io", "status": "gone"}])


def test_status_change_is_tenant_scoped(engine):
    a, b = _orgs(engine)
    at = datetime(2026, 5, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        [mine] = insert_contacts(session, a, [{"email": "m@x.io"}])
        [theirs] = insert_contacts(session, b, [{"email": "t@x.io"}])
        # Asking org A to change B's contact must not touch it.
        assert set_contact_status(session, a, [(mine, "unsubscribed", at), (theirs, "unsubscribed", at)]) == 2
    with session_scope(engine) as session:
        assert session.get(Contact, mine).status == "unsubscribed"
        assert session.get(Contact, mine).updated_at.replace(tzinfo=UTC) == at
        assert session.get(Contact, theirs).status == "active"
        with pytest.raises(InvalidContact, match="unknown status 'paused'"):
            set_contact_status(session, a, [(mine, "paused", at)])


def test_normalise_email():
    assert normalise_email("  Ann@X.IO ") == ("Ann@X.IO", "ann@x.io")
    assert normalise_email("   ") == (None, None)
    assert normalise_email(None) == (None, None)


def test_bulk_inserts_are_searchable_and_never_leave_the_search_trigger_paused(engine):
    """SQLite's contact search index (migration 0008) is filled a chunk at a time by the bulk insert,
    row by row by its trigger otherwise; a failed chunk leaves the trigger running."""
    if engine.dialect.name == "postgresql":  # PostgreSQL indexes the contacts table itself: nothing to keep
        with engine.connect() as conn:
            names = set(conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'contacts'").scalars())
        assert {"ix_contacts_search_email", "ix_contacts_search_name"} <= names
        return
    a, _ = _orgs(engine)
    rows = ({"email": f"bulk{i}@x.io", "first_name": "Zed", "last_name": f"Quill{i}"} for i in range(9))
    with session_scope(engine) as session:
        ids = insert_contacts(session, a, rows, chunk_size=4)
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            insert_contacts(session, a, [{"email": "new@x.io"}, {"email": "BULK1@x.io"}])
    with session_scope(engine) as session:
        session.add(Contact(organization_id=a, email="orm@x.io", email_normalized="orm@x.io", first_name="Zed"))
        session.flush()
        indexed = dict(session.connection().exec_driver_sql("SELECT rowid, name FROM contacts_search").all())
        assert session.connection().exec_driver_sql("SELECT count(*) FROM contacts_search_paused").scalar() == 0
        orm_id = session.scalar(select(Contact.id).where(Contact.email_normalized == "orm@x.io"))
    assert {i: indexed[i] for i in ids} == {id_: f"Zed Quill{n}" for n, id_ in enumerate(ids)}
    assert indexed[orm_id] == "Zed ", "an insert outside the bulk path goes through the trigger"
    assert len(indexed) == len(ids) + 1, "the refused chunk indexed nothing"
