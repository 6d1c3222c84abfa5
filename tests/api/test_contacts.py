"""Contacts: CRUD, filters, cursor pagination, GDPR export and erasure."""

from __future__ import annotations

from sqlalchemy import select

from beacon.schema.models import Event, Send, Suppression
from beacon.tokens import TokenKind, sign
from tests.api.conftest import make_message, read


def test_create_read_update_delete(client, tenant_a):
    h = tenant_a.headers()
    created = client.post("/v1/contacts", json={"email": " Ada@Example.org ", "phone": "+1 415 555 0123",
                                                "contact_type": "customer", "tags": ["vip"]}, headers=h)
    assert created.status_code == 201, created.text
    contact = created.json()
    assert (contact["email"], contact["phone"], contact["contact_type"]) == ("Ada@example.org", "+14155550123", "customer")
    duplicate = client.post("/v1/contacts", json={"email": "ADA@example.org"}, headers=h)
    assert duplicate.status_code == 409 and "already has the email" in duplicate.json()["error"]["message"]
    bad_type = client.post("/v1/contacts", json={"email": "x@example.org", "contact_type": "wizard"}, headers=h)
    assert bad_type.status_code == 422 and "unknown contact type 'wizard'" in bad_type.json()["error"]["message"]
    bad_phone = client.post("/v1/contacts", json={"phone": "12"}, headers=h)
    assert bad_phone.status_code == 422 and "phone" in bad_phone.json()["error"]["message"]
    updated = client.patch(f"/v1/contacts/{contact['id']}", json={"first_name": "Ada", "status": "blocked"}, headers=h)
    assert updated.json()["first_name"] == "Ada" and updated.json()["status"] == "blocked"
    assert client.delete(f"/v1/contacts/{contact['id']}", headers=h).status_code == 204
    assert client.get(f"/v1/contacts/{contact['id']}", headers=h).status_code == 404


def test_filters_and_cursor_pagination(client, tenant_a):
    h = tenant_a.headers()
    for i in range(7):
        client.post("/v1/contacts", json={"email": f"p{i}@example.org", "first_name": "Pat" if i % 2 else "Sam",
                                          "tags": ["even"] if i % 2 == 0 else ["odd"],
                                          "contact_type": "lead" if i < 3 else "customer"}, headers=h)
    seen, cursor = [], None
    while True:
        page = client.get("/v1/contacts", params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=h).json()
        seen += [c["email"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{i}@example.org" for i in range(7)]
    def emails(**params):
        return [c["email"] for c in client.get("/v1/contacts", params=params, headers=h).json()["items"]]
    assert emails(tag="odd") == ["p1@example.org", "p3@example.org", "p5@example.org"]
    assert emails(contact_type="lead", tag="even") == ["p0@example.org", "p2@example.org"]
    assert emails(q="pat") == ["p1@example.org", "p3@example.org", "p5@example.org"]
    assert emails(q="P4@EXAMPLE") == ["p4@example.org"]
    assert emails(q="%") == [], "LIKE wildcards in a search are literal"
    assert emails(status="unsubscribed") == []


def test_gdpr_export_holds_everything_and_erasure_removes_personal_data(client, db, tenant_a):
    message = make_message(db, tenant_a, email="Subject@Example.org")
    h = tenant_a.headers()
    audience = client.post("/v1/lists", json={"name": "readers"}, headers=h).json()["id"]
    client.post(f"/v1/lists/{audience}/members", json={"contact_ids": [message.contact_id]}, headers=h)
    client.get(f"/t/o/{sign(TokenKind.open, message.send_id, ['test-key-new'])}.gif", headers={"User-Agent": "UA/1"})
    client.post(f"/u/{sign(TokenKind.unsubscribe, message.send_id, ['test-key-new'])}")

    export = client.get(f"/v1/contacts/{message.contact_id}/export", headers=h)
    assert export.status_code == 200
    data = export.json()
    assert data["contact"]["email"] == "Subject@Example.org"
    assert {m["list_id"] for m in data["list_memberships"]} >= {audience}
    assert [s["send_id"] for s in data["sends"]] == [str(message.send_id)]
    assert sorted(e["event_type"] for e in data["events"]) == ["opened", "unsubscribed"]
    assert [s["address"] for s in data["suppressions"]] == ["subject@example.org"]

    erased = client.post(f"/v1/contacts/{message.contact_id}/erase", headers=h).json()
    assert erased["email"] is None and erased["first_name"] is None and erased["status"] == "blocked"
    assert erased["erased_at"] is not None
    assert read(db, select(Send.address).where(Send.send_id == message.send_id)) == [(None,)]
    assert all(p == {} for (p,) in read(db, select(Event.payload).where(Event.contact_id == message.contact_id)))
    assert read(db, select(Suppression.address).where(Suppression.organization_id == tenant_a.org)) == [("subject@example.org",)], \
        "the suppression stays so the person is never mailed again"
    after = client.get(f"/v1/contacts/{message.contact_id}/export", headers=h).json()
    assert "Subject@Example.org" not in str(after["contact"]) and after["list_memberships"] == []
    assert client.patch(f"/v1/contacts/{message.contact_id}", json={"first_name": "X"}, headers=h).status_code == 409


def test_import_file_uses_the_pipeline_importer(client, tenant_a):
    csv = "E-mail,First Name,Tags,Customer ID\nann@example.org,Ann,vip;new,c1\nnot-an-email,Bob,,c2\nann@example.org,Ann,,c1\n"
    response = client.post("/v1/contacts/import", files={"file": ("people.csv", csv.encode(), "text/csv")},
                           headers=tenant_a.headers())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["read"] == 3 and report["inserted"] == 1 and report["quarantined"] >= 1
    emails = [c["email"] for c in client.get("/v1/contacts", headers=tenant_a.headers()).json()["items"]]
    assert emails == ["ann@example.org"]
    empty = client.post("/v1/contacts/import", files={"file": ("empty.csv", b"", "text/csv")}, headers=tenant_a.headers())
    assert empty.status_code == 422 and empty.json()["error"]["message"].startswith("file: rejected")


def test_list_items_are_the_same_documents_as_single_reads(client, tenant_a, tenant_b):
    """The list is serialized on its own path (rows validated once, not ORM objects): it must say
    exactly what GET /v1/contacts/{id} says, contact type code and UTC timestamps included."""
    h = tenant_a.headers()
    ids = [client.post("/v1/contacts", json=body, headers=h).json()["id"] for body in (
        {"email": "full@example.org", "phone": "+1 415 555 0123", "first_name": "Ada", "last_name": "L", "contact_type": "customer",
         "tags": ["vip", "b"], "custom_fields": {"tier": 2, "note": "é"}, "birth_date": "1990-02-03", "country": "US"},
        {"external_id": "ext-1"},
    )]
    client.post("/v1/contacts", json={"email": "other@example.org"}, headers=tenant_b.headers())
    listed = client.get("/v1/contacts", headers=h)
    assert listed.status_code == 200 and listed.headers["content-type"] == "application/json"
    assert listed.json() == {"items": [client.get(f"/v1/contacts/{i}", headers=h).json() for i in ids], "next_cursor": None}
    first = listed.json()["items"][0]
    assert first["contact_type"] == "customer" and first["created_at"].endswith("Z") and first["custom_fields"]["note"] == "é"


def test_search_finds_substrings_by_trigram_index_and_follows_edits_erasure_and_deletes(client, db, tenant_a, tenant_b):
    """``q`` through the trigram index of migration 0008 (FTS5 on SQLite, pg_trgm on PostgreSQL)."""
    from api.contacts.repository import _matches
    from beacon.schema.models import Contact

    h = tenant_a.headers()
    made = [client.post("/v1/contacts", json=body, headers=h).json() for body in (
        {"email": "zq@example.org", "first_name": "Zoe", "last_name": "Quartermain"},
        {"email": "quinn@example.org", "first_name": "Quinn", "last_name": "Smith"},
        {"email": "quartz.fan@example.org"})]
    client.post("/v1/contacts", json={"email": "quartermain@example.net", "first_name": "Other"},
                headers=tenant_b.headers())

    def emails(q):
        response = client.get("/v1/contacts", params={"q": q}, headers=h)
        assert response.status_code == 200, response.text
        return [c["email"] for c in response.json()["items"]]

    assert emails("QUART") == ["zq@example.org", "quartz.fan@example.org"], "name or email, any case, own tenant only"
    assert emails("zoe quar") == ["zq@example.org"], "across first and last name"
    assert emails("qu") == ["zq@example.org", "quinn@example.org", "quartz.fan@example.org"], "shorter than a trigram"
    assert emails('"quart') == [] and emails("qu*") == [] and emails("a%") == [], "quotes, FTS syntax and LIKE wildcards are literal"

    client.patch(f"/v1/contacts/{made[0]['id']}", json={"last_name": "Moss"}, headers=h)
    assert emails("quarterm") == [] and emails("zoe moss") == ["zq@example.org"], "an edit reaches the index"
    client.post(f"/v1/contacts/{made[2]['id']}/erase", headers=h)
    assert emails("quartz") == [], "erased personal data is not searchable"
    client.delete(f"/v1/contacts/{made[0]['id']}", headers=h)
    assert emails("moss") == []

    with db() as session:  # the index serves the search (tiny tables: PostgreSQL is told to avoid scans)
        dialect = session.get_bind().dialect
        query = select(Contact.id).where(_matches(session, "smith"))
        sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        if dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "contacts_search VIRTUAL TABLE INDEX" in plan, plan
        else:
            session.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in session.connection().exec_driver_sql(f"EXPLAIN {sql}"))
            assert "ix_contacts_search_name" in plan and "ix_contacts_search_email" in plan, plan
