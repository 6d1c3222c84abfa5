"""beacon.notebook: the one documented way notebooks read the warehouse, on both back ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from beacon.notebook import has_relation, organization_id, query
from beacon.segments.compiler import compile_segment
from beacon.tenancy import OrgId

# One worker builds the session warehouses once, instead of every xdist worker building its own.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notebooks")]


def test_query_binds_parameters_and_scopes_to_one_tenant(demo_warehouse):
    tenants = query("select organization_id, organization_slug, count(*) as n from marts.dim_contacts "
                    "group by organization_id, organization_slug order by organization_id")
    assert len(tenants) >= 2
    first, second = tenants.iloc[0], tenants.iloc[1]
    assert organization_id(first.organization_slug) == int(first.organization_id)
    rows = query("select organization_id from marts.dim_contacts where organization_id = :org", org=int(second.organization_id))
    assert len(rows) == second.n and set(rows.organization_id) == {second.organization_id}


def test_query_runs_a_compiled_segment(demo_warehouse):
    org = int(query("select min(organization_id) as org from marts.dim_contacts").org.iloc[0])
    segment = compile_segment({"field": "orders_count", "op": "gte", "value": 1}, OrgId(org), as_of=datetime.now(UTC))
    members = int(query(segment.count()).iloc[0, 0])
    expected = query("select count(*) as n from marts.dim_contacts where organization_id = :org and orders_count >= 1", org=org)
    assert members == int(expected.n.iloc[0]) > 0


def test_clear_errors(demo_warehouse):
    with pytest.raises(ValueError, match="needs a SQL statement"):
        query("  ")
    with pytest.raises(LookupError, match="no organization with slug 'nobody'.*known:"):
        organization_id("nobody")
    assert has_relation("marts", "dim_contacts") and not has_relation("marts", "no_such_mart")
