"""Segment criteria compile to one portable, parameterised query: same members on DuckDB and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from beacon.segments.compiler import CriteriaError, compile_segment
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
ORG, OTHER = OrgId(1), OrgId(2)

CONTACTS = [
    # contact_id, org, email, stage, type, status, country, orders, revenue, clv, p_alive, last order days ago, engaged days ago
    (1, ORG, "ann@x.io", "customer", "customer", "active", "US", 3, 120.0, 80.0, 0.9, 10, 2),
    (2, ORG, "bob@x.io", "vip", "vip_customer", "active", "GB", 12, 2400.0, 900.0, 0.95, 40, 100),
    (3, ORG, "cy@x.io", "lead", "lead", "unsubscribed", "US", 0, 0.0, None, None, None, None),
    (4, ORG, "di'; drop table x;--@x.io", "churned", "churned", "active", "DE", 1, 15.0, 1.0, 0.1, 400, 300),
    (5, OTHER, "eve@y.io", "customer", "customer", "active", "US", 3, 120.0, 80.0, 0.9, 10, 2),
]
TAGS = [(ORG, 1, "vip"), (ORG, 1, "newsletter"), (ORG, 2, "vip"), (ORG, 4, "newsletter"), (OTHER, 5, "vip")]
CUSTOM = [(ORG, 1, "plan", "gold", None), (ORG, 2, "seats", None, 25.0), (ORG, 4, "seats", None, 3.0)]
LISTS = [(ORG, 7, 1), (ORG, 7, 3), (OTHER, 7, 5)]


@pytest.fixture
def marts(warehouse_url):
    engine = warehouse_engine(warehouse_url)
    ts = "TIMESTAMP WITH TIME ZONE"
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS marts"))
        conn.execute(sa.text(
            "CREATE TABLE marts.dim_contacts (organization_id BIGINT, contact_id BIGINT, email VARCHAR, "
            "first_name VARCHAR, last_name VARCHAR, lifecycle_stage VARCHAR, contact_type_code VARCHAR, contact_status VARCHAR, "
            "country_code VARCHAR, city VARCHAR, region VARCHAR, orders_count INTEGER, net_revenue NUMERIC(18,4), "
            f"predicted_clv_12m NUMERIC(18,4), probability_alive DOUBLE PRECISION, last_order_at {ts}, last_engaged_at {ts})"
        ))
        conn.execute(sa.text("CREATE TABLE marts.bridge_contact_tags (organization_id BIGINT, contact_id BIGINT, tag VARCHAR)"))
        conn.execute(sa.text(
            "CREATE TABLE marts.bridge_contact_custom_fields (organization_id BIGINT, contact_id BIGINT, "
            "field_key VARCHAR, value_text VARCHAR, value_number DOUBLE PRECISION)"
        ))
        conn.execute(sa.text("CREATE TABLE marts.bridge_list_members (organization_id BIGINT, list_id BIGINT, contact_id BIGINT)"))
        ago = lambda days: None if days is None else AS_OF - timedelta(days=days)  # noqa: E731
        conn.execute(
            sa.text(
                "INSERT INTO marts.dim_contacts (contact_id, organization_id, email, lifecycle_stage, contact_type_code, "
                "contact_status, country_code, orders_count, net_revenue, predicted_clv_12m, probability_alive, last_order_at, last_engaged_at) "
                "VALUES (:c, :o, :e, :s, :t, :st, :co, :n, :r, :clv, :p, :lo, :le)"
            ),
            [dict(c=c, o=o, e=e, s=s, t=t, st=st, co=co, n=n, r=r, clv=clv, p=p, lo=ago(lo), le=ago(le))
             for c, o, e, s, t, st, co, n, r, clv, p, lo, le in CONTACTS],
        )
        conn.execute(sa.text("INSERT INTO marts.bridge_contact_tags VALUES (:o, :c, :t)"),
                     [dict(o=o, c=c, t=t) for o, c, t in TAGS])
        conn.execute(sa.text("INSERT INTO marts.bridge_contact_custom_fields VALUES (:o, :c, :k, :vt, :vn)"),
                     [dict(o=o, c=c, k=k, vt=vt, vn=vn) for o, c, k, vt, vn in CUSTOM])
        conn.execute(sa.text("INSERT INTO marts.bridge_list_members VALUES (:o, :l, :c)"),
                     [dict(o=o, l=lst, c=c) for o, lst, c in LISTS])
    yield engine
    engine.dispose()


def members(engine, criteria, org=ORG) -> set[int]:
    compiled = compile_segment(criteria, org, as_of=AS_OF)
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(compiled.members())}
        assert conn.execute(compiled.count()).scalar_one() == len(ids)
    return ids


def cond(field, op, value=None):
    return {"field": field, "op": op, **({"value": value} if value is not None else {})}


CASES = [
    (cond("lifecycle_stage", "eq", "customer"), {1}),
    (cond("lifecycle_stage", "in", ["customer", "vip"]), {1, 2}),
    (cond("orders_count", "gte", 3), {1, 2}),
    (cond("net_revenue", "between", [100, 1000]), {1}),
    (cond("predicted_clv_12m", "is_null"), {3}),
    (cond("probability_alive", "lt", 0.5), {4}),
    (cond("last_order_days", "lte", 30), {1}),
    (cond("last_order_days", "gt", 30), {2, 3, 4}),  # never ordered counts as long ago
    (cond("engaged_days", "lt", 7), {1}),
    (cond("tags", "has_any", ["vip"]), {1, 2}),
    (cond("tags", "has_all", ["vip", "newsletter"]), {1}),
    (cond("tags", "has_none", ["vip"]), {3, 4}),
    (cond("custom.plan", "eq", "gold"), {1}),
    (cond("custom.seats", "gt", 10), {2}),
    (cond("custom.plan", "is_null"), {2, 3, 4}),
    (cond("list_id", "in", [7]), {1, 3}),
    (cond("country", "ne", "US"), {2, 4}),
    (cond("city", "is_null"), {1, 2, 3, 4}),
    ({"all": [cond("tags", "has_any", ["vip"]), {"not": cond("country", "eq", "GB")}]}, {1}),
    ({"any": [cond("status", "eq", "unsubscribed"), {"all": [cond("orders_count", "eq", 1), cond("country", "eq", "DE")]}]}, {3, 4}),
    (cond("contact_type", "contains", "'; drop"), set()),  # values are bound, never spliced
]


@pytest.mark.parametrize(("criteria", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_members(marts, criteria, expected):
    assert members(marts, criteria) == expected


def test_tenant_scoped(marts):
    assert members(marts, cond("tags", "has_any", ["vip"]), org=OTHER) == {5}
    assert members(marts, cond("list_id", "in", [7]), org=OTHER) == {5}


def test_sample_is_ordered_and_limited(marts):
    compiled = compile_segment(cond("status", "eq", "active"), ORG, as_of=AS_OF)
    with marts.connect() as conn:
        rows = conn.execute(compiled.sample(limit=2)).all()
    assert [r.contact_id for r in rows] == [1, 2]


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        (cond("ltv2", "eq", 1), "field: unknown field 'ltv2'"),
        ({"all": [cond("country", "eq", "US"), cond("orders_count", "has_any", [1])]}, "all[1].op: operator 'has_any' does not apply to 'orders_count'"),
        (cond("orders_count", "gt", "3"), "value: expected a number"),
        (cond("net_revenue", "between", [10, 1]), "value: low is greater than high"),
        (cond("tags", "has_any", []), "value: expected a non-empty list"),
        ({"any": []}, "any: expected a non-empty list"),
        ({"all": [1]}, "all[0]: expected an object"),
        ({"field": "country", "op": "eq", "value": "US", "extra": 1}, "expected one of"),
        (cond("custom.seats", "gt", "ten"), "needs a number"),
        (cond("list_id", "in", ["7"]), "value[0]: expected an integer id"),
    ],
)
def test_invalid_criteria_name_the_problem(criteria, message):
    with pytest.raises(CriteriaError) as raised:
        compile_segment(criteria, ORG, as_of=AS_OF)
    assert message in str(raised.value)


def test_depth_is_bounded():
    node = cond("country", "eq", "US")
    for _ in range(12):
        node = {"not": node}
    with pytest.raises(CriteriaError, match="nested deeper"):
        compile_segment(node, ORG, as_of=AS_OF)
