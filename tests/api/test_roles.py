"""Roles on every route: the role just below the one a route needs gets 403, that role gets past the guard."""

from __future__ import annotations

import pytest

from beacon.schema.models import Role

V, MK, MG, AD = Role.viewer, Role.marketer, Role.manager, Role.admin
BELOW = {MK: V, MG: MK, AD: MG}

# The documented matrix (docs/api.md). The test fails if a route is added without a row here.
MATRIX: dict[tuple[str, str], Role] = {
    ("GET", "/v1/auth/me"): V,
    ("GET", "/v1/organization"): V, ("PATCH", "/v1/organization"): AD,
    ("GET", "/v1/users"): V, ("POST", "/v1/users"): MG, ("GET", "/v1/users/{user_id}"): V,
    ("PATCH", "/v1/users/{user_id}"): MG, ("DELETE", "/v1/users/{user_id}"): MG,
    ("GET", "/v1/api-keys"): AD, ("POST", "/v1/api-keys"): AD, ("DELETE", "/v1/api-keys/{api_key_id}"): AD,
    ("GET", "/v1/contacts"): V, ("POST", "/v1/contacts"): MK, ("POST", "/v1/contacts/import"): MK, ("GET", "/v1/contacts/{contact_id}"): V,
    ("PATCH", "/v1/contacts/{contact_id}"): MK, ("DELETE", "/v1/contacts/{contact_id}"): MK,
    ("GET", "/v1/contacts/{contact_id}/export"): MG, ("POST", "/v1/contacts/{contact_id}/erase"): MG,
    ("GET", "/v1/lists"): V, ("POST", "/v1/lists"): MK, ("GET", "/v1/lists/{list_id}"): V,
    ("PATCH", "/v1/lists/{list_id}"): MK, ("DELETE", "/v1/lists/{list_id}"): MK,
    ("GET", "/v1/lists/{list_id}/members"): V, ("POST", "/v1/lists/{list_id}/members"): MK,
    ("DELETE", "/v1/lists/{list_id}/members/{contact_id}"): MK,
    ("GET", "/v1/segments"): V, ("POST", "/v1/segments"): MK, ("GET", "/v1/segments/{segment_id}"): V,
    ("PATCH", "/v1/segments/{segment_id}"): MK, ("DELETE", "/v1/segments/{segment_id}"): MK,
    ("POST", "/v1/segments/preview"): V, ("GET", "/v1/segments/{segment_id}/preview"): V,
    ("GET", "/v1/segments/{segment_id}/sizes"): V,
    ("GET", "/v1/templates"): V, ("POST", "/v1/templates"): MK, ("GET", "/v1/templates/{template_id}"): V,
    ("PATCH", "/v1/templates/{template_id}"): MK, ("DELETE", "/v1/templates/{template_id}"): MK,
    ("POST", "/v1/templates/{template_id}/preview"): V,
    ("GET", "/v1/campaigns"): V, ("POST", "/v1/campaigns"): MK, ("GET", "/v1/campaigns/{campaign_id}"): V,
    ("PATCH", "/v1/campaigns/{campaign_id}"): MK, ("DELETE", "/v1/campaigns/{campaign_id}"): MK,
    ("POST", "/v1/campaigns/{campaign_id}/schedule"): MG, ("POST", "/v1/campaigns/{campaign_id}/send"): MG,
    ("POST", "/v1/campaigns/{campaign_id}/cancel"): MG, ("GET", "/v1/campaigns/{campaign_id}/recipients"): V,
    ("GET", "/v1/campaigns/{campaign_id}/analytics"): V,
    ("GET", "/v1/suppressions"): V, ("POST", "/v1/suppressions"): MK, ("DELETE", "/v1/suppressions/{suppression_id}"): MK,
    ("GET", "/v1/plans"): V, ("GET", "/v1/subscription"): V, ("PUT", "/v1/subscription"): AD,
    ("GET", "/v1/reports/usage"): MG,
}
PUBLIC = {("POST", "/v1/auth/login")}


def _routes(openapi_paths):
    for path, operations in openapi_paths.items():
        if path.startswith("/v1/"):
            for method in operations:
                yield method.upper(), path


def _url(path: str) -> str:
    return path.format_map({k: 987654 for k in ("user_id", "api_key_id", "contact_id", "list_id", "segment_id",
                                                "template_id", "campaign_id", "suppression_id")})


def test_matrix_covers_every_route(openapi_paths):
    routes = set(_routes(openapi_paths))
    assert routes - PUBLIC - MATRIX.keys() == set(), "routes without a role in the matrix"
    assert MATRIX.keys() - routes == set(), "matrix rows for routes that do not exist"


def test_no_credentials_is_401_everywhere(openapi_paths, client):
    for method, path in set(_routes(openapi_paths)) - PUBLIC:
        response = client.request(method, _url(path))
        assert response.status_code == 401, f"{method} {path}"
        assert response.json()["error"]["code"] == "unauthorized"


def test_each_route_refuses_the_role_below_and_admits_its_role(openapi_paths, client, tenant_a):
    for (method, path), needed in MATRIX.items():
        if (method, path) not in set(_routes(openapi_paths)):
            continue
        if needed in BELOW:
            response = client.request(method, _url(path), headers=tenant_a.headers(BELOW[needed]))
            assert response.status_code == 403, f"{method} {path} as {BELOW[needed].value}: {response.status_code}"
            assert response.json()["error"]["code"] == "forbidden"
        response = client.request(method, _url(path), headers=tenant_a.headers(needed))
        assert response.status_code not in (401, 403), f"{method} {path} as {needed.value}: {response.text}"


@pytest.mark.parametrize("granter", [Role.manager, Role.marketer])
def test_nobody_grants_a_role_above_their_own(client, tenant_a, granter):
    body = {"email": "new@alpha.example", "role": "admin", "password": "a long enough password"}
    response = client.post("/v1/users", json=body, headers=tenant_a.headers(granter))
    assert response.status_code == 403


def test_manager_manages_users_but_not_admins(client, tenant_a):
    h = tenant_a.headers(Role.manager)
    created = client.post("/v1/users", json={"email": "m@alpha.example", "role": "marketer", "password": "a long enough password"}, headers=h)
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert client.patch(f"/v1/users/{user_id}", json={"role": "viewer"}, headers=h).json()["role"] == "viewer"
    assert client.patch(f"/v1/users/{tenant_a.admin_user_id}", json={"role": "viewer"}, headers=h).status_code == 403
    assert client.delete(f"/v1/users/{user_id}", headers=h).status_code == 204


def test_last_admin_cannot_be_removed_or_demoted(client, tenant_a):
    h = tenant_a.headers()
    assert client.delete(f"/v1/users/{tenant_a.admin_user_id}", headers=h).status_code == 409
    response = client.patch(f"/v1/users/{tenant_a.admin_user_id}", json={"role": "manager"}, headers=h)
    assert response.status_code == 409 and "last admin" in response.json()["error"]["message"]
