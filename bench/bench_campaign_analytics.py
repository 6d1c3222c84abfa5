"""Campaign-analytics marts on DuckDB: 1M campaign sends (quick: 100k) with ~2.6 events each.

The raw tables are made by the real replication of a migrated operational DB (bench_billing's
helper), then synthetic rows are written into them with DuckDB SQL: 50 tenants, 20 campaigns each
(A/B variants, 10% held out), per live send a `sent` and (98%) a `delivered` event, 30% human opens,
20% Apple MPP machine opens, 6% human clicks, 2% scanner clicks; 1% of deliveries replayed under
another id; orders for 5% of contacts. Side by side, in one run:

1. ``ceiling``: the least work any campaign rollup must do, one DuckDB query counting distinct
   delivered / opened / clicked send_ids per campaign and variant (no dedupe, no classification);
2. ``dbt build``: the campaign models and their parents (seed loaded, tests excluded) (dedupe, machine/bot rules,
   daily series, attribution, holdout lift).

Model time is dbt's execution time of the campaign models (run_results.json); wall adds start-up,
parsing and the parents.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_billing import _raw_tables

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt"
MODELS = ("int_campaign_events_deduplicated", "int_campaign_sends_summarized", "fct_campaign_daily",
          "fct_attributed_conversions", "fct_campaign_holdout_lift", "fct_campaign_performance")
TENANTS, CAMPAIGNS_PER_TENANT = 50, 20


def _synthesize(warehouse: str, sends: int) -> dict:
    import duckdb

    con = duckdb.connect(warehouse)
    load, campaigns, contacts = "'bench'", TENANTS * CAMPAIGNS_PER_TENANT, sends // 4
    con.execute(f"""
        insert into raw.organizations (id, organization_type_id, name, slug, timezone, currency, branding, settings,
                                       created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1, 'T' || i, 'bench-' || i, 'UTC', 'USD', '{{}}', '{{}}',
               timestamptz '2025-01-01 00:00:00+00', timestamptz '2025-01-01 00:00:00+00', {load}
        from range({TENANTS}) t(i);
        insert into raw.contacts (id, organization_id, language, status, tags, custom_fields, consent_email, consent_sms,
               consent_transactional, consent_promotional, consent_newsletter, created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1000 + i % {TENANTS}, 'en', 'active', '[]', '{{}}', true, true, true, true, true,
               timestamptz '2025-01-01 00:00:00+00', timestamptz '2025-01-01 00:00:00+00', {load}
        from range({contacts}) t(i);
        insert into raw.campaigns (id, organization_id, name, template_code, channel, category, status, trigger_mode,
               scheduled_at, started_at, variants, holdout_percent, automation_steps, created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1000 + i % {TENANTS}, 'C' || i, 'newsletter', 'email', 'newsletter', 'sent', 'one_off',
               timestamptz '2026-01-01 10:00:00+00' + to_days(i // {TENANTS} * 15),
               timestamptz '2026-01-01 10:00:00+00' + to_days(i // {TENANTS} * 15), '[]', 10, '[]',
               timestamptz '2025-12-01 00:00:00+00', timestamptz '2025-12-01 00:00:00+00', {load}
        from range({campaigns}) t(i);
        create temp table s as
        select lower(cast(uuid() as varchar)) as send_id, 1000 + i % {campaigns} as campaign_id,
               1000 + (i % {campaigns}) % {TENANTS} as organization_id,
               1000 + ((i * 7) % ({contacts} // {TENANTS})) * {TENANTS} + (i % {campaigns}) % {TENANTS} as contact_id,
               case when hash(i + 1) % 2 = 0 then 'A' else 'B' end as variant, hash(i * 31) % 10 = 0 as held,
               timestamptz '2026-01-01 10:00:00+00' + to_days((i % {campaigns}) // {TENANTS} * 15) + to_seconds(i % 7200) as sent_at,
               hash(i) % 1000 as u, i
        from range({sends}) t(i);
        insert into raw.sends (send_id, organization_id, campaign_id, contact_id, step, channel, variant, status, attempts,
                               created_at, updated_at, sent_at, _dlt_load_id)
        select send_id, organization_id, campaign_id, contact_id, i, 'email', variant,
               case when held then 'held_out' else 'sent' end, 1, sent_at, sent_at,
               case when not held then sent_at end, {load}
        from s;
        insert into raw.events (id, organization_id, event_type, occurred_at, received_at, send_id, channel, provider,
                                provider_event_id, payload, _dlt_load_id)
        select 1000 + row_number() over (), organization_id, event_type, occurred_at, occurred_at, send_id, 'email',
               'sendgrid', event_type || '-' || n || '-' || i, payload, {load}
        from (
            select *, 'sent' as event_type, 0 as n, sent_at as occurred_at, '{{}}' as payload from s where not held
            union all select *, 'delivered', 0, sent_at + interval 30 second, '{{}}' from s where not held and u < 980
            union all select *, 'delivered', 1, sent_at + interval 30 second, '{{}}' from s where not held and u < 10
            union all select *, 'opened', 0, sent_at + interval 2 hour, '{{"useragent": "Mozilla/5.0 (iPhone)"}}'
                from s where not held and u < 300
            union all select *, 'opened', 1, sent_at + interval 5 minute, '{{"useragent": "Mozilla/5.0", "sg_machine_open": true}}'
                from s where not held and u >= 780 and u < 980
            union all select *, 'clicked', 0, sent_at + interval 3 hour, '{{"useragent": "Mozilla/5.0 (iPhone)"}}'
                from s where not held and u < 60
            union all select *, 'clicked', 1, sent_at + interval 45 second, '{{"useragent": "Proofpoint URL Defense/1.0"}}'
                from s where not held and u >= 960 and u < 980
        );
        create table raw.orders (order_id varchar(128), organization_id bigint, customer_email varchar(320),
            customer_external_id varchar(128), created_at timestamptz, updated_at timestamptz, currency varchar(3),
            subtotal numeric(14, 4), discount numeric(14, 4), tax numeric(14, 4), shipping numeric(14, 4),
            total numeric(14, 4), refunded_amount numeric(14, 4), status varchar(32), lines text, source_file text,
            source_line bigint, loaded_at timestamptz);
    """)
    con.execute("update raw.contacts set external_id = 'X' || id")
    con.execute(f"""
        insert into raw.orders
        select 'O' || contact_id || '-' || campaign_id, organization_id, null, 'X' || contact_id,
               sent_at + interval 1 day, sent_at + interval 1 day, 'USD', 50, 0, 0, 0, 50, 0, 'paid', '[]', 'bench', i,
               now()
        from s where u % 20 = 0
    """)
    counts = {name: con.execute(f"select count(*) from raw.{name}").fetchone()[0]
              for name in ("sends", "events", "contacts", "orders")}
    con.close()
    return counts


def _ceiling(warehouse: str) -> tuple[float, int]:
    import duckdb

    con = duckdb.connect(warehouse, read_only=True)
    started = time.perf_counter()
    groups = con.execute("""
        select count(*) from (
            select s.campaign_id, s.variant,
                   count(distinct case when e.event_type = 'delivered' then e.send_id end),
                   count(distinct case when e.event_type = 'opened' then e.send_id end),
                   count(distinct case when e.event_type = 'clicked' then e.send_id end)
            from raw.sends s join raw.events e on e.send_id = s.send_id
            group by all)
    """).fetchone()[0]
    seconds = time.perf_counter() - started
    con.close()
    return seconds, groups


def _dbt_run(warehouse: str, folder: Path) -> tuple[float, float]:
    env = {**os.environ, "BEACON_DBT_TARGET": "duckdb", "BEACON_DUCKDB_PATH": warehouse,
           "DBT_TARGET_PATH": str(folder / "target"), "DBT_LOG_PATH": str(folder / "logs")}
    # build (not run) so the fx seed the order parents need is loaded; tests excluded: models only.
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(DBT_PROJECT), "--profiles-dir",
               str(DBT_PROJECT), "--select", "+fct_campaign_performance", "+fct_campaign_holdout_lift",
               "--exclude", "resource_type:test", "resource_type:unit_test"]
    started = time.perf_counter()
    run = subprocess.run(command, cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(run.stdout[-3000:] + run.stderr[-2000:])
    results = json.loads((folder / "target" / "run_results.json").read_text())["results"]
    model = sum(r["execution_time"] for r in results if r["unique_id"].rsplit(".", 1)[-1] in MODELS)
    return model, wall


def run(quick: bool) -> dict:
    sends = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench_campaigns_") as tmp:
        folder = Path(tmp)
        warehouse = _raw_tables(folder)
        counts = _synthesize(warehouse, sends)
        ceiling, groups = _ceiling(warehouse)
        model, wall = _dbt_run(warehouse, folder)
        import duckdb

        con = duckdb.connect(warehouse, read_only=True)
        variants, delivered, opened = con.execute(
            "select count(*), sum(delivered), sum(opened_unique) from marts.fct_campaign_performance").fetchone()
        conversions = con.execute("select count(*) from marts.fct_attributed_conversions").fetchone()[0]
        lifts = con.execute("select count(*) from marts.fct_campaign_holdout_lift").fetchone()[0]
        con.close()
    rows = [
        {"path": "ceiling (one distinct-count query)", "model_s": round(ceiling, 2), "wall_s": round(ceiling, 2),
         "events_per_s": round(counts["events"] / ceiling)},
        {"path": "dbt build (campaign marts + parents)", "model_s": round(model, 2), "wall_s": round(wall, 2),
         "events_per_s": round(counts["events"] / model)},
    ]
    return {
        "name": "campaign analytics marts (DuckDB)",
        "figures": {**counts, "campaign_variants": variants, "ceiling_groups": groups, "delivered": int(delivered),
                    "opened_unique": int(opened), "attributed_conversions": conversions, "holdout_lifts": lifts,
                    "ceiling_s": round(ceiling, 2), "model_s": round(model, 2), "wall_s": round(wall, 2)},
        "rows": rows,
        "notes": f"{counts['sends']:,} sends, {counts['events']:,} events, {counts['orders']:,} orders, {TENANTS} tenants. "
                 "Model time = dbt execution time of the 6 campaign models; wall adds dbt start-up, parsing and parents.",
    }


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
