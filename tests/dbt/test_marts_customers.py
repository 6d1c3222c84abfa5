"""The customer marts for real: an operational DB replicated by dlt and order files loaded by the
file loader, then `dbt build` of the orders, customer-value and segment-bridge models (with their
parents, data tests and unit tests) on DuckDB and on PostgreSQL. Expected values are worked out by
hand in the comments next to each assertion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Contact, ContactList, Event, EventType, ListMember
from beacon.settings import Settings
from beacon.store.organizations import create_organization
from beacon.warehouse import warehouse_engine
from ingestion.files.loader import ORDERS, load_file
from ingestion.replication import replicate
from orchestration.dbt_env import dbt_target

pytestmark = pytest.mark.slow

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt"
MY_MODELS = (
    "+dim_contacts",
    "+int_customers_summarized_for_clv",
    "+bridge_contact_tags",
    "+bridge_contact_custom_fields",
    "+bridge_list_members",
)
AS_OF = "2026-03-31"
# Low VIP thresholds so Ann (3 purchases, 145 EUR net) is a VIP and the var path is exercised.
DBT_VARS = {"as_of": AS_OF, "vip_min_net_revenue": 140, "vip_min_orders": 3}

ORDERS_HEADER = "order_id,organization,customer_email,customer_external_id,created_at,updated_at,currency,total,refunded_amount,status\n"
FIRST_EXPORT = ORDERS_HEADER + (
    # 23:30 UTC on 31 January is 00:30 on 1 February in Paris.
    "o1,shop,ANN@Shop.io ,,2026-01-31T23:30:00+00:00,,EUR,100.00,0,paid\n"
    # Bob by his customer id (no email): 54 USD = 50 EUR at the seed's 1.08 USD per EUR.
    "o2,shop,,C-42,2026-02-10T10:00:00+00:00,,USD,54.00,0,paid\n"
    # Two orders on one UTC day: one purchase occasion for the CLV summary.
    "o3,shop,ann@shop.io,,2026-02-15T09:00:00+00:00,,EUR,40.00,0,paid\n"
    "o4,shop,ann@shop.io,,2026-02-15T18:00:00+00:00,,EUR,20.00,0,paid\n"
    "o5,shop,ann@shop.io,,2026-03-01T12:00:00+00:00,,EUR,30.00,0,cancelled\n"
    "o6,shop,stranger@else.io,,2026-03-02T12:00:00+00:00,,EUR,10.00,0,paid\n"
    # Same email at another tenant: must match that tenant's contact only.
    "o7,other,ann@shop.io,,2026-02-01T00:00:00+00:00,,USD,25.00,0,paid\n"
)
# A later export restates o3 with a partial refund.
REFUND_EXPORT = ORDERS_HEADER + "o3,shop,ann@shop.io,,2026-02-15T09:00:00+00:00,2026-02-20T08:00:00+00:00,EUR,40.00,15.00,partially_refunded\n"


@pytest.fixture
def op_url_for(warehouse_url: str, tmp_path: Path, request) -> str:
    """The operational DB of the same deployment (SQLite beside DuckDB, PostgreSQL beside PostgreSQL)."""
    if warehouse_url.startswith("duckdb"):
        return f"sqlite:///{tmp_path / 'beacon.db'}"
    return request.getfixturevalue("make_pg_database")("beacon_op")


def _seed_operational_db(op_url: str) -> dict[str, int]:
    migrate.upgrade(op_url)
    engine = make_engine(op_url)
    try:
        with session_scope(engine) as session:
            shop, _ = create_organization(
                session, type_code="ecommerce", name="Shop", slug="shop", timezone="Europe/Paris", currency="EUR"
            )
            other, _ = create_organization(session, type_code="ecommerce", name="Other", slug="other")
            ann = Contact(
                organization_id=shop,
                email="Ann@Shop.io",
                email_normalized="ann@shop.io",
                tags=["vip", " donor ", "vip"],
                custom_fields={"shoe": "41", "plan": "gold", "score": 7.5, "newsletter": True},
            )
            bob = Contact(organization_id=shop, email="bob@shop.io", email_normalized="bob@shop.io", external_id="C-42")
            cat = Contact(organization_id=shop, email="cat@shop.io", email_normalized="cat@shop.io")
            dan = Contact(organization_id=shop, email="dan@shop.io", email_normalized="dan@shop.io")
            other_ann = Contact(organization_id=other, email="ann@shop.io", email_normalized="ann@shop.io")
            vip_list = ContactList(organization_id=shop, name="VIPs")
            session.add_all([ann, bob, cat, dan, other_ann, vip_list])
            session.flush()
            session.add_all([ListMember(organization_id=shop, list_id=vip_list.id, contact_id=c.id) for c in (ann, bob)])
            session.add_all(
                [
                    # Cat clicked 11 days before as_of: a prospect. Dan's only open is a machine open: a lead.
                    _event(shop, cat.id, EventType.clicked, "2026-03-20T10:00:00", "t-1", {"user_agent": "Firefox"}),
                    _event(shop, dan.id, EventType.opened, "2026-03-25T10:00:00", "t-2", {"machine_open": True}),
                ]
            )
            ids = {"shop": shop, "other": other, "ann": ann.id, "bob": bob.id, "cat": cat.id, "dan": dan.id}
            ids |= {"other_ann": other_ann.id, "list": vip_list.id}
    finally:
        engine.dispose()
    return ids


def _event(org: int, contact_id: int, kind: EventType, at: str, provider_event_id: str, payload: dict) -> Event:
    return Event(
        organization_id=org,
        event_type=kind,
        occurred_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
        contact_id=contact_id,
        provider="beacon",
        provider_event_id=provider_event_id,
        payload=payload,
    )


def _load_orders(tmp_path: Path, warehouse_url: str, organizations: dict[str, int]) -> None:
    for name, content in (("orders_1.csv", FIRST_EXPORT), ("orders_2.csv", REFUND_EXPORT)):
        path = tmp_path / name
        path.write_text(content)
        result = load_file(ORDERS, path, organizations=organizations, warehouse_url=warehouse_url)
        assert result.rows_quarantined == 0, result


def _create_predictions(warehouse_url: str, ann: int, shop: int) -> None:
    """What the CLV asset writes (its own table definition, beacon/clv/store.py); the staging model picks it up."""
    from beacon.clv.store import customer_predictions

    engine = warehouse_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create schema if not exists predictions"))
            customer_predictions.create(conn, checkfirst=True)
            conn.execute(customer_predictions.insert().values(
                organization_id=shop, contact_id=ann, probability_alive=0.75, expected_purchases_90d=0.5,
                expected_purchases_365d=2.0, expected_avg_order_value=45.0, predicted_clv_12m=88.5,
                model_status="fitted", fitted_at=datetime(2026, 3, 31, tzinfo=UTC),
            ))
    finally:
        engine.dispose()


def _dbt_build(warehouse_url: str, tmp_path: Path, selection: tuple[str, ...] = ("--select", *MY_MODELS)
               ) -> subprocess.CompletedProcess:
    target = dbt_target(Settings(home=tmp_path / "home", warehouse_url=warehouse_url))
    env = {**os.environ, **target.env, "DBT_TARGET_PATH": str(tmp_path / "dbt_target"), "DBT_LOG_PATH": str(tmp_path / "dbt_logs")}
    command = [
        str(Path(sys.executable).with_name("dbt")), "build",
        "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
        *selection,
        # Only tests whose every parent is built.
        "--indirect-selection", "cautious",
        "--vars", json.dumps(DBT_VARS),
    ]  # fmt: skip
    return subprocess.run(command, cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=300)


def _rows(warehouse_url: str, sql: str, **params) -> list[tuple]:
    engine = warehouse_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def test_customer_marts_from_replicated_contacts_and_loaded_orders(warehouse_url, op_url_for, tmp_path, monkeypatch):
    monkeypatch.setenv("BEACON_HOME", str(tmp_path / "home"))
    ids = _seed_operational_db(op_url_for)
    replicate(op_url_for, warehouse_url, pipelines_dir=tmp_path / "dlt")
    _load_orders(tmp_path, warehouse_url, {"shop": ids["shop"], "other": ids["other"]})
    _create_predictions(warehouse_url, ids["ann"], ids["shop"])

    run = _dbt_build(warehouse_url, tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "ERROR=0" in run.stdout and "WARN=0" in run.stdout, run.stdout[-3000:]

    ann, bob, other_ann = ids["ann"], ids["bob"], ids["other_ann"]
    orders = {
        row[0]: row[1:]
        for row in _rows(
            warehouse_url,
            "select external_order_id, contact_id, contact_match_method, order_status, net_amount, "
            "net_amount_tenant, is_purchase, order_date_utc, order_date_local, order_month_local "
            "from marts.fct_orders",
        )
    }
    assert set(orders) == {"o1", "o2", "o3", "o4", "o5", "o6", "o7"}  # o3's two states are one order
    o1, o2, o3, o5, o6, o7 = (orders[k] for k in ("o1", "o2", "o3", "o5", "o6", "o7"))
    assert o1[:2] == (ann, "email")  # 'ANN@Shop.io ' normalised
    assert [str(d) for d in o1[6:]] == ["2026-01-31", "2026-02-01", "2026-02-01"]  # Paris is UTC+1
    assert o2[:2] == (bob, "external_id")
    assert (o2[3], o2[4]) == (Decimal("54"), Decimal("50"))  # 54 USD -> 50 EUR
    assert (o3[2], o3[3]) == ("partially_refunded", Decimal("25"))  # the refund restatement won: 40 - 15
    assert (o5[2], o5[3], o5[5]) == ("cancelled", Decimal("0"), False)
    assert o6[:2] == (None, None)
    assert (o7[0], o7[4]) == (other_ann, Decimal("25"))  # other tenant, USD stays USD

    value = _rows(
        warehouse_url,
        "select contact_id, orders_count, gross_revenue, net_revenue, average_order_value, tenure_days, "
        "recency_score, frequency_score, monetary_score, rfm_segment from marts.fct_customer_value "
        "where organization_id = :org order by contact_id",
        org=ids["shop"],
    )
    # Ann: o1 100 + o3 25 (gross 40) + o4 20; o5 cancelled. First purchase 31 Jan -> 59 days to 31 Mar.
    # Two customers: quintile scores 1 and 2; Ann is higher on all three -> R2 F2 M2 = hibernating.
    assert value == [
        (ann, 3, Decimal("160"), Decimal("145"), Decimal("48.3333"), 59, 2, 2, 2, "hibernating"),
        (bob, 1, Decimal("50"), Decimal("50"), Decimal("50"), 49, 1, 1, 1, "lost"),
    ]

    rfm = _rows(
        warehouse_url,
        'select customer_id, frequency, recency, "T", monetary_value from intermediate.int_customers_summarized_for_clv '
        "where organization_id = :org order by customer_id",
        org=ids["shop"],
    )
    # Ann's purchase days: 31 Jan (100) and 15 Feb (25 + 20): 1 repeat worth 45, 15 days apart, 59 days to as_of.
    assert [(r[0], r[1], round(r[2], 6), round(r[3], 6), r[4]) for r in rfm] == [
        (ann, 1, round(15 / 7, 6), round(59 / 7, 6), 45.0),
        (bob, 0, 0.0, 7.0, 0.0),
    ]

    profiles = {
        row[0]: row[1:]
        for row in _rows(
            warehouse_url,
            "select contact_id, lifecycle_stage, contact_status, orders_count, net_revenue, predicted_clv_12m, "
            "probability_alive, last_engaged_at from marts.dim_contacts",
        )
    }
    assert profiles[ann][:6] == ("vip", "active", 3, Decimal("145"), Decimal("88.5"), 0.75)
    assert profiles[bob][:6] == ("customer", "active", 1, Decimal("50"), None, None)
    assert profiles[ids["cat"]][0] == "prospect"
    assert profiles[ids["cat"]][6].astimezone(UTC) == datetime(2026, 3, 20, 10, tzinfo=UTC)
    dan = profiles[ids["dan"]]
    assert (dan[0], dan[6]) == ("lead", None)  # machine opens are not engagement
    assert profiles[other_ann][:4] == ("customer", "active", 1, Decimal("25"))

    assert _rows(warehouse_url, "select contact_id, tag from marts.bridge_contact_tags order by tag") == [
        (ann, "donor"),
        (ann, "vip"),
    ]
    assert _rows(
        warehouse_url,
        "select field_key, value_text, value_number from marts.bridge_contact_custom_fields "
        "where contact_id = :ann order by field_key",
        ann=ann,
    ) == [("newsletter", "true", None), ("plan", "gold", None), ("score", "7.5", 7.5), ("shoe", "41", 41.0)]
    assert _rows(warehouse_url, "select list_id, contact_id from marts.bridge_list_members order by contact_id") == [
        (ids["list"], ann),
        (ids["list"], bob),
    ]

    _new_events_reach_dim_contacts(warehouse_url, op_url_for, tmp_path, ids)


def _new_events_reach_dim_contacts(warehouse_url: str, op_url: str, tmp_path: Path, ids: dict[str, int]) -> None:
    """The build after an event load (`--select source:beacon.events+`: docs/warehouse.md) updates
    the incremental engagement and dim_contacts (a view on DuckDB, a table on PostgreSQL), not the
    profile table: a lead who now opened is a prospect, and last_engaged_at moves, with
    int_contacts_profiled not rebuilt."""
    engine = make_engine(op_url)
    try:
        with session_scope(engine) as session:
            session.add_all([
                # Dan's first human open, 3 days before as_of: lead -> prospect.
                _event(ids["shop"], ids["dan"], EventType.opened, "2026-03-28T09:00:00", "t-3", {"user_agent": "Firefox"}),
                _event(ids["shop"], ids["cat"], EventType.clicked, "2026-03-30T08:00:00", "t-4", {"user_agent": "Firefox"}),
                # A VIP who engages stays a VIP: the purchase stage wins.
                _event(ids["shop"], ids["ann"], EventType.opened, "2026-03-29T07:00:00", "t-5", {}),
            ])  # fmt: skip
    finally:
        engine.dispose()
    replicate(op_url, warehouse_url, pipelines_dir=tmp_path / "dlt")

    # The contacts part of it (this warehouse has no sends for the campaign models): what is both
    # downstream of raw.events and upstream of dim_contacts. The profile and the staged value are
    # upstream only, so they are not rebuilt.
    run = _dbt_build(warehouse_url, tmp_path, ("--select", "source:beacon.events+,+dim_contacts",
                                               "--exclude", "tag:whole_history", "resource_type:unit_test"))
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "ERROR=0" in run.stdout and "WARN=0" in run.stdout, run.stdout[-3000:]
    results = json.loads((tmp_path / "dbt_target" / "run_results.json").read_text())["results"]
    built = {r["unique_id"].rsplit(".", 1)[-1] for r in results if r["unique_id"].startswith("model.")}
    assert {"int_contacts_engaged", "dim_contacts"} <= built
    assert not built & {"int_contacts_staged", "int_contacts_profiled"}

    stages = _stages(warehouse_url, ids["shop"])
    assert stages[ids["dan"]] == ("prospect", datetime(2026, 3, 28, 9, tzinfo=UTC))
    assert stages[ids["cat"]] == ("prospect", datetime(2026, 3, 30, 8, tzinfo=UTC))
    assert stages[ids["ann"]] == ("vip", datetime(2026, 3, 29, 7, tzinfo=UTC))
    assert stages[ids["bob"]] == ("customer", None)

    # A nightly build then rewrites the profile under dim_contacts: it is there, with the same rows.
    run = _dbt_build(warehouse_url, tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert _stages(warehouse_url, ids["shop"]) == stages


def _stages(warehouse_url: str, org: int) -> dict[int, tuple]:
    return {
        row[0]: (row[1], row[2].astimezone(UTC) if row[2] else None)
        for row in _rows(warehouse_url, "select contact_id, lifecycle_stage, last_engaged_at from marts.dim_contacts "
                                        "where organization_id = :org", org=org)
    }  # fmt: skip
