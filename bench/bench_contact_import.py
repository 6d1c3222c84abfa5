"""Contact import: rows/s and peak memory of ``ingestion.contact_import.import_contacts``.

A generated CSV with the usual header variants, ~5% in-file duplicates (merged) and ~1% bad
rows (quarantined), imported into a fresh migrated SQLite operational DB with a DuckDB warehouse
for the quarantine: the embedded default. Each run is a fresh child process reporting its own
peak RSS. Full mode: 1M rows; quick: 10k.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.store.organizations import create_organization
from ingestion.contact_import import import_contacts
path, db_url, wh_url = sys.argv[1], sys.argv[2], sys.argv[3]
migrate.upgrade(db_url)
engine = make_engine(db_url)
with session_scope(engine) as session:
    org, _ = create_organization(session, type_code="ecommerce", name="Bench", slug="bench", settings={"country": "US"})
start = time.perf_counter()
with session_scope(engine) as session:
    report = import_contacts(__import__("pathlib").Path(path), "contacts.csv", org=org, session=session, warehouse_url=wh_url)
seconds = time.perf_counter() - start
r = report.as_dict()
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  **{k: r[k] for k in ("read", "inserted", "updated", "unchanged", "merged_in_file", "quarantined")}}))
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


def run(quick: bool) -> dict:
    rows = 10_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as tmp:
        tmpdir = Path(tmp)
        path = tmpdir / "contacts.csv"
        generate_contacts_csv(path, rows)
        size_mb = path.stat().st_size / 1e6
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), f"sqlite:///{tmpdir / 'beacon.db'}", f"duckdb:///{tmpdir / 'w.duckdb'}"],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
    rate = result["read"] / result["seconds"]
    figures = {
        "rows": rows,
        "file_mb": round(size_mb, 1),
        "rows_per_s": round(rate),
        "seconds": round(result["seconds"], 2),
        "peak_rss_mb": round(result["peak_rss_mb"]),
        "inserted": result["inserted"],
        "merged_in_file": result["merged_in_file"],
        "quarantined": result["quarantined"],
    }
    table = [{"run": "import_contacts_sqlite", **{k: figures[k] for k in ("rows", "seconds", "rows_per_s", "peak_rss_mb", "inserted", "merged_in_file", "quarantined")}}]
    notes = (
        f"{rows:,}-row CSV ({size_mb:.0f} MB): header variants, ~5% in-file duplicates, ~1% invalid emails; "
        "SQLite operational DB + DuckDB warehouse (embedded default); per-row normalisation with "
        "email-validator and phonenumbers is the main cost."
    )
    return {"name": "contact_import", "figures": figures, "rows": table, "notes": notes}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
