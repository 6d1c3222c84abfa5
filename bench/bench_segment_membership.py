"""Segment membership refresh (history + sizes) at 1M contacts on DuckDB, side by side with its floor.

Marts of the documented shape are built as in ``bench_segment_preview`` (4 tenants of 250k). For
each representative segment of one tenant it times three refreshes: the first (every member
enters), one an hour later with no data changed (no history written, except where a
"within N days" window moved past a contact) and one after 2% of the tenant's contacts
changed lifecycle stage. The floor is materializing the segment's members once
(``CREATE TEMP TABLE AS SELECT``): a refresh has to evaluate the criteria at least that once.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.bench_segment_preview import AS_OF, CRITERIA, ORG, _build
from beacon.segments.compiler import compile_segment, contacts
from beacon.segments.membership import SegmentDefinition, ensure_tables, refresh_segment
from beacon.warehouse import warehouse_engine


FLOOR = sa.table("members_floor", sa.column("contact_id", sa.BigInteger()))


def _seconds(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def run(quick: bool) -> dict:
    n_contacts = 50_000 if quick else 1_000_000
    rows, figures = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "warehouse.duckdb"
        _build(path, n_contacts)
        engine = warehouse_engine(f"duckdb:///{path}")
        ensure_tables(engine)
        try:
            for number, (name, criteria) in enumerate(CRITERIA.items(), start=1):
                segment = SegmentDefinition(ORG, number, criteria)
                with engine.begin() as conn:
                    conn.execute(sa.text("CREATE TEMP TABLE members_floor (contact_id BIGINT)"))
                    members = compile_segment(criteria, ORG, as_of=AS_OF).members(contacts.c.contact_id)
                    floor, _ = _seconds(lambda: conn.execute(sa.insert(FLOOR).from_select(["contact_id"], members)))
                    conn.execute(sa.text("DROP TABLE members_floor"))

                def refresh(as_of):
                    with engine.begin() as conn:
                        return refresh_segment(conn, segment, as_of)

                first_s, first = _seconds(lambda: refresh(AS_OF))
                same_s, same = _seconds(lambda: refresh(AS_OF + timedelta(hours=1)))
                with engine.begin() as conn:  # 2% of the tenant's contacts move stage and country
                    conn.execute(sa.text(
                        "UPDATE marts.dim_contacts SET lifecycle_stage = CASE lifecycle_stage WHEN 'customer' THEN 'repeat' "
                        "ELSE 'customer' END, country_code = CASE country_code WHEN 'US' THEN 'DE' ELSE 'US' END WHERE organization_id = :org AND hash(contact_id * 37) % 50 = 0"), {"org": ORG})
                churn_s, churn = _seconds(lambda: refresh(AS_OF + timedelta(hours=2)))
                rows.append({
                    "segment": name, "members": first.members, "floor_s": round(floor, 3),
                    "first_refresh_s": round(first_s, 3), "no_change_s": round(same_s, 3),
                    "entered/exited with no change": f"{same.entered}/{same.exited}",
                    "after_2pct_change_s": round(churn_s, 3), "entered/exited after change": f"{churn.entered}/{churn.exited}",
                    "no_change_vs_floor": round(same_s / floor, 1) if floor else None,
                })
                figures[f"no_change_refresh_seconds_{name}"] = round(same_s, 4)
                figures[f"first_refresh_seconds_{name}"] = round(first_s, 4)
        finally:
            engine.dispose()
    figures["contacts"] = n_contacts
    figures["worst_refresh_seconds"] = max(max(r["first_refresh_s"], r["no_change_s"], r["after_2pct_change_s"]) for r in rows)
    return {
        "name": "segment_membership",
        "figures": figures,
        "rows": rows,
        "notes": f"DuckDB, {n_contacts:,} contacts over 4 tenants, one tenant's segments refreshed (one transaction each); "
                 f"single runs, measured {datetime.now(UTC):%Y-%m-%d}.",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=False), indent=2))
