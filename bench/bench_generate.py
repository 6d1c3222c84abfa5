"""How fast ``beacon generate`` writes, and how much memory it needs, at 1M contacts (quick: 10k).

Three paths, each in its own child process so its peak RSS is its own (ru_maxrss of the child):

1. baseline: the physical ceiling, contact tuples straight from numpy into ``sqlite3.executemany``
   on the migrated schema (same table, same indexes), no validation, no JSON processing;
2. the shared write path, ``beacon.store.contacts.insert_contacts``, on the same rows;
3. the whole generator: tenants, contacts, orders files, campaigns, sends, events, suppressions.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_COMMON = """
import json, resource, sys, time
from pathlib import Path
from datetime import UTC, datetime
import numpy as np
n = int(sys.argv[1]); folder = Path(sys.argv[2]); url = f"sqlite:///{folder / 'beacon.db'}"
from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.store.organizations import create_organization
def rows_from_numpy(n):
    rng = np.random.default_rng(1)
    first = np.array(["Ann", "Bo", "Cy", "Di", "Ed"])[rng.integers(0, 5, n)]
    country = np.array(["US", "GB", "ES", "BR"])[rng.integers(0, 4, n)]
    signup = 1_700_000_000 + rng.integers(0, 60_000_000, n)
    return first, country, signup
def report(rows, seconds, **extra):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": round(peak, 1), **extra}))
"""

BASELINE = _COMMON + """
import sqlite3
migrate.upgrade(url)
engine = make_engine(url)
with session_scope(engine) as s:
    org, _ = create_organization(s, type_code="saas", name="Bench", slug="bench")
engine.dispose()
first, country, signup = rows_from_numpy(n)
stamp = [datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%d %H:%M:%S.000000") for t in signup]
con = sqlite3.connect(folder / "beacon.db")
con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=NORMAL")
sql = ("INSERT INTO contacts (organization_id, email, email_normalized, first_name, country, language, status, tags,"
       " custom_fields, consent_email, consent_sms, consent_transactional, consent_promotional, consent_newsletter,"
       " created_at, updated_at) VALUES (?,?,?,?,?,'en','active','[]','{}',1,0,1,0,0,?,?)")
started = time.perf_counter()
for lo in range(0, n, 50_000):
    batch = [(org, f"{first[i]}.{i}@x.io", f"{first[i].lower()}.{i}@x.io", first[i], country[i], stamp[i], stamp[i])
             for i in range(lo, min(n, lo + 50_000))]
    con.executemany(sql, batch)
con.commit()
report(n, time.perf_counter() - started)
"""

STORE = _COMMON + """
from beacon.store.contacts import insert_contacts
migrate.upgrade(url)
engine = make_engine(url)
with session_scope(engine) as s:
    org, _ = create_organization(s, type_code="saas", name="Bench", slug="bench")
first, country, signup = rows_from_numpy(n)
def rows():
    for i in range(n):
        at = datetime.fromtimestamp(int(signup[i]), UTC)
        yield {"email": f"{first[i]}.{i}@x.io", "first_name": str(first[i]), "country": str(country[i]),
               "consent_email": True, "created_at": at}
started = time.perf_counter()
with session_scope(engine) as s:
    ids = insert_contacts(s, org, rows(), chunk_size=20_000)
report(len(ids), time.perf_counter() - started)
"""

GENERATOR = _COMMON + """
from beacon.generate import GenerateConfig, generate
orders, events = int(sys.argv[3]), int(sys.argv[4])
started = time.perf_counter()
summary = generate(GenerateConfig(database_url=url, out=folder, scale="bench", contacts=n, orders=orders, events=events))
seconds = time.perf_counter() - started
written = sum(summary["tables"].values()) + sum(summary["file_rows"].values())
report(written, seconds, contacts=summary["tables"]["contacts"], summary=summary)
"""


def _child(code: str, *args: object) -> dict:
    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as folder:
        done = subprocess.run([sys.executable, "-c", code, *map(str, args[:1]), folder, *map(str, args[1:])],
                              cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"benchmark child failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool) -> dict:
    contacts = 10_000 if quick else 1_000_000
    orders, events = contacts * 5 // 2, contacts * 3
    baseline = _child(BASELINE, contacts)
    store = _child(STORE, contacts)
    generator = _child(GENERATOR, contacts, orders, events)
    summary = generator.pop("summary")
    rows = [
        {"path": "baseline: numpy tuples -> sqlite3 executemany", "contacts": baseline["rows"],
         "rows written": baseline["rows"], "seconds": round(baseline["seconds"], 2),
         "contacts/s": round(baseline["rows"] / baseline["seconds"]), "rows/s": round(baseline["rows"] / baseline["seconds"]),
         "peak RSS MB": baseline["peak_rss_mb"]},
        {"path": "beacon.store.contacts.insert_contacts", "contacts": store["rows"], "rows written": store["rows"],
         "seconds": round(store["seconds"], 2), "contacts/s": round(store["rows"] / store["seconds"]),
         "rows/s": round(store["rows"] / store["seconds"]), "peak RSS MB": store["peak_rss_mb"]},
        {"path": "beacon generate (DB rows + file rows)", "contacts": generator["contacts"],
         "rows written": generator["rows"], "seconds": round(generator["seconds"], 2),
         "contacts/s": round(generator["contacts"] / generator["seconds"]),
         "rows/s": round(generator["rows"] / generator["seconds"]), "peak RSS MB": generator["peak_rss_mb"]},
    ]
    figures = {
        "contacts": contacts,
        "baseline_rows_per_s": rows[0]["rows/s"],
        "store_rows_per_s": rows[1]["rows/s"],
        "generator_rows_per_s": rows[2]["rows/s"],
        "generator_contacts_per_s": rows[2]["contacts/s"],
        "generator_seconds": rows[2]["seconds"],
        "generator_peak_rss_mb": generator["peak_rss_mb"],
        "store_peak_rss_mb": store["peak_rss_mb"],
        "baseline_peak_rss_mb": baseline["peak_rss_mb"],
        "orders_rows": sum(v for k, v in summary["file_rows"].items() if k.startswith("orders_")),
        "events_total": summary["tables"]["events"] + summary["file_rows"].get("sendgrid_events", 0)
        + summary["file_rows"].get("twilio_events", 0),
        "repeat_buyer_share": summary["repeat_purchase"].get("repeat_buyer_share", 0),
    }
    notes = (f"SQLite operational DB on local disk; generator targets: {contacts:,} contacts, {orders:,} orders, "
             f"{events:,} events (scale 'bench' tenants). Peak RSS is each child process's own maximum. "
             f"Generator tables: {json.dumps(summary['tables'])}; files: {json.dumps(summary['files'])}.")
    return {"name": "generate", "figures": figures, "rows": rows, "notes": notes}
