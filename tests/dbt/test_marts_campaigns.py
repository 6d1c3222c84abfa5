"""The campaign-analytics marts for real, on DuckDB and PostgreSQL: the data generator writes
tenants, campaigns, the send ledger and webhook events into the operational DB and provider event
and order files into the inbox; dlt replicates, the file loader loads, and `dbt build` runs the
campaign models with their parents, data tests and unit tests. Every figure is then recomputed in
Python from the staged source rows (one row per source row, no logic) and compared.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fastapi.testclient import TestClient

from api.api_keys import repository as keys_repo
from api.main import create_app
from beacon.generate.config import GenerateConfig
from beacon.generate.pipeline import generate
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Role
from beacon.settings import Settings
from beacon.tenancy import OrgId
from ingestion.files.inbox import inbox_files, load_inbox, organization_ids
from ingestion.files.loader import ORDERS, SENDGRID, TWILIO, load_file
from ingestion.replication import replicate
from tests.conftest import _create_pg_database, _drop_pg_database, _server_url_for
from tests.dbt.conftest import run_dbt_build
from tests.dbt.test_marts_customers import _rows

pytestmark = pytest.mark.slow

CAMPAIGN_MODELS = ("+fct_campaign_performance", "+fct_campaign_holdout_lift")
# The parents' own tests belong to their areas' suites (and cost a minute on a busy 2-core box).
PARENT_TESTS = ("resource_type:test,path:models/staging", "resource_type:test,path:models/marts/orders",
                "resource_type:unit_test,path:models/marts/orders", "resource_type:test,path:seeds",
                "resource_type:test,path:models/intermediate/_intermediate__models.yml")
# Orders are loaded for three tenants with conversions (the generator is deterministic), and only
# for the months around their campaigns: the file loader takes ~0.5 s a file and the rest adds
# nothing to what is checked.
ORDER_TENANTS = ("ledgerly", "pipewise", "clean-rivers-trust")
MACHINE_AGENTS = {"Mozilla/5.0"}
BOT_PATTERNS = ("barracuda", "mimecast", "proofpoint", "bot", "scanner", "crawler", "spider", "headless",
                "python-requests", "curl/", "wget")
TIMING = timedelta(seconds=2)
WINDOW = timedelta(days=5)
TOUCHES = {"email": {"opened", "clicked"}, "sms": {"clicked"}}
KINDS = {"sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "complained", "failed"}


def _load_campaign_month_orders(inbox: Path, warehouse_url: str, op_url: str) -> None:
    organizations = organization_ids(op_url)
    months: dict[str, set[str]] = defaultdict(set)
    for slug, started in _rows_op_campaign_starts(warehouse_url):
        started = started.astimezone(UTC)
        for day in (started, started + WINDOW, started + timedelta(days=35)):  # + the next month: refunds
            months[slug].add(day.strftime("%Y-%m"))
    for slug, kind, path in inbox_files(inbox):
        if kind is ORDERS and slug in ORDER_TENANTS and path.stem.removeprefix("orders_") in months[slug]:
            result = load_file(ORDERS, path, organizations=organizations, warehouse_url=warehouse_url, organization=slug)
            assert result.rows_quarantined == 0, result


def _rows_op_campaign_starts(warehouse_url: str) -> list[tuple[str, datetime]]:
    return _rows(
        warehouse_url,
        "select o.slug, c.started_at from raw.campaigns c join raw.organizations o on o.id = c.organization_id "
        "where c.started_at is not null",
    )


@contextmanager
def generated_campaign_warehouse(request, tmp_path_factory, migrated_database, prefix: str) -> Iterator[tuple[Path, str, str]]:
    """(work folder, operational DB, warehouse) of the tiny generated data, replicated with its
    provider event files and campaign-month orders loaded; the warehouse is ``request.param``."""
    work = tmp_path_factory.mktemp(f"{prefix}_{request.param}")
    backend = "sqlite" if request.param == "duckdb" else "postgres"
    wh_name = None
    with migrated_database(backend, prefix) as op_url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACON_HOME", str(work / "home"))
        if request.param == "duckdb":
            warehouse_url = f"duckdb:///{work / 'warehouse.duckdb'}"
        else:
            server = request.getfixturevalue("pg_server")
            wh_name = _create_pg_database(server, f"beacon_{prefix}_wh")
            warehouse_url = _server_url_for(wh_name)
        try:
            generate(GenerateConfig(database_url=op_url, out=work / "gen", scale="tiny"))
            replicate(op_url, warehouse_url, pipelines_dir=work / "dlt")
            events = load_inbox(work / "gen" / "inbox", warehouse_url=warehouse_url, op_db_url=op_url, kinds=(SENDGRID, TWILIO))
            assert events and all(r.rows_quarantined == 0 for r in events)
            _load_campaign_month_orders(work / "gen" / "inbox", warehouse_url, op_url)
            yield work, op_url, warehouse_url
        finally:
            if wh_name:
                _drop_pg_database(request.getfixturevalue("pg_server"), wh_name)


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request, tmp_path_factory, migrated_database) -> Iterator[tuple[str, str]]:
    """(operational DB, warehouse) with generated data loaded and the campaign marts built."""
    with generated_campaign_warehouse(request, tmp_path_factory, migrated_database, "camp") as (work, op_url, warehouse_url):
        run_dbt_build(warehouse_url, work, CAMPAIGN_MODELS, None, "--exclude", *PARENT_TESTS)
        yield op_url, warehouse_url


@pytest.fixture(scope="module")
def warehouse(built) -> str:
    return built[1]


# ----------------------------------------------------------------------------- independent recomputation


def _sends(url: str) -> dict[str, dict]:
    rows = _rows(
        url,
        "select send_id, organization_id, campaign_id, coalesce(variant, 'default'), contact_id, channel, send_status, "
        "error_message, sent_at from staging.stg_beacon__sends where campaign_id is not null",
    )
    keys = ("organization_id", "campaign_id", "variant", "contact_id", "channel", "status", "error", "sent_at")
    return {row[0]: dict(zip(keys, row[1:])) for row in rows}


def _events(url: str, sends: dict[str, dict]) -> list[dict]:
    """Both event sources, de-duplicated and classified the way docs/campaign-analytics.md says."""
    found = []
    for org, provider, pid, send_id, kind, at, payload in _rows(
        url,
        "select organization_id, provider, provider_event_id, send_id, event_type, occurred_at, cast(payload as text) "
        "from staging.stg_beacon__events where send_id is not null",
    ):
        data = json.loads(payload) if payload else {}
        machine = str(data.get("sg_machine_open", data.get("machine_open", False))).lower() in {"true", "1"}
        bounce = ("soft" if data.get("type") == "blocked" else "hard") if kind == "bounced" else None
        agent = data.get("useragent") or data.get("user_agent")
        found.append((0, org, provider, pid, send_id, kind, at, agent, machine, bool(data.get("bot")), bounce))
    for org, provider, pid, send_id, kind, at, agent, machine, bounce in _rows(
        url,
        "select organization_id, provider, provider_event_id, send_id, event_type, occurred_at, user_agent, "
        "is_machine_open, bounce_type from staging.stg_files__provider_events where send_id is not null",
    ):
        found.append((1, org, provider, pid, send_id, kind, at, agent, bool(machine), False,
                      (bounce or "hard") if kind == "bounced" else None))
    found.sort(key=lambda e: (e[0], e[2], e[3]))
    seen_ids, seen_content, events = set(), set(), []
    for _, org, provider, pid, send_id, kind, at, agent, machine, bot, bounce in found:
        send = sends.get(send_id)
        if kind not in KINDS or send is None or send["organization_id"] != org:
            continue
        if (org, provider, pid) in seen_ids or (org, send_id, kind, at) in seen_content:
            continue
        seen_ids.add((org, provider, pid))
        seen_content.add((org, send_id, kind, at))
        events.append({"send_id": send_id, "kind": kind, "at": at, "agent": agent, "machine": machine, "bot": bot,
                       "bounce": bounce})
    delivered = {}
    for e in events:
        if e["kind"] == "delivered":
            delivered[e["send_id"]] = min(e["at"], delivered.get(e["send_id"], e["at"]))
    for e in events:
        d, agent = delivered.get(e["send_id"]), (e["agent"] or "")
        soon = d is not None and e["at"] <= d + TIMING
        e["machine"] = e["kind"] == "opened" and (e["machine"] or agent.strip() in MACHINE_AGENTS or soon)
        e["bot"] = e["kind"] == "clicked" and (e["bot"] or any(p in agent.lower() for p in BOT_PATTERNS) or soon)
    return events


def _expected_counts(sends: dict[str, dict], events: list[dict]) -> dict[tuple, Counter]:
    by_send: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for e in events:
        flags = by_send[e["send_id"]]
        if e["kind"] == "opened":
            flags["machine_opened" if e["machine"] else "opened_unique"].add(1)
        elif e["kind"] == "clicked":
            flags["bot_clicked" if e["bot"] else "clicked_unique"].add(1)
            if not e["bot"]:
                flags["opened_unique"].add(1)  # a human click without an open is an open
        elif e["kind"] == "bounced":
            flags["bounce"].add(e["bounce"])
        else:
            flags[e["kind"]].add(1)
    counts: dict[tuple, Counter] = defaultdict(Counter)
    for send_id, send in sends.items():
        c = counts[(send["organization_id"], send["campaign_id"], send["variant"])]
        flags = by_send.get(send_id, {})
        c["targeted"] += 1
        c["held_out"] += send["status"] == "held_out"
        c["suppressed"] += send["status"] == "suppressed"
        c["sent"] += send["status"] == "sent"
        c["failed"] += bool(flags.get("failed")) or send["status"] == "failed"
        bounces = flags.get("bounce", set())
        c["bounced_hard"] += "hard" in bounces
        c["bounced_soft"] += bool(bounces) and "hard" not in bounces
        for name in ("delivered", "opened_unique", "machine_opened", "clicked_unique", "bot_clicked",
                     "unsubscribed", "complained"):
            c[name] += bool(flags.get(name))
    return counts


COUNT_COLUMNS = ("targeted", "suppressed", "held_out", "sent", "delivered", "bounced_hard", "bounced_soft",
                 "opened_unique", "machine_opened", "clicked_unique", "bot_clicked", "unsubscribed", "complained", "failed")


# ----------------------------------------------------------------------------- tests


def test_campaign_counts_match_the_source_rows(warehouse):
    sends = _sends(warehouse)
    events = _events(warehouse, sends)
    expected = _expected_counts(sends, events)
    columns = ", ".join(COUNT_COLUMNS)
    actual = {
        row[:3]: dict(zip(COUNT_COLUMNS, row[3:]))
        for row in _rows(warehouse, f"select organization_id, campaign_id, variant_name, {columns} from marts.fct_campaign_performance")
    }
    assert set(actual) == set(expected)
    for key, counts in expected.items():
        assert actual[key] == {name: counts[name] for name in COUNT_COLUMNS}, key
    totals = Counter()
    for counts in expected.values():
        totals.update(counts)
    # The generated data exercises every rule this test checks (so it cannot pass on empty marts).
    assert min(totals[n] for n in ("delivered", "opened_unique", "machine_opened", "clicked_unique", "bot_clicked",
                                   "held_out", "bounced_hard")) > 0, totals
    # A/B variants and both channels are present.
    assert {key[2] for key in expected} >= {"A", "B", "default"}


def test_one_campaign_delivered_equals_distinct_delivered_send_ids(warehouse):
    # The figure the brief names, spelled out for the campaign with the most sends, straight from the raw tables.
    campaign, org = _rows(
        warehouse,
        "select campaign_id, organization_id from staging.stg_beacon__sends group by campaign_id, organization_id "
        "order by count(*) desc, campaign_id limit 1",
    )[0]
    send_ids = {r[0] for r in _rows(warehouse, "select send_id from staging.stg_beacon__sends where campaign_id = :c", c=campaign)}
    delivered = {r[0] for r in _rows(warehouse, "select lower(cast(send_id as varchar)) from raw.provider_events "
                                               "where event_type = 'delivered' and organization_id = :o", o=org)}
    delivered |= {r[0] for r in _rows(warehouse, "select send_id from staging.stg_beacon__events "
                                               "where event_type = 'delivered' and organization_id = :o", o=org)}
    (mart,) = _rows(warehouse, "select sum(delivered) from marts.fct_campaign_performance where campaign_id = :c", c=campaign)[0]
    assert mart == len(send_ids & delivered) > 0


def test_daily_series_sums_to_the_campaign_rollup(warehouse):
    sums = ", ".join(f"sum({c})" for c in COUNT_COLUMNS)
    daily = _rows(warehouse, f"select organization_id, campaign_id, variant_name, {sums} from marts.fct_campaign_daily "
                             "group by organization_id, campaign_id, variant_name order by 1, 2, 3")
    rollup = _rows(warehouse, f"select organization_id, campaign_id, variant_name, {', '.join(COUNT_COLUMNS)} "
                              "from marts.fct_campaign_performance order by 1, 2, 3")
    assert daily == rollup
    # The last day's cumulative open rate is the campaign's open rate.
    last = _rows(warehouse, "select d.campaign_id, d.variant_name, d.open_rate_to_date, p.open_rate from marts.fct_campaign_daily d "
                            "join marts.fct_campaign_performance p on p.campaign_id = d.campaign_id and p.variant_name = d.variant_name "
                            "where d.activity_date = p.last_activity_date")
    assert last and all(r[2] == r[3] or (r[2] is None and r[3] is None) or math.isclose(r[2], r[3]) for r in last)


def test_last_touch_attribution_matches_python(warehouse):
    sends = _sends(warehouse)
    events = _events(warehouse, sends)
    touches = defaultdict(list)
    for e in events:
        send = sends[e["send_id"]]
        if e["kind"] in TOUCHES.get(send["channel"], ()) and not e["machine"] and not e["bot"] and send["contact_id"]:
            touches[(send["organization_id"], send["contact_id"])].append(e)
    orders = _rows(warehouse, "select order_id, organization_id, contact_id, ordered_at, net_amount_tenant from marts.fct_orders "
                              "where is_purchase and contact_id is not null")
    expected = {}
    for order_id, org, contact, at, net in orders:
        eligible = [t for t in touches[(org, contact)] if t["at"] <= at <= t["at"] + WINDOW]
        if eligible:
            best = min(eligible, key=lambda t: (-t["at"].timestamp(), t["kind"] != "clicked", t["send_id"]))
            expected[order_id] = (best["send_id"], best["kind"], net)
    actual = {r[0]: r[1:] for r in _rows(warehouse, "select order_id, send_id, touch_event_type, attributed_revenue "
                                                    "from marts.fct_attributed_conversions")}
    assert actual == expected
    assert len(actual) >= 3
    per_variant = Counter()
    for send_id, _, _ in expected.values():
        send = sends[send_id]
        per_variant[(send["campaign_id"], send["variant"])] += 1
    rollup = {(r[0], r[1]): r[2] for r in _rows(warehouse, "select campaign_id, variant_name, conversions from "
                                                          "marts.fct_campaign_performance where conversions > 0")}
    assert rollup == dict(per_variant)


def test_holdout_lift_matches_python(warehouse):
    sends = _sends(warehouse)
    starts = dict(_rows(warehouse, "select campaign_id, started_at from staging.stg_beacon__campaigns"))
    purchases = defaultdict(list)
    for org, contact, at, net in _rows(warehouse, "select organization_id, contact_id, ordered_at, net_amount_tenant "
                                                  "from marts.fct_orders where is_purchase and contact_id is not null"):
        purchases[(org, contact)].append((at, float(net)))
    groups: dict[int, dict[str, list[float]]] = defaultdict(lambda: {"treated": [], "holdout": []})
    for send in sends.values():
        if send["status"] not in ("sent", "held_out"):
            continue
        reference = send["sent_at"] if send["status"] == "sent" else starts[send["campaign_id"]]
        bought = [net for at, net in purchases[(send["organization_id"], send["contact_id"])] if reference <= at <= reference + WINDOW]
        groups[send["campaign_id"]]["treated" if send["status"] == "sent" else "holdout"].append(bought)
    expected = {}
    for campaign, g in groups.items():
        if not g["holdout"]:
            continue
        (nt, nh) = (len(g["treated"]), len(g["holdout"]))
        pt, ph = sum(1 for b in g["treated"] if b) / nt, sum(1 for b in g["holdout"] if b) / nh
        rt, rh = [sum(b) for b in g["treated"]], [sum(b) for b in g["holdout"]]
        lift, rlift = pt - ph, sum(rt) / nt - sum(rh) / nh
        intervals = [None] * 4  # a group of fewer than 2 has no variance: no interval
        if nt > 1 and nh > 1:
            se = math.sqrt(pt * (1 - pt) / nt + ph * (1 - ph) / nh)
            welch = math.sqrt(_variance(rt) / nt + _variance(rh) / nh)
            intervals = [lift - 1.96 * se, lift + 1.96 * se, rlift - 1.96 * welch, rlift + 1.96 * welch]
        expected[campaign] = (nt, nh, pt, ph, *intervals)
    actual = {
        r[0]: r[1:]
        for r in _rows(
            warehouse,
            "select campaign_id, treated_recipients, holdout_recipients, treated_conversion_rate, holdout_conversion_rate, "
            "conversion_rate_lift_ci_lower, conversion_rate_lift_ci_upper, revenue_per_recipient_lift_ci_lower, "
            "revenue_per_recipient_lift_ci_upper from marts.fct_campaign_holdout_lift",
        )
    }
    assert set(actual) == set(expected) and expected
    for campaign, values in expected.items():
        assert actual[campaign][:2] == values[:2]
        for got, want in zip(actual[campaign][2:], values[2:]):
            assert got == pytest.approx(want, abs=1e-9) if want is not None else got is None, campaign
    assert any(v[2] > 0 for v in expected.values())  # someone treated converted


def _variance(values: list[float]) -> float:
    n = len(values)
    return max(0.0, (sum(v * v for v in values) - sum(values) ** 2 / n) / (n - 1))


def test_rows_stay_within_their_tenant(warehouse):
    # Every mart row's campaign belongs to the row's organization; every credited order and send too.
    for table in ("fct_campaign_daily", "fct_campaign_performance", "fct_attributed_conversions", "fct_campaign_holdout_lift"):
        mixed = _rows(warehouse, f"select count(*) from marts.{table} m join staging.stg_beacon__campaigns c "
                                 "on c.campaign_id = m.campaign_id where c.organization_id <> m.organization_id")
        assert mixed == [(0,)], table
    mixed = _rows(warehouse, "select count(*) from marts.fct_attributed_conversions a join marts.fct_orders o on o.order_id = a.order_id "
                             "join staging.stg_beacon__sends s on s.send_id = a.send_id "
                             "where o.organization_id <> a.organization_id or s.organization_id <> a.organization_id")
    assert mixed == [(0,)]


def test_contract_not_null_columns_are_not_null_in_the_warehouse(warehouse):
    """The marts' key columns are checked by their contracts, not by not_null data tests (docs/warehouse.md
    "Which tests each build runs"): each column with a not_null constraint is `not null` in the built
    table, so the warehouse rejects a null at insert. Here for the marts this module builds."""
    import yaml

    nullable = {(table, column): flag for table, column, flag in _rows(
        warehouse, "select table_name, column_name, is_nullable from information_schema.columns "
                   "where table_schema = 'marts'")}
    checked = 0
    for path in (Path(__file__).resolve().parents[2] / "dbt" / "models" / "marts").rglob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            for column in model["columns"]:
                if (model["name"], column["name"]) in nullable and {"type": "not_null"} in column.get("constraints", []):
                    assert nullable[(model["name"], column["name"])] == "NO", (model["name"], column["name"])
                    checked += 1
    assert checked >= 15, checked  # the four campaign marts and fct_orders


def test_analytics_endpoint_serves_the_marts_to_the_campaigns_tenant_only(built):
    op_url, warehouse_url = built
    campaign, org = _rows(warehouse_url, "select campaign_id, organization_id from marts.fct_campaign_holdout_lift "
                                         "order by treated_recipients desc limit 1")[0]
    other_campaign = _rows(warehouse_url, "select campaign_id from staging.stg_beacon__campaigns where organization_id <> :o "
                                          "order by campaign_id limit 1", o=org)[0][0]
    engine = make_engine(op_url)
    try:
        with session_scope(engine) as session:
            key = keys_repo.create(session, OrgId(org), name="analytics viewer", role=Role.viewer)
    finally:
        engine.dispose()
    settings = Settings(database_url=op_url, warehouse_url=warehouse_url, signing_keys="k1")
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        response = client.get(f"/v1/campaigns/{campaign}/analytics", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        # Another tenant's campaign: 404, as if it did not exist.
        hidden = client.get(f"/v1/campaigns/{other_campaign}/analytics", headers=headers)
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    performance = _rows(warehouse_url, "select variant_name, sent, opened_unique, open_rate from marts.fct_campaign_performance "
                                       "where campaign_id = :c order by variant_name", c=campaign)
    assert [(v["variant_name"], v["sent"], v["opened_unique"], v["open_rate"]) for v in body["variants"]] == performance
    days = _rows(warehouse_url, "select count(*), sum(delivered) from marts.fct_campaign_daily where campaign_id = :c", c=campaign)[0]
    assert (len(body["daily"]), sum(d["delivered"] for d in body["daily"])) == days
    lift = _rows(warehouse_url, "select treated_recipients, holdout_recipients, conversion_rate_lift "
                                "from marts.fct_campaign_holdout_lift where campaign_id = :c", c=campaign)[0]
    assert (body["holdout_lift"]["treated_recipients"], body["holdout_lift"]["holdout_recipients"],
            body["holdout_lift"]["conversion_rate_lift"]) == lift
