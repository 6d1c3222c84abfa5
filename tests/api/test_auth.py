"""API keys (hashed, shown once, revocable), login tokens, and the one error shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from api.security import issue_access_token
from beacon.schema.models import ApiKey
from tests.api.conftest import read


def test_api_key_is_shown_once_and_stored_hashed(client, db, tenant_a):
    created = client.post("/v1/api-keys", json={"name": "sync", "role": "marketer"}, headers=tenant_a.headers())
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"] + "_")
    stored = read(db, select(ApiKey.key_hash, ApiKey.prefix).where(ApiKey.id == created.json()["id"]))[0]
    assert key not in stored.key_hash and len(stored.key_hash) == 64
    listed = client.get("/v1/api-keys", headers=tenant_a.headers()).text
    assert key not in listed and created.json()["prefix"] in listed
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).json()["role"] == "marketer"
    assert client.get("/v1/auth/me", headers={"X-API-Key": key}).status_code == 200


def test_revoked_and_altered_keys_are_refused(client, tenant_a):
    created = client.post("/v1/api-keys", json={"name": "tmp"}, headers=tenant_a.headers()).json()
    key = created["key"]
    assert client.get("/v1/auth/me", headers={"X-API-Key": key[:-1] + ("a" if key[-1] != "a" else "b")}).status_code == 401
    assert client.delete(f"/v1/api-keys/{created['id']}", headers=tenant_a.headers()).json()["revoked_at"] is not None
    response = client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert response.status_code == 401 and response.json()["error"]["message"] == "invalid or revoked API key"


def test_login_gives_a_short_lived_token_that_follows_the_membership(client, tenant_a):
    bad = client.post("/v1/auth/login", json={"email": "admin@alpha.example", "password": "nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
    login = client.post("/v1/auth/login", json={"email": "ADMIN@alpha.example", "password": "correct horse battery"})
    assert login.status_code == 200, login.text
    assert 0 < login.json()["expires_in"] <= 3600
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = client.get("/v1/auth/me", headers=headers).json()
    assert me == {"organization_id": tenant_a.org, "role": "admin", "user_id": tenant_a.admin_user_id, "api_key_id": None}


def test_expired_forged_and_old_key_tokens(app, client, tenant_a):
    keys = app.state.settings.signing_keys
    expired, _ = issue_access_token(tenant_a.admin_user_id, tenant_a.org, keys, now=datetime.now(UTC) - timedelta(hours=1))
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    from pydantic import SecretStr

    forged, _ = issue_access_token(tenant_a.admin_user_id, tenant_a.org, [SecretStr("attacker")])
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    rotated, _ = issue_access_token(tenant_a.admin_user_id, tenant_a.org, keys[1:])
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {rotated}"}).status_code == 200


def test_one_error_shape_for_404_405_422_and_unknown_routes(client, tenant_a):
    h = tenant_a.headers()
    for response, status, code in [
        (client.get("/v1/contacts/999999", headers=h), 404, "not_found"),
        (client.get("/v1/no-such-thing", headers=h), 404, "not_found"),
        (client.put("/v1/contacts", headers=h), 405, "method_not_allowed"),
        (client.post("/v1/contacts", json={"email": "not-an-email"}, headers=h), 422, "validation_error"),
        (client.get("/v1/contacts?limit=0", headers=h), 422, "validation_error"),
        (client.get("/v1/contacts?cursor=%%%", headers=h), 422, "validation_error"),
    ]:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["code"] == code
    invalid = client.post("/v1/contacts", json={"email": "not-an-email"}, headers=h).json()["error"]
    assert invalid["details"][0]["loc"] == "body.email" and invalid["message"].startswith("body.email:")


def test_openapi_and_docs_are_served(client):
    spec = client.get("/openapi.json").json()
    assert "/v1/contacts" in spec["paths"] and "/webhooks/sendgrid" in spec["paths"]
    assert client.get("/docs").status_code == 200 and client.get("/redoc").status_code == 200
    errors = spec["paths"]["/v1/contacts/{contact_id}"]["get"]["responses"]["404"]
    assert errors["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
