"""Orders file ingestion: Beacon's validated, quarantining, transactional load vs DuckDB's raw ceiling.

Side by side on the same generated CSV (contract columns, ~1% bad rows):

- ``duckdb_read_csv_ceiling``: DuckDB's own ``CREATE TABLE AS SELECT * FROM read_csv(...)``
  into a fresh DuckDB file (no validation, no quarantine, no accounting): the upper bound;
- ``beacon_duckdb``: ``ingestion.files.load_file`` into a fresh DuckDB warehouse;
- ``beacon_postgres``: the same into a fresh PostgreSQL database (COPY), if one is reachable.

Each run is a fresh child process that reports its own peak RSS. Goal: Beacon on DuckDB at
least half the ceiling's rows/s; peak memory under 2 GB on the 10M-row file (full mode).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORGS = {"acme": 1, "globex": 2, "initech": 3}
PG_SERVER = os.environ.get("BEACON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

CHILD = r"""
import json, resource, sys, time
mode, path, url = sys.argv[1], sys.argv[2], sys.argv[3]
orgs = json.loads(sys.argv[4])
import duckdb
from ingestion.files import ORDERS, load_file
start = time.perf_counter()  # imports excluded: the load itself is measured
if mode == "ceiling":
    con = duckdb.connect(url.removeprefix("duckdb:///"))
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', header = true)")
    rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    extra = {}
else:
    r = load_file(ORDERS, path, organizations=orgs, warehouse_url=url)
    rows = r.rows_read
    extra = {"loaded": r.rows_loaded, "quarantined": r.rows_quarantined}
seconds = time.perf_counter() - start
print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))
"""


def generate_orders_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Contract-shaped orders, written in 1M-row chunks so generation itself stays small."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    lines_variants = pa.array(
        [
            json.dumps([{"sku": f"SKU-{i}", "name": f"Item {i}", "quantity": i % 3 + 1, "unit_price": f"{5 + i}.99"}])
            for i in range(8)
        ]
    )
    writer = None
    chunk = 1_000_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        ids = np.arange(start, start + n)
        created = pa.array(1_672_531_200 + rng.integers(0, 63_072_000, n), pa.timestamp("s", tz="UTC"))
        total_cents = rng.integers(500, 50_000, n)
        refunded = np.where(rng.random(n) < 0.05, total_cents // 2, 0)
        status = np.where(refunded > 0, "partially_refunded", "paid")
        currency = rng.choice(np.array(["USD", "EUR", "GBP"]), n)
        bad = rng.random(n) < 0.01
        currency = np.where(bad, "ZZZ", currency)  # ~1% quarantined rows
        cents = pa.array(total_cents)
        table = pa.table(
            {
                "order_id": pc.binary_join_element_wise("o", pa.array(ids).cast(pa.string()), ""),
                "organization": pa.array(rng.choice(np.array(list(ORGS)), n)),
                "customer_email": pc.binary_join_element_wise("c", pa.array(ids % 200_000).cast(pa.string()), "@example.com", ""),
                "customer_external_id": pa.nulls(n, pa.string()),
                "created_at": pc.strftime(created, format="%Y-%m-%dT%H:%M:%S+00:00"),
                "updated_at": pa.nulls(n, pa.string()),
                "currency": pa.array(currency),
                "subtotal": pc.divide(cents.cast(pa.float64()), 100.0).cast(pa.string()),
                "discount": pa.array(["0"] * n),
                "tax": pa.array(["0"] * n),
                "shipping": pa.array(["0"] * n),
                "total": pc.divide(cents.cast(pa.float64()), 100.0).cast(pa.string()),
                "refunded_amount": pc.divide(pa.array(refunded).cast(pa.float64()), 100.0).cast(pa.string()),
                "status": pa.array(status),
                "lines": pc.take(lines_variants, pa.array(rng.integers(0, 8, n))),
            }
        )
        if writer is None:
            writer = pacsv.CSVWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def _child(mode: str, path: Path, url: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), url, json.dumps(ORGS)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pg_database() -> tuple[str | None, str]:
    try:
        import psycopg

        name = f"beacon_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return PG_SERVER.rsplit("/", 1)[0] + "/" + name, name
    except Exception as exc:  # unreachable server: the PostgreSQL figure is skipped, saying why
        return None, str(exc).strip().splitlines()[0]


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(quick: bool) -> dict:
    rows = 20_000 if quick else 10_000_000
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        tmpdir = Path(tmp)
        path = tmpdir / "orders.csv"
        started = time.perf_counter()
        generate_orders_csv(path, rows)
        generation = time.perf_counter() - started
        results = {
            "duckdb_read_csv_ceiling": _child("ceiling", path, f"duckdb:///{tmpdir / 'ceiling.duckdb'}"),
            "beacon_duckdb": _child("beacon", path, f"duckdb:///{tmpdir / 'beacon.duckdb'}"),
        }
        pg_url, pg_name = _pg_database()
        notes = ""
        if pg_url:
            try:
                results["beacon_postgres"] = _child("beacon", path, pg_url)
            finally:
                _drop_pg(pg_name)
        else:
            notes = f"PostgreSQL part skipped: server unreachable ({pg_name}). "
        size_mb = path.stat().st_size / 1e6
    table = []
    for name, r in results.items():
        table.append(
            {
                "run": name,
                "rows": r["rows"],
                "seconds": round(r["seconds"], 2),
                "rows_per_s": round(r["rows"] / r["seconds"]),
                "peak_rss_mb": round(r["peak_rss_mb"]),
                "quarantined": r.get("quarantined", ""),
            }
        )
    ceiling = results["duckdb_read_csv_ceiling"]["rows"] / results["duckdb_read_csv_ceiling"]["seconds"]
    beacon = results["beacon_duckdb"]["rows"] / results["beacon_duckdb"]["seconds"]
    figures = {
        "rows": rows,
        "file_mb": round(size_mb, 1),
        "ceiling_rows_per_s": round(ceiling),
        "beacon_duckdb_rows_per_s": round(beacon),
        "beacon_vs_ceiling": round(beacon / ceiling, 3),
        "beacon_duckdb_peak_rss_mb": round(results["beacon_duckdb"]["peak_rss_mb"]),
    }
    if "beacon_postgres" in results:
        pg = results["beacon_postgres"]
        figures["beacon_postgres_rows_per_s"] = round(pg["rows"] / pg["seconds"])
        figures["beacon_postgres_peak_rss_mb"] = round(pg["peak_rss_mb"])
    notes += (
        f"{rows:,}-row CSV ({size_mb:.0f} MB, generated in {generation:.1f}s, ~1% rows with an unknown currency). "
        "Goal: beacon_duckdb >= 0.5 x ceiling; peak RSS < 2048 MB in full mode. Each run is a fresh child process."
    )
    return {"name": "orders_ingest", "figures": figures, "rows": table, "notes": notes}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
