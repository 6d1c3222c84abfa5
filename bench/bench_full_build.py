"""The whole dbt project at the generator's `bench` scale (1M contacts, 5M orders, ~20M events), on
DuckDB and PostgreSQL: full `dbt build` wall time and peak RSS, then an incremental `dbt build`
after 1% new events.

How the raw data gets into the warehouse: the raw schema is made by the real replication (dlt) of a
migrated operational DB (bench_billing's ``_raw_tables``), so column types are the production ones;
the rows are then synthesised set-wise by DuckDB SQL into those tables (and ``raw.orders`` with the
file loader's columns). ``beacon generate`` writes row by row through the operational DB and the
inbox files (660 s for 1M contacts / 3M events target, bench/results/results.md), ~hours at 20M
events, so it is not used here. The synthetic distributions follow the generator's shape but not its
exact model: 20 tenants, 12 campaigns each (10% SMS, half with a 10% holdout, a third A/B), ~36k
sends per campaign; per live email send a sent and (97%) a delivered event, 2% bounces, 30% human
opens, 19% machine opens, 6% human clicks, 2% scanner clicks, unsubscribes, complaints, 1%
delivered replays under another provider id; orders from half the contacts (matched by external id,
else e-mail; 5% guests), 3% of them restated later (refund / cancel). All events arrive by webhook
(raw.events); raw.provider_events (export files) is absent, so that branch builds empty.
The DuckDB raw warehouse is cached under .beacon/bench/full_build/ (keyed by scale) and copied per
run; PostgreSQL gets the raw schema from dlt, then the cached rows by COPY (CSV from DuckDB).

Timed: ``dbt build`` of the whole project (seeds, models, data and unit tests) in a child process;
peak RSS = that process's maximum RSS (psutil, sampled every 0.2 s, over dbt and its children); dbt
CPU s = its user + system CPU time (getrusage of children), a figure the box's other work skews less
than wall time. On PostgreSQL the server's memory and CPU are not included (separate processes). Incremental: 1% new events
(new ids, received after everything else: late clicks and replays of old events) are appended to
raw.events, then ``dbt build --select source:beacon.events+`` runs (the partial parse of the full
build reused, as dagster-dbt does): every model downstream of the events (campaign, billing,
contact-engagement models) and all their tests, with the campaign and billing event models
incremental (the campaign events appended, the sends with new events re-summarised) and the rest rebuilt.
The incremental build runs the tests an event-triggered build runs: the five tests tagged
whole_history (unique / relationships of every row against every row over all events and sends) are
left to the nightly build and their latest_load counterparts (the newest load's rows against every
row) run instead, and unit tests (fixed inputs) are left to CI and the nightly build;
``BENCH_FULL_INCREMENTAL_TESTS=all`` runs every test of the selection. The full
build leaves out the latest_load tests (the bench's raw data is one load: they would repeat the
whole_history ones).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt"
CACHE = REPO / ".beacon" / "bench" / "full_build"
PG_SERVER = os.environ.get("BEACON_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AS_OF = "2026-11-01"
TENANTS, CAMPAIGNS_PER_TENANT = 20, 12
SCALES = {  # name: (contacts, orders, sends); sends chosen so events land near the bench target (20M)
    "bench": (1_000_000, 5_000_000, 8_700_000),
    "bench_tenth": (100_000, 500_000, 870_000),
    "quick": (20_000, 100_000, 174_000),
}
ZONES = [("America/New_York", "USD"), ("Europe/London", "GBP"), ("Europe/Madrid", "EUR"),
         ("Australia/Sydney", "AUD"), ("America/Sao_Paulo", "BRL")]
# New events change only what is downstream of raw.events: what a scheduler triggered by that
# source runs, the models and their data tests (docs/warehouse.md "Which tests each build runs"):
# the tests tagged whole_history (unique / relationships of every row against every row over all
# events and sends, and the per-row not_null / accepted_values rules of the incremental tables) are
# left to the nightly build, and their latest_load counterparts (the newest load's rows against all
# rows; one rows_valid_in_latest_load per table for the per-row rules) run instead; unit tests (fixed inputs: they test the
# code, not the data) are left to CI and the nightly build, as dbt recommends.
# BENCH_FULL_INCREMENTAL_TESTS=all runs every test of the selection.
# The full build is the nightly one: every test but the latest_load ones (here the bench's raw data
# is one load, so they would repeat the whole_history tests).
INCREMENTAL_SELECT = ("--select", "source:beacon.events+",
                      *(() if os.environ.get("BENCH_FULL_INCREMENTAL_TESTS") == "all"
                        else ("--exclude", "tag:whole_history", "resource_type:unit_test")))
FULL_SELECT = ("--exclude", "tag:latest_load")
RAW_TABLES = ("organizations", "contact_types", "contacts", "lists", "list_members", "segments", "campaigns",
              "subscriptions", "sends", "events", "suppressions", "orders")


def _uuid(expr: str) -> str:
    """A deterministic uuid-shaped string from md5 (uuid() would differ per run)."""
    h = f"md5({expr})"
    return (f"substr({h}, 1, 8) || '-' || substr({h}, 9, 4) || '-' || substr({h}, 13, 4) || '-' || "
            f"substr({h}, 17, 4) || '-' || substr({h}, 21, 12)")


def synthesize(warehouse: str, contacts: int, orders: int, sends: int) -> dict:
    import duckdb

    zones = "[" + ", ".join(f"'{z}'" for z, _ in ZONES) + "]"
    currencies = "[" + ", ".join(f"'{c}'" for _, c in ZONES) + "]"
    per_tenant, campaigns = contacts // TENANTS, TENANTS * CAMPAIGNS_PER_TENANT
    start = "timestamptz '2024-11-01 00:00:00+00'"
    load = "'bench'"
    con = duckdb.connect(warehouse)
    con.execute("set preserve_insertion_order = false")
    con.execute(f"""
        insert into raw.organizations (id, organization_type_id, name, slug, timezone, currency, branding, settings,
                                       created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1 + i % 4, 'Tenant ' || i, 'bench-' || i, {zones}[1 + i % {len(ZONES)}],
               {currencies}[1 + i % {len(ZONES)}], '{{}}', '{{}}', {start}, {start}, {load}
        from range({TENANTS}) t(i);
        insert into raw.subscriptions (id, organization_id, plan_id, status, billing_cycle, current_period_start,
                                       current_period_end, created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1000 + i, 1 + i % 3, 'active', case when i % 3 = 2 then 'yearly' else 'monthly' end,
               timestamptz '2026-10-01 00:00:00+00', timestamptz '2026-11-01 00:00:00+00',
               {start} + to_days(i), timestamptz '2026-10-01 00:00:00+00', {load}
        from range({TENANTS}) t(i);
        insert into raw.contact_types (id, organization_id, code, name, position, _dlt_load_id)
        select 1000 + i, 1000 + i // 4, ['customer', 'lead', 'partner', 'staff'][1 + i % 4],
               ['Customer', 'Lead', 'Partner', 'Staff'][1 + i % 4], i % 4, {load}
        from range({TENANTS * 4}) t(i);
        -- contact id 1000 + j * TENANTS + t is the j-th contact of tenant t
        insert into raw.contacts (id, organization_id, external_id, email, email_normalized, phone, first_name,
               country, language, contact_type_id, status, tags, custom_fields, consent_email, consent_sms,
               consent_transactional, consent_promotional, consent_newsletter, source, erased_at, created_at,
               updated_at, _dlt_load_id)
        select 1000 + i, 1000 + i % {TENANTS},
               case when i % 5 <> 0 and i % 100 <> 13 then 'X' || (1000 + i) end,
               case when i % 50 <> 7 and i % 100 <> 13 then 'C' || (1000 + i) || '@Example.com' end,
               case when i % 50 <> 7 and i % 100 <> 13 then 'c' || (1000 + i) || '@example.com' end,
               case when i % 2 = 0 and i % 100 <> 13 then '+1555' || lpad(cast(i as varchar), 7, '0') end,
               ['Ann', 'Bo', 'Cy', 'Di', 'Ed'][1 + i % 5], ['US', 'GB', 'ES', 'BR'][1 + i % 4], 'en',
               1000 + (i % {TENANTS}) * 4 + (hash(i) % 4),
               case when i % 33 = 0 or i % 100 = 13 then 'unsubscribed' when i % 97 = 5 then 'bounced' else 'active' end,
               case i % 5 when 0 then '["vip"]' when 1 then '["newsletter", "promo"]' else '[]' end,
               case when i % 3 = 0 then '{{"plan": "gold", "score": ' || (i % 100) || '}}' else '{{}}' end,
               i % 33 <> 0, i % 2 = 0, true, i % 4 <> 0, i % 3 <> 0, 'import',
               case when i % 100 = 13 then timestamptz '2026-06-01 00:00:00+00' + to_seconds(i % 86400) end,
               {start} + to_seconds((i * 7919) % 63072000), {start} + to_seconds((i * 7919) % 63072000), {load}
        from range({contacts}) t(i);
        insert into raw.lists (id, organization_id, name, created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1000 + i % {TENANTS}, 'List ' || i, {start}, {start}, {load} from range({TENANTS * 3}) t(i);
        insert into raw.list_members (id, organization_id, list_id, contact_id, added_at, _dlt_load_id)
        select 1000 + i, 1000 + i % {TENANTS}, 1000 + (i // {TENANTS}) % 3 * {TENANTS} + i % {TENANTS},
               1000 + i, {start} + to_seconds(i % 63072000), {load}
        from range({contacts}) t(i) where hash(i) % 2 = 0;
        insert into raw.segments (id, organization_id, name, criteria, created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1000 + i % {TENANTS}, 'Segment ' || i, '{{"all": [{{"field": "status", "eq": "active"}}]}}',
               {start}, {start}, {load} from range({TENANTS * 2}) t(i);
        insert into raw.suppressions (id, organization_id, channel, address, reason, source, created_at, _dlt_load_id)
        select 1000 + i, 1000 + i % {TENANTS}, 'email', 'c' || (1000 + i) || '@example.com', 'bounce', 'provider',
               {start} + to_seconds(i % 63072000), {load}
        from range({contacts}) t(i) where i % 50 = 1;
        insert into raw.campaigns (id, organization_id, name, template_code, channel, category, status, trigger_mode,
               scheduled_at, started_at, variants, holdout_percent, automation_steps, created_at, updated_at,
               _dlt_load_id)
        select 1000 + c, 1000 + c % {TENANTS}, 'Campaign ' || c, 'newsletter',
               case when c % 10 = 3 then 'sms' else 'email' end, 'newsletter', 'sent', 'one_off',
               timestamptz '2025-01-06 09:00:00+00' + to_days(c // {TENANTS} * 55),
               timestamptz '2025-01-06 09:00:00+00' + to_days(c // {TENANTS} * 55),
               case when c % 3 = 0 and c % 10 <> 3 then '[{{"name": "A"}}, {{"name": "B"}}]' else '[]' end,
               case when c % 2 = 0 then 10 else 0 end, '[]',
               timestamptz '2025-01-01 00:00:00+00', timestamptz '2025-01-01 00:00:00+00', {load}
        from range({campaigns}) t(c);
        create temp table s as
        select {_uuid("'s' || n")} as send_id, c, 1000 + c as campaign_id, 1000 + c % {TENANTS} as organization_id,
               1000 + ((n // {campaigns} * 7 + c * 131) % {per_tenant}) * {TENANTS} + c % {TENANTS} as contact_id,
               case when c % 10 = 3 then 'sms' else 'email' end as channel,
               case when c % 3 = 0 and c % 10 <> 3 then (case when hash(n + 1) % 2 = 0 then 'A' else 'B' end) end
                   as variant,
               case when c % 2 = 0 and hash(n * 31) % 10 = 0 then 'held_out'
                    when hash(n * 3) % 1000 < 30 then 'suppressed'
                    when hash(n * 3) % 1000 < 35 then 'failed' else 'sent' end as status,
               timestamptz '2025-01-06 09:00:00+00' + to_days(c // {TENANTS} * 55)
                   + to_seconds((n // {campaigns}) % 7200) as sent_at,
               hash(n) % 1000 as u, n
        from (select n, n % {campaigns} as c from range({sends}) t(n));
        insert into raw.sends (send_id, organization_id, campaign_id, contact_id, step, channel, address, variant,
                               status, attempts, error, created_at, updated_at, sent_at, _dlt_load_id)
        select send_id, organization_id, campaign_id, contact_id, 0, channel, 'c' || contact_id || '@example.com',
               variant, status, 1,
               case when status = 'suppressed' then ['no_consent', 'suppressed', 'frequency_cap', 'inactive'][1 + n % 4]
                    when status = 'failed' then 'provider rejected' end,
               sent_at - interval 10 minute, sent_at + interval 1 minute,
               case when status = 'sent' then sent_at end, {load}
        from s;
    """)
    con.execute(f"""
        create temp table ev as
        select organization_id, send_id, contact_id, channel, event_type, k, n, occurred_at, payload
        from (
            select *, 'sent' as event_type, 0 as k, sent_at as occurred_at, '{{}}' as payload from s
            union all select *, 'delivered', 0, sent_at + interval 30 second, '{{}}' from s
                where (channel = 'email' and u < 970) or (channel = 'sms' and u < 950)
            union all select *, 'delivered', 1, sent_at + interval 30 second, '{{}}' from s  -- replay, other id
                where channel = 'email' and u < 10
            union all select *, 'bounced', 0, sent_at + interval 20 second,
                case when n % 2 = 0 then '{{"type": "blocked"}}' else '{{"type": "bounce"}}' end
                from s where channel = 'email' and u >= 980
            union all select *, 'opened', 0, sent_at + interval 2 hour + to_seconds(n % 86400),
                '{{"useragent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"}}' from s where channel = 'email' and u < 300
            union all select *, 'opened', 1, sent_at + interval 5 minute, '{{"useragent": "Mozilla/5.0", "sg_machine_open": true}}'
                from s where channel = 'email' and u >= 780 and u < 970
            union all select *, 'clicked', 0, sent_at + interval 3 hour + to_seconds(n % 86400),
                '{{"useragent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"}}' from s
                where (channel = 'email' and u < 60) or (channel = 'sms' and u < 40)
            union all select *, 'clicked', 1, sent_at + interval 45 second, '{{"useragent": "Proofpoint URL Defense/1.0"}}'
                from s where channel = 'email' and u >= 950 and u < 970
            union all select *, 'unsubscribed', 0, sent_at + interval 1 day, '{{}}' from s
                where channel = 'email' and u >= 300 and u < 305
            union all select *, 'complained', 0, sent_at + interval 1 day, '{{}}' from s where channel = 'email' and u = 306
            union all select *, 'failed', 0, sent_at + interval 20 second, '{{}}' from s where channel = 'sms' and u >= 990
        ) where status = 'sent';
        insert into raw.events (id, organization_id, event_type, occurred_at, received_at, send_id, contact_id, channel,
                                provider, provider_event_id, payload, _dlt_load_id)
        select 1000 + row_number() over (order by occurred_at, n, event_type, k), organization_id, event_type,
               occurred_at, occurred_at + interval 5 second, send_id, contact_id, channel,
               case when channel = 'sms' then 'twilio' else 'sendgrid' end,
               event_type || '-' || k || '-' || n, payload, {load}
        from ev;
        drop table ev;
        create table raw.orders (order_id varchar(128), organization_id bigint, customer_email varchar(320),
            customer_external_id varchar(128), created_at timestamptz, updated_at timestamptz, currency varchar(3),
            subtotal numeric(14, 4), discount numeric(14, 4), tax numeric(14, 4), shipping numeric(14, 4),
            total numeric(14, 4), refunded_amount numeric(14, 4), status varchar(32), lines text, source_file text,
            source_line bigint, loaded_at timestamptz);
        create temp table o as
        select k, t, 1000 + ((hash(k) % ({per_tenant} // 2)) * 2) * {TENANTS} + t as contact_id,
               {start} + to_seconds(hash(k * 7) % 63072000) as created_at,
               cast(10 + hash(k * 13) % 25000 / 100.0 as decimal(14, 4)) as subtotal,
               hash(k * 17) % 100 as r
        from (select k, k % {TENANTS} as t from range({orders}) t(k));
        insert into raw.orders
        select 'ORD-' || k, 1000 + t,
               case when r < 5 then 'guest' || k || '@example.net'
                    when contact_id % 5 = 0 then 'C' || contact_id || '@example.com' end,
               case when r >= 5 and contact_id % 5 <> 0 then 'X' || contact_id end,
               created_at, created_at, {currencies}[1 + t % {len(ZONES)}], subtotal, 0, subtotal * 0.1, 5,
               subtotal * 1.1 + 5, 0, 'paid',
               '[{{"sku": "SKU-' || (k % 500) || '", "quantity": 1, "price": ' || subtotal || '}}]',
               'orders_' || strftime(created_at, '%Y-%m') || '.csv', k, created_at + interval 1 hour
        from o;
        insert into raw.orders  -- 3% restated later: refunded (2%) or cancelled (1%)
        select 'ORD-' || k, 1000 + t,
               case when r < 5 then 'guest' || k || '@example.net'
                    when contact_id % 5 = 0 then 'C' || contact_id || '@example.com' end,
               case when r >= 5 and contact_id % 5 <> 0 then 'X' || contact_id end,
               created_at, created_at + interval 10 day, {currencies}[1 + t % {len(ZONES)}], subtotal, 0,
               subtotal * 0.1, 5, subtotal * 1.1 + 5, case when r < 97 then subtotal * 1.1 + 5 else 0 end,
               case when r < 97 then 'refunded' else 'cancelled' end, '[]',
               'orders_' || strftime(created_at + interval 10 day, '%Y-%m') || '.csv', k, created_at + interval 10 day
        from o where r >= 95 and r < 98;
    """)
    counts = {name: con.execute(f"select count(*) from raw.{name}").fetchone()[0] for name in RAW_TABLES}
    con.execute("checkpoint")
    con.close()
    return counts


def append_new_events(con, share: float = 0.01, dialect: str = "duckdb") -> int:
    """1% new raw events, received after everything loaded so far: late human opens and clicks on old
    sends, and webhook replays (new event id, same content) of old events. Works on a DB-API connection."""
    cur = con.cursor()
    cur.execute("select count(*), max(id), max(received_at) from raw.events")
    total, max_id, _ = cur.fetchone()
    n = int(total * share)
    stride = max(1, total // n)
    div = "//" if dialect == "duckdb" else "/"  # integer division
    pick = f"(id - 1000) % {stride} = 0"
    cur.execute(f"""
        insert into raw.events (id, organization_id, event_type, occurred_at, received_at, send_id, contact_id, channel,
                                provider, provider_event_id, payload, _dlt_load_id)
        select {max_id} + row_number() over (order by id), organization_id,
               case when (id {div} {stride}) % 3 = 0 then event_type else 'clicked' end,
               case when (id {div} {stride}) % 3 = 0 then occurred_at
                    else timestamptz '2026-11-01 06:00:00+00' + (id % 3600) * interval '1 second' end,
               timestamptz '2026-11-01 12:00:00+00' + (id % 3600) * interval '1 second',
               send_id, contact_id, channel, provider,
               case when (id {div} {stride}) % 3 = 0 then provider_event_id || '-replay' else 'late-' || id end,
               case when (id {div} {stride}) % 3 = 0 then payload
                    else cast('{{"useragent": "Mozilla/5.0 (Macintosh)"}}' as {'json' if dialect == 'duckdb' else 'jsonb'}) end,
               'bench-incremental'
        from raw.events
        where {pick} and id <= {max_id} and send_id is not null
        limit {n}
    """)
    cur.execute("select count(*) from raw.events")
    added = cur.fetchone()[0] - total
    con.commit()
    return added


def cached_raw(scale: str) -> tuple[Path, dict, float]:
    """The raw DuckDB warehouse for a scale, from the cache or synthesised now (seconds spent)."""
    contacts, orders, sends = SCALES[scale]
    CACHE.mkdir(parents=True, exist_ok=True)
    path, meta = CACHE / f"raw_{scale}.duckdb", CACHE / f"raw_{scale}.json"
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text()), 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_full_raw_") as tmp:
        from bench.bench_billing import _raw_tables

        warehouse = _raw_tables(Path(tmp))
        counts = synthesize(warehouse, contacts, orders, sends)
        shutil.move(warehouse, path)
    seconds = time.perf_counter() - started
    meta.write_text(json.dumps({**counts, "synthesis_s": round(seconds, 1)}))
    return path, {**counts, "synthesis_s": round(seconds, 1)}, seconds


def _postgres_warehouse(raw: Path, folder: Path) -> tuple[str, float]:
    """A fresh PostgreSQL warehouse: raw schema by dlt, then every raw table's rows by COPY."""
    import duckdb
    import psycopg
    from psycopg import sql

    name = "beacon_bench_full"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
    from bench.bench_billing import replicated_raw_schema

    replicated_raw_schema(url, folder)
    started = time.perf_counter()
    src = duckdb.connect(str(raw), read_only=True)
    with psycopg.connect(url) as conn:
        conn.execute("""create table raw.orders (order_id varchar(128), organization_id bigint,
            customer_email varchar(320), customer_external_id varchar(128), created_at timestamptz,
            updated_at timestamptz, currency varchar(3), subtotal numeric(14, 4), discount numeric(14, 4),
            tax numeric(14, 4), shipping numeric(14, 4), total numeric(14, 4), refunded_amount numeric(14, 4),
            status varchar(32), lines text, source_file text, source_line bigint, loaded_at timestamptz)""")
        for table in RAW_TABLES:
            columns = [c for (c,) in src.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
                "order by ordinal_position", [table]).fetchall()]
            csv = folder / f"{table}.csv"
            cols = ", ".join(f'"{c}"' for c in columns)
            src.execute(f"copy (select {cols} from raw.{table}) to '{csv}' (header false)")
            if table != "orders":  # the seed tenant dlt replicated is in the DuckDB copy too
                conn.execute(f"delete from raw.{table}")
            with conn.cursor().copy(f"copy raw.{table} ({cols}) from stdin with (format csv)") as copy, csv.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
            csv.unlink()
            conn.commit()
        conn.execute("analyze")
    src.close()
    return url, time.perf_counter() - started


def dbt_build(target_env: dict, folder: Path, label: str, *extra: str, parsed_in: str | None = None) -> dict:
    """`dbt build` of the whole project in a child process: wall time, peak RSS, per-node times.
    ``parsed_in``: the label of an earlier build whose partial_parse.msgpack seeds this one's target
    folder, as dagster-dbt seeds every run's (orchestration/dbt_project.py): no full re-parse."""
    import psutil

    env = {**os.environ, **target_env, "DBT_TARGET_PATH": str(folder / f"target_{label}"),
           "DBT_LOG_PATH": str(folder / f"logs_{label}")}
    if parsed_in:
        (folder / f"target_{label}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / f"target_{parsed_in}" / "partial_parse.msgpack",
                        folder / f"target_{label}" / "partial_parse.msgpack")
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(DBT_PROJECT),
               "--profiles-dir", str(DBT_PROJECT), "--vars", json.dumps({"as_of": AS_OF, "billing_as_of":
                                                                        f"{AS_OF} 12:00:00"}), *extra]
    load = os.getloadavg()[0]
    import resource

    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=DBT_PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    peak = [0]

    def sample() -> None:
        # Peak of the whole process tree (dbt runs in-process; this also covers any helpers it forks).
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = watched.memory_info().rss + sum(c.memory_info().rss for c in watched.children(recursive=True))
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate(timeout=7200)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of dbt (DuckDB runs in it): on a shared box the wall time is mostly waiting for a core.
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    sampler.join()
    (folder / f"dbt_{label}.log").write_text(out)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt build ({label}) failed:\n" + out[-5000:])
    results = json.loads((folder / f"target_{label}" / "run_results.json").read_text())["results"]
    slowest = sorted(((r["unique_id"].rsplit(".", 1)[-1], round(r["execution_time"], 1)) for r in results
                      if r["unique_id"].startswith("model.")), key=lambda x: -x[1])[:6]
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mb": round(peak[0] / 2**20), "load_1m_before": round(load, 2),
            "load_1m_after": round(os.getloadavg()[0], 2), "nodes": len(results),
            "model_s": round(sum(r["execution_time"] for r in results if r["unique_id"].startswith("model.")), 1),
            "slowest": slowest}


def _duckdb(raw: Path, folder: Path) -> dict:
    import duckdb

    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(raw, warehouse)
    target = {"BEACON_DBT_TARGET": "duckdb", "BEACON_DUCKDB_PATH": str(warehouse)}
    full = dbt_build(target, folder, "duckdb_full", *FULL_SELECT)
    con = duckdb.connect(str(warehouse))
    added = append_new_events(con)
    con.close()
    incremental = dbt_build(target, folder, "duckdb_incremental", *INCREMENTAL_SELECT, parsed_in="duckdb_full")
    return {"full": full, "incremental": incremental, "added_events": added,
            "warehouse_gb": round(warehouse.stat().st_size / 2**30, 2)}


def _postgres(raw: Path, folder: Path) -> dict:
    import psycopg

    url, load_s = _postgres_warehouse(raw, folder)
    target = {"BEACON_DBT_TARGET": "postgres", "BEACON_PG_HOST": "127.0.0.1", "BEACON_PG_PORT": "5432",
              "BEACON_PG_USER": "postgres", "BEACON_PG_DBNAME": url.rsplit("/", 1)[1]}
    full = dbt_build(target, folder, "postgres_full", *FULL_SELECT)
    with psycopg.connect(url) as conn:
        added = append_new_events(conn, dialect="postgres")
        size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    incremental = dbt_build(target, folder, "postgres_incremental", *INCREMENTAL_SELECT, parsed_in="postgres_full")
    return {"full": full, "incremental": incremental, "added_events": added, "copy_load_s": round(load_s, 1),
            "warehouse_gb": round(size / 2**30, 2)}


def run(quick: bool, duckdb_scale: str | None = None, postgres_scale: str | None = None) -> dict:
    duckdb_scale = duckdb_scale or ("quick" if quick else os.environ.get("BENCH_FULL_DUCKDB_SCALE", "bench"))
    postgres_scale = postgres_scale or ("quick" if quick else os.environ.get("BENCH_FULL_POSTGRES_SCALE", "bench_tenth"))
    rows, figures, notes = [], {}, []
    for warehouse, scale, runner in (("duckdb", duckdb_scale, _duckdb), ("postgres", postgres_scale, _postgres)):
        if scale == "skip":
            continue
        raw, counts, synth = cached_raw(scale)
        with tempfile.TemporaryDirectory(prefix=f"bench_full_{warehouse}_") as tmp:
            result = runner(raw, Path(tmp))
        full, inc = result["full"], result["incremental"]
        ratio = inc["wall_s"] / full["wall_s"]
        for label, r in (("full", full), ("incremental (+1% events)", inc)):
            rows.append({"warehouse": warehouse, "scale": scale, "build": label, "contacts": counts["contacts"],
                         "orders_raw": counts["orders"], "events": counts["events"] + (result["added_events"]
                                                                                      if label != "full" else 0),
                         "wall_s": r["wall_s"], "dbt_cpu_s": r["cpu_s"], "model_s": r["model_s"], "peak_rss_mb": r["peak_rss_mb"],
                         "load_1m": f"{r['load_1m_before']} -> {r['load_1m_after']}"})
        figures[f"{warehouse}_full_wall_s"] = full["wall_s"]
        figures[f"{warehouse}_full_peak_rss_mb"] = full["peak_rss_mb"]
        figures[f"{warehouse}_incremental_wall_s"] = inc["wall_s"]
        figures[f"{warehouse}_incremental_ratio"] = round(ratio, 3)
        figures[f"{warehouse}_full_dbt_cpu_s"] = full["cpu_s"]
        figures[f"{warehouse}_incremental_dbt_cpu_s"] = inc["cpu_s"]
        figures[f"{warehouse}_scale"] = scale
        figures[f"{warehouse}_raw_counts"] = counts
        figures[f"{warehouse}_detail"] = result
        notes.append(f"{warehouse} ({scale}): raw {counts}; synthesis {'cached' if not synth else f'{synth:.0f} s'}; "
                     f"warehouse {result['warehouse_gb']} GB after build; slowest models (full) {full['slowest']}; "
                     f"(incremental) {inc['slowest']}; incremental/full wall = {ratio:.3f}.")
    return {"name": "full dbt build (whole project)", "figures": figures, "rows": rows,
            "notes": "`dbt build` (seeds, models, data tests, unit tests) of the whole project, as_of "
                     f"{AS_OF}; full: `{' '.join(FULL_SELECT)}`; incremental: `{' '.join(INCREMENTAL_SELECT)}`. "
                     + " ".join(notes) + " See the module docstring for how raw data got there."}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2, default=str))
