"""Segment previews and size history over HTTP, reading a real warehouse: DuckDB beside SQLite, and
PostgreSQL beside PostgreSQL. Tenant-scoped: another tenant's contacts never count, its ids are 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from beacon.schema.models import Role
from beacon.segments.membership import SegmentDefinition, ensure_tables, refresh_segment
from beacon.settings import Settings
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine
from tests.beacon.test_segment_membership import build_marts, contact

US = {"field": "country", "op": "eq", "value": "US"}


@pytest.fixture
def settings(settings: Settings, api_db_url, request) -> Settings:
    """The API settings with a warehouse on the operational DB's back end."""
    if api_db_url.startswith("postgresql"):
        return settings.model_copy(update={"warehouse_url": request.getfixturevalue("make_pg_database")("beacon_wh")})
    return settings


@pytest.fixture
def marts(settings, tenant_a, tenant_b):
    a, b = OrgId(tenant_a.org), OrgId(tenant_b.org)
    engine = warehouse_engine(settings.warehouse)
    # 25 Americans and a German at A; B has Americans too, which A must never see.
    rows = [contact(1000 + i, org=a) for i in range(25)] + [contact(2000, org=a, country="DE")]
    rows += [{**contact(3000 + i, org=b), "email": f"secret{i}@bravo.example"} for i in range(3)]
    build_marts(engine, rows)
    yield engine
    engine.dispose()


def test_preview_criteria_counts_and_samples_the_callers_contacts_only(client, tenant_a, marts):
    response = client.post("/v1/segments/preview", json={"criteria": US}, headers=tenant_a.headers(Role.viewer))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 25
    assert [c["contact_id"] for c in body["sample"]] == list(range(1000, 1020))  # 20 by default, by id
    assert body["sample"][0] == {"contact_id": 1000, "email": "c1000@x.io", "first_name": None, "last_name": None,
                                 "lifecycle_stage": "customer", "country_code": "US"}
    assert "bravo" not in response.text
    small = client.post("/v1/segments/preview?sample_size=2", json={"criteria": {"not": US}}, headers=tenant_a.headers())
    assert small.json()["count"] == 1 and [c["contact_id"] for c in small.json()["sample"]] == [2000]


@pytest.mark.parametrize(("criteria", "problem"), [
    ({"field": "ltv2", "op": "eq", "value": 1}, "criteria.field: unknown field 'ltv2'"),
    ({"all": [US, {"field": "orders_count", "op": "gt", "value": "many"}]}, "criteria.all[1].value"),
    ({"field": "list_id", "op": "in", "value": [987654]}, "lists that do not exist: [987654]"),
])
def test_bad_criteria_are_422_naming_the_problem(client, tenant_a, marts, criteria, problem):
    response = client.post("/v1/segments/preview", json={"criteria": criteria}, headers=tenant_a.headers())
    assert response.status_code == 422
    assert problem in response.json()["error"]["message"]


def test_sample_size_is_bounded(client, tenant_a, marts):
    response = client.post("/v1/segments/preview?sample_size=101", json={"criteria": US}, headers=tenant_a.headers())
    assert response.status_code == 422 and "sample_size" in response.text


def test_saved_segment_preview_and_another_tenants_segment_is_404(client, tenant_a, tenant_b, marts):
    mine = client.post("/v1/segments", json={"name": "Americans", "criteria": US}, headers=tenant_a.headers()).json()["id"]
    theirs = client.post("/v1/segments", json={"name": "B", "criteria": US}, headers=tenant_b.headers()).json()["id"]
    response = client.get(f"/v1/segments/{mine}/preview?sample_size=0", headers=tenant_a.headers(Role.viewer))
    assert response.status_code == 200 and response.json()["count"] == 25 and response.json()["sample"] == []
    assert client.get(f"/v1/segments/{theirs}/preview", headers=tenant_b.headers()).json()["count"] == 3
    for path in (f"/v1/segments/{theirs}/preview", f"/v1/segments/{theirs}/sizes"):
        denied = client.get(path, headers=tenant_a.headers())
        assert denied.status_code == 404 and "secret" not in denied.text


def test_sizes_history_newest_first(client, tenant_a, tenant_b, marts):
    segment_id = client.post("/v1/segments", json={"name": "Americans", "criteria": US}, headers=tenant_a.headers()).json()["id"]
    assert client.get(f"/v1/segments/{segment_id}/sizes", headers=tenant_a.headers()).json() == []  # never refreshed
    ensure_tables(marts)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for hours, org in ((0, tenant_a.org), (1, tenant_a.org), (1, tenant_b.org)):
        with marts.begin() as conn:  # B's refresh of the same segment id must not show up for A
            refresh_segment(conn, SegmentDefinition(OrgId(org), segment_id, US), t0 + timedelta(hours=hours))
    sizes = client.get(f"/v1/segments/{segment_id}/sizes", headers=tenant_a.headers(Role.viewer)).json()
    assert sizes == [
        {"as_of": "2026-11-01T01:00:00Z", "members": 25, "entered": 0, "exited": 0},
        {"as_of": "2026-11-01T00:00:00Z", "members": 25, "entered": 25, "exited": 0},
    ]


def test_preview_before_the_first_pipeline_run_is_503(client, tenant_a):
    response = client.post("/v1/segments/preview", json={"criteria": US}, headers=tenant_a.headers())
    assert response.status_code == 503 and "run the pipeline" in response.json()["error"]["message"]
