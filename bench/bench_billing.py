"""Usage-billing marts on DuckDB: 200 tenants, 1M sends (quick: 20 tenants, 100k), 24 months each.

The raw tables are made by the real replication (dlt) of a migrated operational DB, so their types
are the production ones; the synthetic rows are then written into them with DuckDB SQL (sends with
a `sent` event each, 10% of them replayed, a `delivered` each; contacts created over two years, 2%
erased; half the tenants change plan once). Side by side, in one run:

1. ``ceiling``: the least work any billing build must do, one DuckDB query counting distinct sent
   send_ids per tenant and local month (no plans, proration, contacts or invoice lines);
2. ``first_build``: `dbt run` of the billing models and their parents (every period computed);
3. ``rebuild``: the same again, as the hourly schedule would: closed periods are skipped.

Model time is dbt's own execution time of the billing models (run_results.json); wall time adds
dbt's start-up and parsing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt"
AS_OF = "2026-11-15 12:00:00"
BILLING_MODELS = ("int_billing_sends_deduplicated", "int_billing_plan_intervals", "int_billing_periods_spined",
                  "int_billing_terms_per_period", "int_billing_usage_per_period", "fct_billing_periods",
                  "fct_usage_vs_plan", "fct_invoice_lines")
ZONES = ["America/New_York", "Europe/London", "Europe/Madrid", "Australia/Sydney", "Asia/Tokyo", "America/Sao_Paulo"]


def replicated_raw_schema(warehouse_url: str, folder: Path) -> None:
    """Create the raw schema in ``warehouse_url`` with the real replication of a migrated operational
    DB (one real tenant in it), so column types are the production ones."""
    from beacon.schema import migrate
    from beacon.schema.db import make_engine, session_scope
    from beacon.store.organizations import create_organization
    from ingestion.replication import replicate

    op_url = f"sqlite:///{folder / 'beacon.db'}"
    migrate.upgrade(op_url)
    engine = make_engine(op_url)
    with session_scope(engine) as session:
        create_organization(session, type_code="saas", name="Seed", slug="seed")
    engine.dispose()
    os.environ["BEACON_HOME"] = str(folder / "home")
    replicate(op_url, warehouse_url, pipelines_dir=folder / "dlt")


def _raw_tables(folder: Path) -> str:
    """A DuckDB warehouse whose raw schema the real replication created."""
    warehouse = folder / "warehouse.duckdb"
    replicated_raw_schema(f"duckdb:///{warehouse}", folder)
    return str(warehouse)


def _synthesize(warehouse: str, tenants: int, sends: int, contacts: int) -> dict:
    import duckdb

    zones = "[" + ", ".join(f"'{z}'" for z in ZONES) + "]"
    con = duckdb.connect(warehouse)
    load = "'bench'"
    con.execute(f"""
        insert into raw.organizations (id, organization_type_id, name, slug, timezone, currency, branding, settings,
                                       created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1, 'T' || i, 'bench-' || i, {zones}[1 + i % {len(ZONES)}], 'USD', '{{}}', '{{}}',
               timestamptz '2024-10-01 00:00:00+00', timestamptz '2024-10-01 00:00:00+00', {load}
        from range({tenants}) t(i);
        insert into raw.subscriptions (id, organization_id, plan_id, status, billing_cycle, current_period_start,
                                       current_period_end, created_at, updated_at, _dlt_load_id)
        select 1000 + i, 1000 + i, 1 + i % 3, 'active', case when i % 3 = 2 then 'yearly' else 'monthly' end,
               timestamptz '2026-11-01 00:00:00+00', timestamptz '2026-12-01 00:00:00+00',
               timestamptz '2024-11-10 08:00:00+00' + to_days(i % 20), timestamptz '2026-11-01 00:00:00+00', {load}
        from range({tenants}) t(i);
        insert into raw.subscription_changes (id, organization_id, subscription_id, from_plan_id, to_plan_id,
               from_billing_cycle, to_billing_cycle, effective_at, source, created_at, _dlt_load_id)
        select 1000 + i, 1000 + i, 1000 + i, 1 + (i + 1) % 3, 1 + i % 3, 'monthly',
               case when i % 3 = 2 then 'yearly' else 'monthly' end,
               timestamptz '2025-09-14 13:37:00+00' + to_days(i % 200), 'api',
               timestamptz '2025-09-14 13:37:00+00', {load}
        from range({tenants}) t(i) where i % 2 = 0;
        insert into raw.contacts (id, organization_id, language, status, tags, custom_fields, consent_email, consent_sms,
               consent_transactional, consent_promotional, consent_newsletter, erased_at, created_at, updated_at,
               _dlt_load_id)
        select 1000 + i, 1000 + i % {tenants}, 'en', 'active', '[]', '{{}}', true, true, true, true, true,
               case when i % 50 = 0 then timestamptz '2026-06-01 00:00:00+00' + to_seconds(i % 86400) end,
               timestamptz '2024-11-01 00:00:00+00' + to_seconds((i * 7919) % 63072000), timestamptz '2026-11-01 00:00:00+00',
               {load}
        from range({contacts}) t(i);
        create temp table synthetic_sends as
        select lower(cast(uuid() as varchar)) as send_id, 1000 + i % {tenants} as organization_id,
               1 + (i // 5000) as campaign_id, 1000 + i % {contacts} as contact_id, i as step,
               case when i % 20 = 0 then 'sms' when i % 97 = 0 then 'whatsapp' else 'email' end as channel,
               timestamptz '2024-11-15 00:00:00+00' + to_seconds((i * 104729) % 62208000) as sent_at, i
        from range({sends}) t(i);
        insert into raw.sends (send_id, organization_id, campaign_id, contact_id, step, channel, status, attempts,
                               created_at, updated_at, sent_at, _dlt_load_id)
        select send_id, organization_id, campaign_id, contact_id, step, channel, 'sent', 1, sent_at, sent_at, sent_at,
               {load}
        from synthetic_sends;
        insert into raw.events (id, organization_id, event_type, occurred_at, received_at, send_id, channel, provider,
                                provider_event_id, payload, _dlt_load_id)
        select 1000 + row_number() over (), organization_id, event_type, occurred_at, occurred_at, send_id, channel,
               'sendgrid', event_type || '-' || n || '-' || i, '{{}}', {load}
        from (
            select *, 'sent' as event_type, 0 as n, sent_at as occurred_at from synthetic_sends
            union all select *, 'sent', 1, sent_at + interval 2 minute from synthetic_sends where i % 10 = 0
            union all select *, 'delivered', 0, sent_at + interval 1 minute from synthetic_sends
        );
    """)
    counts = {name: con.execute(f"select count(*) from raw.{name}").fetchone()[0] for name in ("sends", "events", "contacts")}
    con.close()
    return counts


def _ceiling(warehouse: str) -> tuple[float, int]:
    import duckdb

    con = duckdb.connect(warehouse, read_only=True)
    started = time.perf_counter()
    groups = con.execute("""
        select count(*) from (
            select e.organization_id, date_trunc('month', e.first_sent at time zone o.timezone), count(*)
            from (select organization_id, send_id, min(occurred_at) as first_sent from raw.events
                  where event_type = 'sent' group by all) e
            join raw.organizations o on o.id = e.organization_id
            group by all)
    """).fetchone()[0]
    seconds = time.perf_counter() - started
    con.close()
    return seconds, groups


def _dbt_run(warehouse: str, folder: Path) -> tuple[float, float]:
    env = {**os.environ, "BEACON_DBT_TARGET": "duckdb", "BEACON_DUCKDB_PATH": warehouse,
           "DBT_TARGET_PATH": str(folder / "target"), "DBT_LOG_PATH": str(folder / "logs")}
    command = [str(Path(sys.executable).with_name("dbt")), "run", "--project-dir", str(DBT_PROJECT), "--profiles-dir",
               str(DBT_PROJECT), "--select", "+fct_invoice_lines", "--vars", json.dumps({"billing_as_of": AS_OF})]
    started = time.perf_counter()
    run = subprocess.run(command, cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(run.stdout[-3000:] + run.stderr[-2000:])
    results = json.loads((folder / "target" / "run_results.json").read_text())["results"]
    model = sum(r["execution_time"] for r in results if r["unique_id"].rsplit(".", 1)[-1] in BILLING_MODELS)
    return model, wall


def run(quick: bool) -> dict:
    tenants, sends, contacts = (20, 100_000, 20_000) if quick else (200, 1_000_000, 200_000)
    with tempfile.TemporaryDirectory(prefix="bench_billing_") as tmp:
        folder = Path(tmp)
        warehouse = _raw_tables(folder)
        counts = _synthesize(warehouse, tenants, sends, contacts)
        ceiling, groups = _ceiling(warehouse)
        first_model, first_wall = _dbt_run(warehouse, folder)
        rebuild_model, rebuild_wall = _dbt_run(warehouse, folder)
        import duckdb

        con = duckdb.connect(warehouse, read_only=True)
        periods, closed = con.execute("select count(*), count(*) filter (where is_closed) from marts.fct_billing_periods").fetchone()
        lines = con.execute("select count(*) from marts.fct_invoice_lines").fetchone()[0]
        con.close()
    rows = [
        {"path": "ceiling (one count query)", "model_s": round(ceiling, 2), "wall_s": round(ceiling, 2),
         "sends_per_s": round(counts["sends"] / ceiling)},
        {"path": "first build (all periods)", "model_s": round(first_model, 2), "wall_s": round(first_wall, 2),
         "sends_per_s": round(counts["sends"] / first_model)},
        {"path": "rebuild (closed periods kept)", "model_s": round(rebuild_model, 2), "wall_s": round(rebuild_wall, 2),
         "sends_per_s": round(counts["sends"] / rebuild_model)},
    ]
    return {
        "name": "billing marts (DuckDB)",
        "figures": {"tenants": tenants, **counts, "periods": periods, "closed_periods": closed, "invoice_lines": lines,
                    "tenant_months_counted_by_ceiling": groups, "ceiling_s": round(ceiling, 2),
                    "first_build_model_s": round(first_model, 2), "rebuild_model_s": round(rebuild_model, 2)},
        "rows": rows,
        "notes": f"{tenants} tenants, {counts['sends']:,} sends, {counts['events']:,} events, {counts['contacts']:,} contacts; "
                 f"{periods} periods ({closed} closed), {lines} invoice lines. Model time = dbt execution time of the "
                 "8 billing models (views cost ~0; the tables do the work); wall adds dbt start-up and the parents.",
    }


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
