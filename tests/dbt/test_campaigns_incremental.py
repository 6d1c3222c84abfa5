"""The incremental campaign and billing models equal a full refresh, on DuckDB and PostgreSQL.

Realistic data: the generator's tiny scale (webhook events in the operational DB, SendGrid and
Twilio export files, the months of orders around the campaigns), replicated by dlt and loaded by
the file loader. Some events are held back (all of ~3/16 of the sends, a fifth of the others' opens
and clicks); the campaign models are built; the held-back events then arrive (received / loaded
after everything stored, some only just inside the lookback window), with webhook replays of built
events under new ids (dedupe across the boundary), late human clicks on delivered sends and late
`sent` replays (some earlier than the stored first `sent` time, which moves a message's billing
time); the models are built incrementally. A later load then brings events only (no ledger rows:
the billing dedupe merges them into its stored rows without reading all events): `sent` replays
earlier and later than the stored ones, a first `sent` event for sends that had none, late clicks; a
third, incremental build.
Every campaign and billing model's rows must then equal those of `dbt build --full-refresh` over the
same raw data (so must the contacts' last engagement, also incremental), and the later builds must
have taken the incremental path.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from beacon.warehouse import warehouse_engine
from tests.dbt.conftest import run_dbt, run_dbt_build
from tests.dbt.test_marts_campaigns import CAMPAIGN_MODELS, PARENT_TESTS, generated_campaign_warehouse
from tests.dbt.test_marts_customers import _rows

pytestmark = pytest.mark.slow

# model: what only its incremental path compiles
INCREMENTAL = {"int_campaign_events_deduplicated": "touched_sends", "int_campaign_sends_summarized": "changed_sends",
               "int_billing_sends_deduplicated": "changed_sends", "int_contacts_engaged": "as stored"}
COMPARED = {
    "intermediate": (*INCREMENTAL, "int_billing_usage_per_period"),
    "marts": ("fct_campaign_daily", "fct_attributed_conversions", "fct_campaign_holdout_lift", "fct_campaign_performance",
              "fct_billing_periods", "fct_usage_vs_plan", "fct_invoice_lines"),
}
# The campaign marts and the billing marts (whose parents include the incremental billing dedupe),
# billed as of a fixed time so both builds see the same open periods.
SELECTED = (*CAMPAIGN_MODELS, "+fct_invoice_lines", "+int_contacts_engaged")
BILLING_VARS = {"billing_as_of": "2026-11-01 00:00:00"}


def _execute(url: str, *statements: str) -> None:
    engine = warehouse_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _hold_back(url: str) -> None:
    """Move raw rows aside, as if they had not arrived yet: every event of ~3/16 of the sends (by
    the send id's first hex digit), a fifth of the other sends' opens and clicks, and the ledger
    rows of another 1/16 of the sends (whose events are there: they wait for their send)."""
    later = "(substr(send_id, 1, 1) in ('0', '1', '2') or (event_type in ('opened', 'clicked') and {} % 5 = 2))"
    events, files = later.format("id"), later.format("length(provider_event_id)")
    sends = "substr(lower(send_id), 1, 1) = '3'"
    # the webhook deliveries of another 1/16 of the sends wait for the events-only load (their opens
    # are built without a delivery); their export-file copies never come
    deliveries = "substr(lower(send_id), 1, 1) = '4' and event_type = 'delivered'"
    _execute(
        url,
        f"create table raw.deliveries_later as select * from raw.events where {deliveries}",
        f"delete from raw.events where {deliveries}",
        f"delete from raw.provider_events where {deliveries}",
        f"create table raw.events_later as select * from raw.events where {events}",
        f"delete from raw.events where {events}",
        f"create table raw.provider_events_later as select * from raw.provider_events where {files}",
        f"delete from raw.provider_events where {files}",
        f"create table raw.sends_later as select * from raw.sends where {sends}",
        f"delete from raw.sends where {sends}",
    )


def _arrive(url: str, postgres: bool) -> None:
    """The held-back rows arrive after the first build, in a later dlt load (webhook events and
    ledger rows; a third of the events stamped 48 h before the stored maximum, as a late commit
    would be; export files loaded an hour after the last), plus webhook replays of built events
    under new ids, late human clicks and `sent` replays on old sends."""
    json_type = "jsonb" if postgres else "json"
    hours = "interval '1 hour'"
    _execute(
        url,
        "create table raw.watermark as select max(received_at) as received_at from raw.events",
        "create table raw.file_watermark as select max(loaded_at) as loaded_at from raw.provider_events",
        # a later load; a third stamped before the stored maximum (a late commit): the load id catches them
        f"update raw.events_later set _dlt_load_id = 'later', received_at = (select received_at from raw.watermark) "
        f"+ case when id % 3 = 0 then -48 * {hours} else {hours} end",
        f"update raw.provider_events_later set loaded_at = (select loaded_at from raw.file_watermark) + {hours}",
        "update raw.sends_later set _dlt_load_id = 'later'",
        "insert into raw.events select * from raw.events_later",
        "insert into raw.provider_events select * from raw.provider_events_later",
        "insert into raw.sends select * from raw.sends_later",
        # replays (same send, type and time, new id) and late human clicks, after everything else
        f"""insert into raw.events (id, organization_id, event_type, occurred_at, received_at, send_id, contact_id,
                channel, provider, provider_event_id, payload, _dlt_load_id)
            select 10000000 + id, organization_id,
                   case when id % 2 = 0 then event_type else 'clicked' end,
                   case when id % 2 = 0 then occurred_at else occurred_at + 30 * {hours} end,
                   (select received_at from raw.watermark) + 2 * {hours}, send_id, contact_id, channel, provider,
                   'late-' || cast(id as varchar),
                   case when id % 2 = 0 then payload
                        else cast('{{"useragent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)"}}' as {json_type}) end,
                   'later'
            from raw.events where id % 7 = 3 and send_id is not null and event_type = 'delivered'""",
        # `sent` replays under new ids: half at the same time, half a minute earlier than the stored one
        f"""insert into raw.events (id, organization_id, event_type, occurred_at, received_at, send_id, contact_id,
                channel, provider, provider_event_id, payload, _dlt_load_id)
            select 20000000 + id, organization_id, event_type,
                   case when id % 2 = 0 then occurred_at else occurred_at - interval '1 minute' end,
                   (select received_at from raw.watermark) + 2 * {hours}, send_id, contact_id, channel, provider,
                   'resent-' || cast(id as varchar), payload, 'later'
            from raw.events where id % 5 = 1 and send_id is not null and event_type = 'sent'""",
        "drop table raw.events_later",
        "drop table raw.provider_events_later",
        "drop table raw.sends_later",
        "drop table raw.watermark",
        "drop table raw.file_watermark",
    )


def _arrive_events_only(url: str, postgres: bool) -> None:
    """A later load with webhook events only: `sent` replays (new ids) two minutes before or after the
    stored ones, a first `sent` event for sends whose (old) ledger row had none, and late human clicks
    on delivered sends (appended to the stored sends). And what makes the events model rewrite a
    stored send: the held-back first deliveries of sends with stored opens, a second before their
    first open (the open becomes a machine open by timing), deliveries a minute earlier than the
    stored first one, and replays that rank before the stored copy (same send, type and time, a lower
    provider event id); plus webhook retries of stored opens under the same provider event id (they lose)."""
    json_type = "jsonb" if postgres else "json"
    hours = "interval '1 hour'"
    columns = ("id, organization_id, event_type, occurred_at, received_at, send_id, contact_id, channel, provider, "
               "provider_event_id, payload, _dlt_load_id")
    _execute(
        url,
        "create table raw.watermark as select max(received_at) as received_at from raw.events",
        f"""insert into raw.events ({columns})
            select 30000000 + id, organization_id, event_type,
                   occurred_at + case when id % 2 = 0 then -2 else 2 end * interval '1 minute',
                   (select received_at from raw.watermark) + {hours}, send_id, contact_id, channel, provider,
                   'resent-again-' || cast(id as varchar), payload, 'later2'
            from raw.events where id % 7 = 2 and send_id is not null and event_type = 'sent'""",
        f"""insert into raw.events ({columns})
            select 40000000 + row_number() over (order by sends.send_id), sends.organization_id, 'sent',
                   sends.created_at, (select received_at from raw.watermark) + {hours}, sends.send_id,
                   sends.contact_id, sends.channel, 'sendgrid', 'first-sent-' || sends.send_id,
                   cast('{{}}' as {json_type}), 'later2'
            from raw.sends as sends
            where not exists (select 1 from raw.events where events.send_id = sends.send_id and events.event_type = 'sent')""",
        f"""insert into raw.events ({columns})
            select 50000000 + id, organization_id, 'clicked', occurred_at + 40 * {hours},
                   (select received_at from raw.watermark) + {hours}, send_id, contact_id, channel, provider,
                   'late-again-' || cast(id as varchar),
                   cast('{{"useragent": "Mozilla/5.0 (X11; Linux x86_64)"}}' as {json_type}), 'later2'
            from raw.events where id % 11 = 4 and send_id is not null and event_type = 'delivered'""",
        f"""insert into raw.events ({columns})
            select 60000000 + d.id, d.organization_id, d.event_type,
                   coalesce((select min(o.occurred_at) from raw.events as o
                        where o.send_id = d.send_id and o.event_type = 'opened') - interval '1 second', d.occurred_at),
                   (select received_at from raw.watermark) + {hours}, d.send_id, d.contact_id, d.channel, d.provider,
                   d.provider_event_id, d.payload, 'later2'
            from raw.deliveries_later as d""",
        f"""insert into raw.events ({columns})
            select 70000000 + id, organization_id, event_type, occurred_at - interval '1 minute',
                   (select received_at from raw.watermark) + {hours}, send_id, contact_id, channel, provider,
                   'earlier-delivery-' || cast(id as varchar), payload, 'later2'
            from raw.events where id % 9 = 4 and send_id is not null and event_type = 'delivered'
                and id < 40000000""",
        f"""insert into raw.events ({columns})
            select 80000000 + id, organization_id, event_type, occurred_at,
                   (select received_at from raw.watermark) + {hours}, send_id, contact_id, channel, provider,
                   '0-first-' || cast(id as varchar), payload, 'later2'
            from raw.events where id % 13 = 6 and send_id is not null and event_type = 'clicked' and id < 40000000""",
        f"""insert into raw.events ({columns})
            select 90000000 + id, organization_id, event_type, occurred_at,
                   (select received_at from raw.watermark) + {hours}, send_id, contact_id, channel, provider,
                   provider_event_id, payload, 'later2'
            from raw.events where id % 17 = 8 and send_id is not null and event_type = 'opened' and id < 40000000""",
        "drop table raw.deliveries_later",
        "drop table raw.watermark",
    )


def _compiled(work) -> dict[str, str]:
    results = json.loads((work / "dbt_target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].rsplit(".", 1)[-1]: r.get("compiled_code") or "" for r in results}


def _snapshot(url: str) -> None:
    statements = ["create schema if not exists incremental_copy"]
    for schema, models in COMPARED.items():
        statements += [f"create table incremental_copy.{m} as select * from {schema}.{m}" for m in models]
    _execute(url, *statements)


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request, tmp_path_factory, migrated_database) -> str:
    """A warehouse whose campaign models were built, then built incrementally after late events;
    the incremental results are copied to schema incremental_copy, then a full refresh is built."""
    with generated_campaign_warehouse(request, tmp_path_factory, migrated_database, "campinc") as (work, _, url):
        build = ("--exclude", *PARENT_TESTS)
        _hold_back(url)
        run_dbt_build(url, work, SELECTED, BILLING_VARS, *build)
        _arrive(url, postgres=request.param == "postgres")
        run_dbt_build(url, work, SELECTED, BILLING_VARS, *build)
        with_ledger_rows = _compiled(work)
        _arrive_events_only(url, postgres=request.param == "postgres")
        run_dbt_build(url, work, SELECTED, BILLING_VARS, *build)
        compiled = _compiled(work)
        _snapshot(url)
        run_dbt_build(url, work, SELECTED, BILLING_VARS, *build, "--full-refresh")
        yield url, compiled, with_ledger_rows


@pytest.mark.parametrize("schema,model", [(s, m) for s, models in COMPARED.items() for m in models])
def test_incremental_build_equals_full_refresh(built, schema, model):
    built, _, _ = built
    full = _rows(built, f"select count(*) from {schema}.{model}")[0][0]
    assert full > 0, f"{model} is empty: nothing compared"
    # Rows in one and not the other, both ways (multiset-insensitive `except`, so counts are compared too).
    missing = _rows(built, f"select count(*) from (select * from {schema}.{model} except "
                           f"select * from incremental_copy.{model}) d")[0][0]
    extra = _rows(built, f"select count(*) from (select * from incremental_copy.{model} except "
                         f"select * from {schema}.{model}) d")[0][0]
    incremental = _rows(built, f"select count(*) from incremental_copy.{model}")[0][0]
    assert (missing, extra, incremental) == (0, 0, full)


def test_late_events_reached_the_incremental_build(built):
    """The late arrivals really are in the incremental result (else the comparison proves little)."""
    url, _, _ = built
    late = _rows(url, "select count(*) from incremental_copy.int_campaign_events_deduplicated "
                      "where provider_event_id like 'late-%'")[0][0]
    assert late > 0
    # Events that waited for their send's ledger row (held back until the second build) are in.
    waited = _rows(url, "select count(*) from incremental_copy.int_campaign_events_deduplicated "
                        "where substr(send_id, 1, 1) = '3'")[0][0]
    assert waited > 0
    # An earlier `sent` replay moved billing times: its send is billed at the replay's time.
    moved = _rows(url, "select count(*) from incremental_copy.int_billing_sends_deduplicated b "
                       "join raw.events e on e.organization_id = b.organization_id and lower(e.send_id) = b.send_id "
                       "where e.provider_event_id like 'resent-%' and e.id % 2 = 1 and e.occurred_at = b.sent_at")[0][0]
    assert moved > 0
    # The events-only load reached the billing dedupe's merge: replays earlier still moved billing
    # times, and sends whose first `sent` event came in it are billed at it.
    for prefix in ("resent-again-", "first-sent-"):
        merged = _rows(url, "select count(*) from incremental_copy.int_billing_sends_deduplicated b "
                            "join raw.events e on e.organization_id = b.organization_id and lower(e.send_id) = b.send_id "
                            f"where e.provider_event_id like '{prefix}%' and e.occurred_at = b.sent_at")[0][0]
        assert merged > 0, prefix


@pytest.mark.parametrize("model", INCREMENTAL)
def test_second_build_ran_incrementally(built, model):
    """The incremental builds took the incremental path (only the changed sends / new events), not a rebuild."""
    _, compiled, with_ledger_rows = built
    assert INCREMENTAL[model] in compiled[model] and INCREMENTAL[model] in with_ledger_rows[model]


def test_events_dedupe_reads_all_events_only_for_new_ledger_rows(built):
    """The build after new ledger rows recomputed their sends from all raw events; the events-only build
    read the new events and the stored rows only."""
    _, compiled, with_ledger_rows = built
    assert "changed_sends" in with_ledger_rows["int_campaign_events_deduplicated"]
    assert "changed_sends" not in compiled["int_campaign_events_deduplicated"]


def test_events_only_load_rewrote_and_appended(built):
    """The events-only load reached both of the events model's paths: opens reclassified by a late first
    delivery (a rewritten send), the replays ranked before a stored copy in its place, and late clicks."""
    url, _, _ = built
    table = "incremental_copy.int_campaign_events_deduplicated"
    reclassified = _rows(url, f"select count(*) from {table} where substr(send_id, 1, 1) = '4' "
                              "and event_type = 'opened' and is_machine_open and not is_flagged_machine_open "
                              "and coalesce(trim(user_agent), '') <> 'Mozilla/5.0' "
                              "and occurred_at > delivered_at and occurred_at <= delivered_at + interval '2 second'")[0][0]
    assert reclassified > 0
    for prefix in ("0-first-", "earlier-delivery-", "late-again-"):
        assert _rows(url, f"select count(*) from {table} where provider_event_id like '{prefix}%'")[0][0] > 0, prefix


def test_billing_dedupe_reads_all_events_only_for_new_ledger_rows(built):
    """The build after new ledger rows read all the `sent` events of their sends; the events-only build
    merged the new events into the stored rows without that scan."""
    _, compiled, with_ledger_rows = built
    all_events = "ledger_changed_sends.send_id = staged.send_id"
    assert all_events in with_ledger_rows["int_billing_sends_deduplicated"]
    assert all_events not in compiled["int_billing_sends_deduplicated"]


def _test_outcomes(url: str, work, *tests: str) -> dict[str, str]:
    """`dbt test` of the named data tests: each one's status (pass / fail)."""
    run = run_dbt("test", url, work, tests, BILLING_VARS)
    results = json.loads((work / "dbt_target" / "run_results.json").read_text())["results"]
    assert {r["unique_id"].split(".")[2] for r in results} == set(tests), run.stdout[-3000:]
    return {r["unique_id"].split(".")[2]: r["status"] for r in results}


def test_latest_load_row_rules_check_the_newest_rows_and_name_the_broken_rule(built, tmp_path):
    """The build after new events checks the per-row rules (not null, accepted values) on the newest
    load's rows only, in one test per model; the whole_history tests check every row. A bad newest row
    fails the latest-load test with the rule it broke; a bad older row is left to the whole_history test."""
    url, _, _ = built
    table = "intermediate.int_campaign_events_deduplicated"
    latest, whole = "rows_valid_in_latest_load_int_campaign_events_deduplicated", "not_null_int_campaign_events_deduplicated_campaign_id"
    newest = _rows(url, f"select max(dlt_load_id) from {table}")[0][0]
    older = _rows(url, f"select max(dlt_load_id) from {table} where dlt_load_id < '{newest}'")[0][0]
    # two rows of the newest load and one of an older load, with their true values to put back
    picked = [_rows(url, f"select campaign_event_id, campaign_id, event_type from {table} "
                         f"where dlt_load_id = '{load}' order by campaign_event_id limit {n}")
              for load, n in ((newest, 2), (older, 1))]
    (null_campaign, bogus_type), (old_row,) = picked
    restore = (f"update {table} set campaign_id = {null_campaign[1]} where campaign_event_id = '{null_campaign[0]}'",
               f"update {table} set event_type = '{bogus_type[2]}' where campaign_event_id = '{bogus_type[0]}'",
               f"update {table} set campaign_id = {old_row[1]} where campaign_event_id = '{old_row[0]}'")
    assert _test_outcomes(url, tmp_path, latest, whole) == {latest: "pass", whole: "pass"}
    try:
        _execute(url, f"update {table} set campaign_id = null where campaign_event_id = '{null_campaign[0]}'",
                 f"update {table} set event_type = 'bogus' where campaign_event_id = '{bogus_type[0]}'")
        assert _test_outcomes(url, tmp_path, latest, whole) == {latest: "fail", whole: "fail"}
        compiled = next((tmp_path / "dbt_target" / "compiled").rglob(f"{latest}.sql")).read_text()
        assert sorted(r[0] for r in _rows(url, compiled)) == ["null campaign_id", "unexpected event_type"]
        _execute(url, *restore[:2], f"update {table} set campaign_id = null where campaign_event_id = '{old_row[0]}'")
        assert _test_outcomes(url, tmp_path, latest, whole) == {latest: "pass", whole: "fail"}
    finally:
        _execute(url, *restore)


def test_postgres_indexes_the_incremental_tables_and_their_raw_sources(built):
    """On PostgreSQL the incremental tables carry indexes for their per-send lookups, load-id watermarks
    and latest-load tests, and the raw tables they read one on the load id (docs/warehouse.md, tenth
    pass); DuckDB gets none (its zone maps do that work, and an ART index would slow every insert)."""
    url, _, _ = built
    expected = {
        ("raw", "events"): {"_dlt_load_id", "id"},
        ("raw", "sends"): {"_dlt_load_id", "send_id"},
        ("intermediate", "int_campaign_events_deduplicated"): {"send_id", "dlt_load_id", "send_load_id", "arrived_via"},
        **{("intermediate", table): {"send_id", "ledger_load_id", "last_webhook_load_id", "last_file_loaded_at",
                                     "greatest(ledger_load_id"}
           for table in ("int_campaign_sends_summarized", "int_billing_sends_deduplicated")},
    }
    if url.startswith("duckdb"):
        tables = ", ".join(f"'{table}'" for _, table in expected)
        assert _rows(url, f"select count(*) from duckdb_indexes() where table_name in ({tables})")[0][0] == 0
        return
    for (schema, table), columns in expected.items():
        definitions = [d for (d,) in _rows(url, "select indexdef from pg_indexes where schemaname = :schema "
                                                "and tablename = :table", schema=schema, table=table)]
        # "CREATE INDEX name ON schema.table USING btree (column)"
        # (PostgreSQL casts one side of greatest(); the latest-load tests' expression matches it alike)
        indexed = {d.split(" USING btree (", 1)[1][:-1].strip("()").lower().split(",")[0] for d in definitions}
        assert columns <= indexed, (schema, table, definitions)
    # and fresh planner statistics after the last build (the analyze post-hook)
    analyzed = _rows(url, "select count(*) from pg_stat_user_tables where schemaname = 'intermediate' and relname in "
                          "('int_campaign_events_deduplicated', 'int_campaign_sends_summarized', "
                          "'int_billing_sends_deduplicated') and last_analyze is not null")[0][0]
    assert analyzed == 3
