"""Segment preview (count + 20-row sample) at 1M contacts on DuckDB: goal under 1 s per preview.

Builds synthetic marts of the documented shape (dim_contacts + tag/custom-field/list bridges)
directly in a scratch DuckDB file, then times the compiled queries of representative criteria
side by side with a baseline: a bare ``SELECT count(*)`` over the same table (the floor).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from beacon.segments.compiler import compile_segment
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
ORG = OrgId(1)

CRITERIA = {
    "stage_eq": {"field": "lifecycle_stage", "op": "eq", "value": "customer"},
    "rfm_like": {"all": [
        {"field": "orders_count", "op": "gte", "value": 2},
        {"field": "last_order_days", "op": "lte", "value": 90},
        {"field": "probability_alive", "op": "gt", "value": 0.5},
    ]},
    "tags_and_custom": {"all": [
        {"field": "tags", "op": "has_any", "value": ["vip", "newsletter"]},
        {"field": "custom.plan", "op": "eq", "value": "gold"},
    ]},
    "nested_not_list": {"any": [
        {"field": "list_id", "op": "in", "value": [3]},
        {"not": {"field": "country", "op": "in", "value": ["US", "GB"]}},
    ]},
}


def _build(path: Path, contacts: int) -> None:
    conn = duckdb.connect(str(path))
    conn.execute("CREATE SCHEMA marts")
    conn.execute(f"""
        CREATE TABLE marts.dim_contacts AS
        SELECT (i % 4 + 1)::BIGINT AS organization_id, i::BIGINT AS contact_id,
               'c' || i || '@example.com' AS email, 'First' || i AS first_name, 'Last' AS last_name,
               ['lead','prospect','customer','repeat','vip','churned'][1 + (hash(i) % 6)::INT] AS lifecycle_stage,
               'customer' AS contact_type_code, 'active' AS contact_status,
               ['US','GB','DE','FR','BR','JP'][1 + (hash(i * 7) % 6)::INT] AS country_code,
               NULL::VARCHAR AS city, NULL::VARCHAR AS region,
               (hash(i * 3) % 20)::INTEGER AS orders_count, (hash(i * 5) % 100000) / 100.0 AS net_revenue,
               (hash(i * 11) % 50000) / 100.0 AS predicted_clv_12m, (hash(i * 13) % 1000) / 1000.0 AS probability_alive,
               TIMESTAMPTZ '2026-11-01' - INTERVAL (hash(i * 17) % 700) DAY AS last_order_at,
               TIMESTAMPTZ '2026-11-01' - INTERVAL (hash(i * 19) % 400) DAY AS last_engaged_at
        FROM range({contacts}) t(i)
    """)
    conn.execute(f"""
        CREATE TABLE marts.bridge_contact_tags AS
        SELECT (i % 4 + 1)::BIGINT AS organization_id, i::BIGINT AS contact_id,
               ['vip','newsletter','donor','beta'][1 + (hash(i * 23) % 4)::INT] AS tag
        FROM range({contacts}) t(i) WHERE hash(i) % 3 = 0
    """)
    conn.execute(f"""
        CREATE TABLE marts.bridge_contact_custom_fields AS
        SELECT (i % 4 + 1)::BIGINT AS organization_id, i::BIGINT AS contact_id, 'plan' AS field_key,
               ['gold','silver','bronze'][1 + (hash(i * 29) % 3)::INT] AS value_text, NULL::DOUBLE AS value_number
        FROM range({contacts}) t(i) WHERE hash(i) % 2 = 0
    """)
    conn.execute(f"""
        CREATE TABLE marts.bridge_list_members AS
        SELECT (i % 4 + 1)::BIGINT AS organization_id, (hash(i) % 10)::BIGINT AS list_id, i::BIGINT AS contact_id
        FROM range({contacts}) t(i) WHERE hash(i * 31) % 5 = 0
    """)
    conn.close()


def _time(run, repeats: int = 5) -> float:
    run()  # warm the cache once, as an interactive form would be
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(quick: bool) -> dict:
    contacts = 50_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "warehouse.duckdb"  # not "marts.duckdb": the catalog would shadow the schema
        _build(path, contacts)
        engine = warehouse_engine(f"duckdb:///{path}")
        rows, figures = [], {}
        with engine.connect() as conn:
            baseline = _time(lambda: conn.exec_driver_sql("SELECT count(*) FROM marts.dim_contacts").scalar())
            for name, criteria in CRITERIA.items():
                compiled = compile_segment(criteria, ORG, as_of=AS_OF)

                def preview():
                    count = conn.execute(compiled.count()).scalar_one()
                    conn.execute(compiled.sample(20)).all()
                    return count

                seconds = _time(preview)
                members = preview()
                figures[f"preview_seconds_{name}"] = round(seconds, 4)
                rows.append({"criteria": name, "members": members, "preview_s": round(seconds, 4),
                             "vs_bare_count": round(seconds / baseline, 1) if baseline else None,
                             "goal_met (<1 s)": seconds < 1.0})
        engine.dispose()
    figures["contacts"] = contacts
    figures["bare_count_seconds"] = round(baseline, 5)
    figures["worst_preview_seconds"] = max(r["preview_s"] for r in rows)
    return {
        "name": "segment_preview",
        "figures": figures,
        "rows": rows,
        "notes": f"DuckDB, {contacts:,} contacts over 4 tenants; median of 5 warm runs of count + 20-row sample.",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=False), indent=2))
