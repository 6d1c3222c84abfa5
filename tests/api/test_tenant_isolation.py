"""Walk every route of the app with another tenant's ids: always 404, nothing of theirs leaks or changes."""

from __future__ import annotations

import re

from sqlalchemy import select

from beacon.schema.models import Campaign, Contact, ContactList, Segment, Suppression, Template
from tests.api.conftest import make_message, read

PUBLIC_PREFIXES = ("/t/", "/u/", "/preferences/", "/webhooks/", "/health", "/v1/auth/login")
SECRET_EMAIL = "secret-b@bravo.example"

SAMPLE_BODIES = {
    ("PATCH", "/v1/contacts/{contact_id}"): {"first_name": "Mallory"},
    ("PATCH", "/v1/lists/{list_id}"): {"name": "hijacked"},
    ("POST", "/v1/lists/{list_id}/members"): {"contact_ids": [1]},
    ("PATCH", "/v1/segments/{segment_id}"): {"name": "hijacked"},
    ("PATCH", "/v1/templates/{template_id}"): {"subject": "hijacked"},
    ("POST", "/v1/templates/{template_id}/preview"): {"variables": {"body": "x"}},
    ("PATCH", "/v1/campaigns/{campaign_id}"): {"name": "hijacked"},
    ("POST", "/v1/campaigns/{campaign_id}/schedule"): {"scheduled_at": "2099-01-01T00:00:00Z"},
    ("PATCH", "/v1/users/{user_id}"): {"role": "viewer"},
}


def _b_resources(client, db, tenant_b) -> dict[str, int]:
    h = tenant_b.headers()
    contact = client.post("/v1/contacts", json={"email": SECRET_EMAIL, "first_name": "Bea"}, headers=h).json()["id"]
    audience = client.post("/v1/lists", json={"name": "B secret list"}, headers=h).json()["id"]
    client.post(f"/v1/lists/{audience}/members", json={"contact_ids": [contact]}, headers=h)
    segment = client.post("/v1/segments", json={"name": "B segment", "criteria": {"field": "country", "op": "eq", "value": "NZ"}},
                          headers=h).json()["id"]
    template = client.post("/v1/templates", json={"code": "b-only", "text_body": "B secret body"}, headers=h).json()["id"]
    campaign = client.post("/v1/campaigns", json={"name": "B campaign", "list_id": audience, "template_code": "b-only"},
                           headers=h).json()["id"]
    suppression = client.post("/v1/suppressions", json={"address": "supp-b@bravo.example"}, headers=h).json()["id"]
    api_key = client.post("/v1/api-keys", json={"name": "B key"}, headers=h).json()["id"]
    make_message(db, tenant_b, email="ledger-b@bravo.example")
    return {"contact_id": contact, "list_id": audience, "segment_id": segment, "template_id": template,
            "campaign_id": campaign, "suppression_id": suppression, "api_key_id": api_key, "user_id": tenant_b.admin_user_id}


def _tenant_routes(openapi_paths) -> list[tuple[str, str, dict]]:
    routes = []
    for path, operations in openapi_paths.items():
        if path.startswith(PUBLIC_PREFIXES) or not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            routes.append((method.upper(), path, operation))
    return routes


def test_every_route_with_another_tenants_ids_is_404_and_leaks_nothing(openapi_paths, client, db, tenant_a, tenant_b):
    ids = _b_resources(client, db, tenant_b)
    secrets = [SECRET_EMAIL, "B secret list", "B segment", "B secret body", "B campaign", "supp-b@bravo.example",
               "ledger-b@bravo.example", "admin@bravo.example"]
    routes = _tenant_routes(openapi_paths)
    with_ids = [r for r in routes if "{" in r[1]]
    assert len(with_ids) >= 25, "the walk must cover every resource route"
    for method, path, operation in with_ids:
        params = re.findall(r"{(\w+)}", path)
        assert set(params) <= ids.keys(), f"no id of another tenant for {params} in {path}: add one to the walk"
        if operation.get("requestBody", {}).get("required"):
            assert (method, path) in SAMPLE_BODIES, f"{method} {path} takes a body: add a sample to SAMPLE_BODIES"
        url = path.format(**ids)
        response = client.request(method, url, json=SAMPLE_BODIES.get((method, path)), headers=tenant_a.headers())
        assert response.status_code == 404, f"{method} {url} -> {response.status_code} {response.text}"
        assert response.json()["error"]["code"] == "not_found"
        assert not any(s in response.text for s in secrets), f"{method} {url} leaked: {response.text}"

    # Lists and reads without ids show only the caller's own rows.
    for method, path, _ in routes:
        if method == "GET" and "{" not in path:
            response = client.get(path, headers=tenant_a.headers())
            assert response.status_code in (200, 404), f"{path}: {response.status_code}"
            assert not any(s in response.text for s in secrets), f"GET {path} leaked: {response.text}"

    # And nothing of B's changed.
    h = tenant_b.headers()
    assert client.get(f"/v1/contacts/{ids['contact_id']}", headers=h).json()["first_name"] == "Bea"
    assert client.get(f"/v1/lists/{ids['list_id']}", headers=h).json()["member_count"] == 1
    assert client.get(f"/v1/campaigns/{ids['campaign_id']}", headers=h).json()["status"] == "draft"
    assert client.get(f"/v1/api-keys", headers=h).json()["items"][-1]["revoked_at"] is None
    assert client.get(f"/v1/users/{tenant_b.admin_user_id}", headers=h).json()["role"] == "admin"
    assert len(read(db, select(Contact.id).where(Contact.organization_id == tenant_b.org))) == 2
    for model, key in [(ContactList, "list_id"), (Segment, "segment_id"), (Template, "template_id"),
                       (Campaign, "campaign_id"), (Suppression, "suppression_id")]:
        assert read(db, select(model.id).where(model.id == ids[key])), f"{model.__name__} of B was removed"


def test_references_in_bodies_to_another_tenants_rows_are_refused(client, tenant_a, tenant_b):
    hb, ha = tenant_b.headers(), tenant_a.headers()
    b_contact = client.post("/v1/contacts", json={"email": SECRET_EMAIL}, headers=hb).json()["id"]
    b_list = client.post("/v1/lists", json={"name": "B list"}, headers=hb).json()["id"]
    b_segment = client.post("/v1/segments", json={"name": "B", "criteria": {"field": "city", "op": "is_null"}}, headers=hb).json()["id"]
    client.post("/v1/templates", json={"code": "b-only", "text_body": "x"}, headers=hb)
    a_list = client.post("/v1/lists", json={"name": "A list"}, headers=ha).json()["id"]

    r = client.post(f"/v1/lists/{a_list}/members", json={"contact_ids": [b_contact]}, headers=ha)
    assert r.status_code == 404 and SECRET_EMAIL not in r.text
    r = client.post("/v1/campaigns", json={"name": "x", "segment_id": b_segment, "template_code": "newsletter"}, headers=ha)
    assert r.status_code == 422 and "segment_id" in r.json()["error"]["message"]
    r = client.post("/v1/campaigns", json={"name": "x", "list_id": b_list, "template_code": "newsletter"}, headers=ha)
    assert r.status_code == 422
    r = client.post("/v1/campaigns", json={"name": "x", "list_id": a_list, "template_code": "b-only"}, headers=ha)
    assert r.status_code == 422 and "template_code" in r.json()["error"]["message"]
    r = client.post("/v1/segments", json={"name": "peek", "criteria": {"field": "list_id", "op": "in", "value": [b_list]}}, headers=ha)
    assert r.status_code == 422 and str(b_list) in r.json()["error"]["message"]
