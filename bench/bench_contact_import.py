"""Contact import: rows/s and peak memory of ``ingestion.contact_import.import_contacts``, beside a ceiling.

A generated CSV with the usual header variants, ~5% in-file duplicates (merged) and ~1% bad
rows (quarantined), side by side in one run:

- ``ceiling_sqlite``: the same file read by Arrow, deduplicated by email (pyarrow group-by)
  and bulk-inserted with ``beacon.store.contacts.insert_contacts`` (no validation, no merge,
  no quarantine): the write floor on the same table and indexes;
- ``import_sqlite``: ``import_contacts`` into a fresh SQLite operational DB, DuckDB warehouse
  for the quarantine (the embedded default);
- ``import_postgres``: the same into fresh PostgreSQL databases, if a server is reachable.

Each run is a fresh child process reporting its own peak RSS. Full mode: 1M rows; quick: 10k.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("BEACON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.store.organizations import create_organization
mode, path, db_url, wh_url = sys.argv[1:5]
migrate.upgrade(db_url)
engine = make_engine(db_url)
with session_scope(engine) as session:
    org, _ = create_organization(session, type_code="ecommerce", name="Bench", slug="bench", settings={"country": "US"})
if mode == "ceiling":
    import pyarrow.compute as pc, pyarrow.csv as pacsv
    from beacon.store.contacts import insert_contacts
    start = time.perf_counter()
    header = open(path).readline().strip().split(",")
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types={c: "string" for c in header}))
    read = table.num_rows
    table = table.filter(pc.match_substring(table["E-mail"], "@example.com"))  # the valid ones, as a ceiling writes
    table = table.append_column("key", pc.utf8_lower(table["E-mail"])).group_by("key", use_threads=False).aggregate(
        [(c, "last") for c in ("E-mail", "First Name", "Surname", "Mobile", "Customer ID", "Country")])
    rows = ({"email": r["E-mail_last"], "first_name": r["First Name_last"], "last_name": r["Surname_last"],
             "phone": r["Mobile_last"], "external_id": r["Customer ID_last"], "country": r["Country_last"], "source": "import"}
            for batch in table.to_batches(20_000) for r in batch.to_pylist())  # streamed, as the import writes
    with session_scope(engine) as session:
        inserted = len(insert_contacts(session, org, rows))
    seconds = time.perf_counter() - start
    out = {"read": read, "inserted": inserted, "merged_in_file": 0, "quarantined": 0}
else:
    from ingestion.contact_import import import_contacts
    start = time.perf_counter()
    with session_scope(engine) as session:
        report = import_contacts(Path(path), "contacts.csv", org=org, session=session, warehouse_url=wh_url)
    seconds = time.perf_counter() - start
    r = report.as_dict()
    out = {k: r[k] for k in ("read", "inserted", "updated", "unchanged", "merged_in_file", "quarantined")}
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **out}))
"""


def generate_contacts_csv(path: Path, rows: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    first = ["Ann", "Bob", "Carla", "Dev", "Eve", "Femi", "Gus", "Hana", "Ivan", "Jo"]
    types = ["Customer", "Lead", "VIP Customer", ""]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["E-mail", "First Name", "Surname", "Mobile", "Customer ID", "Country", "Tags", "Contact Type", "Consent Email", "Favourite Colour"])
        for i in range(rows):
            n = rng.randrange(i) if i and rng.random() < 0.05 else i  # in-file duplicate of an earlier contact
            email = f"user{n}@example.com" if rng.random() > 0.01 else f"broken{i}@"
            writer.writerow(
                [
                    email,
                    rng.choice(first),
                    f"Name{n}",
                    f"(201) 555-{n % 10000:04d}",
                    f"C{n}",
                    "US",
                    "vip;newsletter" if n % 7 == 0 else "newsletter",
                    rng.choice(types),
                    rng.choice(["yes", "no", ""]),
                    rng.choice(["red", "green", ""]),
                ]
            )


def _child(mode: str, path: Path, db_url: str, wh_url: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), db_url, wh_url],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"benchmark child {mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pg_databases(count: int) -> list[str]:
    """Fresh databases on the test server, or [] when none is reachable."""
    try:
        import psycopg

        names = [f"bench_contacts_{uuid.uuid4().hex[:10]}" for _ in range(count)]
        with psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')
        return names
    except Exception:  # psycopg.OperationalError and friends: the PostgreSQL part is skipped, noted below
        return []


def _drop_pg(names: list[str]) -> None:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(quick: bool) -> dict:
    rows = 10_000 if quick else 1_000_000
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as tmp:
        tmpdir = Path(tmp)
        path = tmpdir / "contacts.csv"
        generate_contacts_csv(path, rows)
        size_mb = path.stat().st_size / 1e6
        results["ceiling_sqlite"] = _child("ceiling", path, f"sqlite:///{tmpdir / 'ceiling.db'}", "")
        results["import_sqlite"] = _child("import", path, f"sqlite:///{tmpdir / 'beacon.db'}", f"duckdb:///{tmpdir / 'w.duckdb'}")
        pg = _pg_databases(2)
        if pg:
            base = PG_SERVER.rsplit("/", 1)[0]
            try:
                results["import_postgres"] = _child("import", path, f"{base}/{pg[0]}", f"{base}/{pg[1]}")
            finally:
                _drop_pg(pg)
    table = [
        {"run": name, "rows": r["read"], "seconds": round(r["seconds"], 2), "rows_per_s": round(r["read"] / r["seconds"]),
         "peak_rss_mb": round(r["peak_rss_mb"]), "inserted": r["inserted"], "merged_in_file": r["merged_in_file"],
         "quarantined": r["quarantined"]}
        for name, r in results.items()
    ]  # fmt: skip
    by_run = {row["run"]: row for row in table}
    figures = {
        "rows": rows,
        "file_mb": round(size_mb, 1),
        "rows_per_s": by_run["import_sqlite"]["rows_per_s"],
        "seconds": by_run["import_sqlite"]["seconds"],
        "peak_rss_mb": by_run["import_sqlite"]["peak_rss_mb"],
        "ceiling_rows_per_s": by_run["ceiling_sqlite"]["rows_per_s"],
        "vs_ceiling": round(by_run["import_sqlite"]["rows_per_s"] / by_run["ceiling_sqlite"]["rows_per_s"], 2),
    }
    if "import_postgres" in by_run:
        figures["postgres_rows_per_s"] = by_run["import_postgres"]["rows_per_s"]
        figures["postgres_peak_rss_mb"] = by_run["import_postgres"]["peak_rss_mb"]
    notes = (
        f"{rows:,}-row CSV ({size_mb:.0f} MB): header variants, ~5% in-file duplicates, ~1% invalid emails, "
        "10,000 distinct phone numbers (phonenumbers runs once per distinct number and region). The ceiling "
        "bulk-inserts the same file's distinct emails without any checks."
        + ("" if "import_postgres" in by_run else " PostgreSQL part skipped: no server reachable.")
    )
    return {"name": "contact_import", "figures": figures, "rows": table, "notes": notes}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
