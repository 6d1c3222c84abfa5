"""Lists, segments, templates, campaigns, suppressions, plans and subscription, organization bootstrap."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from api.organizations.service import bootstrap_organization
from beacon.schema.models import Contact, ContactType, Event, Send
from tests.api.conftest import make_message


def test_list_members(client, tenant_a):
    h = tenant_a.headers()
    ids = [client.post("/v1/contacts", json={"email": f"m{i}@example.org"}, headers=h).json()["id"] for i in range(3)]
    audience = client.post("/v1/lists", json={"name": "members"}, headers=h).json()["id"]
    assert client.post("/v1/lists", json={"name": "members"}, headers=h).status_code == 409
    assert client.post(f"/v1/lists/{audience}/members", json={"contact_ids": ids[:2]}, headers=h).json() == {"added": 2, "already_members": 0}
    assert client.post(f"/v1/lists/{audience}/members", json={"contact_ids": ids}, headers=h).json() == {"added": 1, "already_members": 2}
    missing = client.post(f"/v1/lists/{audience}/members", json={"contact_ids": [999999]}, headers=h)
    assert missing.status_code == 404 and "999999" in missing.json()["error"]["message"]
    assert client.delete(f"/v1/lists/{audience}/members/{ids[0]}", headers=h).status_code == 204
    members = client.get(f"/v1/lists/{audience}/members", params={"limit": 1}, headers=h).json()
    assert [m["contact_id"] for m in members["items"]] == [ids[1]] and members["next_cursor"]
    assert client.get(f"/v1/lists/{audience}", headers=h).json()["member_count"] == 2


def test_segment_criteria_are_validated_on_save(client, tenant_a):
    h = tenant_a.headers()
    bad = {"name": "s", "criteria": {"all": [{"field": "country", "op": "eq", "value": "US"}, {"field": "ltv2", "op": "gt", "value": 5}]}}
    response = client.post("/v1/segments", json=bad, headers=h)
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("criteria.all[1].field: unknown field 'ltv2'")
    assert response.json()["error"]["details"][0]["loc"] == "criteria.all[1].field"
    good = {"name": "big spenders", "criteria": {"field": "net_revenue", "op": "gte", "value": 500}}
    created = client.post("/v1/segments", json=good, headers=h)
    assert created.status_code == 201 and created.json()["criteria"] == {"field": "net_revenue", "op": "gte", "value": 500}
    patch = client.patch(f"/v1/segments/{created.json()['id']}", json={"criteria": {"not": {"field": "tags", "op": "eq", "value": "x"}}}, headers=h)
    assert patch.status_code == 422 and patch.json()["error"]["message"].startswith("criteria.not.op: operator 'eq'")


def test_templates_platform_read_only_override_and_preview(client, tenant_a):
    h = tenant_a.headers()
    platform = client.get("/v1/templates", params={"scope": "platform", "code": "newsletter", "language": "en"}, headers=h).json()["items"]
    assert len(platform) == 1 and platform[0]["is_platform"]
    platform_id = platform[0]["id"]
    assert client.patch(f"/v1/templates/{platform_id}", json={"subject": "x"}, headers=h).status_code == 403
    assert client.delete(f"/v1/templates/{platform_id}", headers=h).status_code == 403
    override = client.post("/v1/templates", json={"code": "newsletter", "category": "newsletter", "subject": "{{ organization.name }} news",
                                                  "text_body": "Hi {{ contact.first_name }}: {{ body }}", "required_variables": ["body"]}, headers=h)
    assert override.status_code == 201 and not override.json()["is_platform"]
    broken = client.post("/v1/templates", json={"code": "broken", "text_body": "{% if %}"}, headers=h)
    assert broken.status_code == 422 and "template 'broken'" in broken.json()["error"]["message"]
    preview = client.post(f"/v1/templates/{override.json()['id']}/preview",
                          json={"variables": {"body": "Spring!"}, "contact": {"first_name": "Ada"}}, headers=h)
    assert preview.status_code == 200, preview.text
    assert preview.json()["text"] == "Hi Ada: Spring!" and preview.json()["subject"] == "Alpha news"
    missing = client.post(f"/v1/templates/{override.json()['id']}/preview", json={}, headers=h)
    assert missing.status_code == 422 and "body" in missing.json()["error"]["message"]
    platform_preview = client.post(f"/v1/templates/{platform_id}/preview",
                                   json={"variables": {"body": "b", "cta_url": "https://x.example"}}, headers=h)
    assert platform_preview.status_code == 200 and "/u/preview" in platform_preview.json()["html"]


def test_campaign_lifecycle_and_recipient_outcomes(client, db, tenant_a):
    h = tenant_a.headers()
    audience = client.post("/v1/lists", json={"name": "all"}, headers=h).json()["id"]
    both = client.post("/v1/campaigns", json={"name": "x", "list_id": audience, "segment_id": 1, "template_code": "promotion"}, headers=h)
    assert both.status_code == 422 and "exactly one audience" in both.json()["error"]["message"]
    draft = client.post("/v1/campaigns", json={"name": "Spring", "list_id": audience, "template_code": "promotion"}, headers=h).json()
    assert draft["status"] == "draft"
    past = client.post(f"/v1/campaigns/{draft['id']}/schedule", json={"scheduled_at": "2001-01-01T00:00:00Z"}, headers=h)
    assert past.status_code == 422
    naive = client.post(f"/v1/campaigns/{draft['id']}/schedule", json={"scheduled_at": "2099-01-01T00:00:00"}, headers=h)
    assert naive.status_code == 422
    # Refused before it is queued, naming what the activation run would refuse it for.
    unrunnable = client.post(f"/v1/campaigns/{draft['id']}/schedule", json={"scheduled_at": "2099-01-01T09:00:00+02:00"}, headers=h)
    assert unrunnable.status_code == 422, unrunnable.text
    problem = unrunnable.json()["error"]["message"]
    assert "no postal_address" in problem and "'promotion' (en) needs cta_url, offer" in problem, problem
    assert client.patch("/v1/organization", json={"postal_address": "1 Main St, Springfield"},
                        headers=h).status_code == 200
    still = client.post(f"/v1/campaigns/{draft['id']}/send", headers=h)
    assert still.status_code == 422 and "no postal_address" not in still.json()["error"]["message"]
    filled = client.patch(f"/v1/campaigns/{draft['id']}", headers=h,
                          json={"content_variables": {"cta_url": "https://alpha.example/spring", "offer": "20% off"}})
    assert filled.status_code == 200, filled.text
    scheduled = client.post(f"/v1/campaigns/{draft['id']}/schedule", json={"scheduled_at": "2099-01-01T09:00:00+02:00"}, headers=h)
    assert scheduled.json()["status"] == "scheduled"
    assert client.post(f"/v1/campaigns/{draft['id']}/send", headers=h).json()["status"] == "queued"
    assert client.post(f"/v1/campaigns/{draft['id']}/send", headers=h).json()["status"] == "queued", "idempotent"
    assert client.patch(f"/v1/campaigns/{draft['id']}", json={"name": "y"}, headers=h).status_code == 409
    assert client.post(f"/v1/campaigns/{draft['id']}/cancel", headers=h).json()["status"] == "cancelled"
    assert client.post(f"/v1/campaigns/{draft['id']}/send", headers=h).status_code == 409

    message = make_message(db, tenant_a)
    with db() as session:
        session.add(Event(organization_id=tenant_a.org, event_type="delivered", occurred_at=datetime(2030, 1, 1),
                          send_id=message.send_id, contact_id=message.contact_id, provider="sendgrid", provider_event_id="e1"))
        session.add(Event(organization_id=tenant_a.org, event_type="clicked", occurred_at=datetime(2030, 1, 2),
                          send_id=message.send_id, contact_id=message.contact_id, provider="beacon", provider_event_id="e2"))
        session.commit()
    detail = client.get(f"/v1/campaigns/{message.campaign_id}", headers=h).json()
    assert detail["sends_by_status"] == {"sent": 1} and detail["sends_by_event"] == {"delivered": 1, "clicked": 1}
    recipients = client.get(f"/v1/campaigns/{message.campaign_id}/recipients", headers=h).json()
    assert [(r["send_id"], r["outcome"]) for r in recipients["items"]] == [(str(message.send_id), "clicked")]
    assert recipients["next_cursor"] is None


def test_recipients_paginate_on_send_id(client, db, tenant_a):
    message = make_message(db, tenant_a)
    with db() as session:
        for i in range(4):
            c = Contact(organization_id=tenant_a.org, email=f"r{i}@example.org", email_normalized=f"r{i}@example.org")
            session.add(c)
            session.flush()
            session.add(Send(organization_id=tenant_a.org, campaign_id=message.campaign_id, contact_id=c.id, channel="email"))
        session.commit()
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/campaigns/{message.campaign_id}/recipients", params=params, headers=tenant_a.headers()).json()
        seen += [r["send_id"] for r in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == 5 and seen == sorted(seen)


def test_suppressions_only_the_person_lifts_an_unsubscribe(client, tenant_a):
    h = tenant_a.headers()
    manual = client.post("/v1/suppressions", json={"address": "Bad@Example.org"}, headers=h)
    assert manual.status_code == 201 and manual.json()["address"] == "bad@example.org"
    assert client.post("/v1/suppressions", json={"address": "bad@example.org"}, headers=h).status_code == 200
    assert client.post("/v1/suppressions", json={"address": "not an email"}, headers=h).status_code == 422
    sms = client.post("/v1/suppressions", json={"channel": "sms", "address": "+44 20 7946 0958", "reason": "unsubscribed"}, headers=h)
    assert sms.json()["address"] == "+442079460958"
    assert client.get("/v1/suppressions", params={"channel": "sms"}, headers=h).json()["items"][0]["id"] == sms.json()["id"]
    assert client.delete(f"/v1/suppressions/{sms.json()['id']}", headers=h).status_code == 409
    assert client.delete(f"/v1/suppressions/{manual.json()['id']}", headers=h).status_code == 204


def test_plans_and_changing_the_subscription(client, tenant_a):
    h = tenant_a.headers()
    plans = client.get("/v1/plans", headers=h).json()
    assert [p["code"] for p in plans["items"]] == ["starter", "growth", "scale"]
    assert client.get("/v1/subscription", headers=h).status_code == 404
    changed = client.put("/v1/subscription", json={"plan_code": "growth", "billing_cycle": "yearly"}, headers=h)
    assert changed.status_code == 200 and changed.json()["plan"]["code"] == "growth"
    assert client.put("/v1/subscription", json={"plan_code": "platinum"}, headers=h).status_code == 422
    assert client.get("/v1/subscription", headers=h).json()["billing_cycle"] == "yearly"


def test_bootstrap_returns_a_working_admin_key_once(client, db):
    with db() as session:
        made = bootstrap_organization(session, type_code="church", name="Grace", slug="grace",
                                      admin_email="pastor@grace.example", admin_password="a long password")
        session.commit()
    org = client.get("/v1/organization", headers={"X-API-Key": made.api_key}).json()
    assert (org["slug"], org["type"]) == ("grace", "church")
    with db() as session:
        types = session.scalars(select(ContactType.code).where(ContactType.organization_id == made.org)).all()
    assert "new_member" in types
