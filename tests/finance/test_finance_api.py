"""GET /v1/reports/usage on the dbt-built marts: JSON and CSV, the manager role, one tenant only."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from api.api_keys import repository as keys_repo
from api.main import create_app
from api.ratelimit import TokenBucketLimiter
from beacon.schema.db import session_scope
from beacon.schema.models import Role

pytestmark = pytest.mark.slow  # a dbt-built deployment per back end (built once per session)


@pytest.fixture(scope="module")
def api(deployment):
    engine = deployment.op_engine()
    with session_scope(engine) as session:
        keys = {role: keys_repo.create(session, deployment.shop, name=f"finance {role.value}", role=role)
                for role in (Role.manager, Role.marketer)}
    engine.dispose()
    app = create_app(deployment.settings(), rate_limiter=TokenBucketLimiter(capacity=1000, refill_per_second=100))
    with TestClient(app) as client:
        yield client, {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}


def test_json_report(api, deployment):
    client, keys = api
    response = client.get("/v1/reports/usage", params={"period": "2026-10"}, headers=keys[Role.manager])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["organization_id"], body["period_label"], body["is_closed"]) == (deployment.shop, "2026-10", True)
    email = next(u for u in body["usage"] if u["metric"] == "email")
    assert (email["used"], email["included"], email["overage_units"], email["is_at_100_pct"]) == (6, 4, 2, True)
    assert body["invoice_total"] == "20.0800"  # exact decimal, as a string
    latest = client.get("/v1/reports/usage", headers=keys[Role.manager]).json()
    assert (latest["period_label"], latest["is_closed"]) == ("2026-11", False)


def test_csv_by_query_or_accept_header(api):
    client, keys = api
    by_query = client.get("/v1/reports/usage?period=2026-10&format=csv", headers=keys[Role.manager])
    by_accept = client.get("/v1/reports/usage?period=2026-10", headers={**keys[Role.manager], "Accept": "text/csv"})
    assert by_query.headers["content-type"].startswith("text/csv")
    assert by_query.text == by_accept.text
    rows = list(csv.DictReader(io.StringIO(by_query.text)))
    assert {r["line_type"] for r in rows if r["row_type"] == "invoice_line"} == {"subscription_fee", "email_overage", "sms_overage"}


def test_errors_and_roles(api):
    client, keys = api
    bad = client.get("/v1/reports/usage?period=Oct-2026", headers=keys[Role.manager])
    assert bad.status_code == 422 and "YYYY-MM" in bad.json()["error"]["message"]
    missing = client.get("/v1/reports/usage?period=2025-01", headers=keys[Role.manager])
    assert missing.status_code == 404 and "2025-01" in missing.json()["error"]["message"]
    assert client.get("/v1/reports/usage", headers=keys[Role.marketer]).status_code == 403
