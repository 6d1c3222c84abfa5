"""Open pixel and click redirect: ``beacon api`` on one uvicorn worker against a bare ASGI ceiling.

Each target runs as its own server process; the load comes from ``bench._loadgen`` in another
process on loopback. Per target: the maximum throughput (closed loop, 2xx/3xx per second), then
p50/p99 latency at half of that rate (open loop, measured from the scheduled start). The bare
ASGI app (same GIF bytes and headers, same 302, same uvicorn settings) is the ceiling; the goal is
the real endpoints at >= 0.5 of it with every event durably stored, and p99 < 25 ms at half load.

After each real-endpoint run the events table is read back: the stored events must match the
2xx answers send_id by send_id (an answer without its row fails the bench). The load generator's
and the server's CPU time per request are reported: the client costing less per request than the
bare server is what shows it can saturate one worker, whatever else is running on the machine.
Operational DB: the embedded SQLite file, and PostgreSQL when one is reachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import psutil

from bench._tracking_setup import SeededSend, Server, bare_asgi_command, beacon_api_command, free_port, seed_sends

REPO = Path(__file__).resolve().parents[1]
SIGNING_KEY = "bench-signing-key"
PG_SERVER = os.environ.get("BEACON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
P99_GOAL_MS, RATIO_GOAL = 25.0, 0.5


def _load(server: Server, paths_file: Path, mode: str, duration: float, *, concurrency: int = 32,
          rate: float = 0.0) -> dict:
    """Run the load generator once; adds the server's and the client's CPU µs per answered request."""
    before = psutil.Process(server.pid).cpu_times()
    command = [sys.executable, "-m", "bench._loadgen", "--base", server.base_url, "--paths", str(paths_file),
               "--mode", mode, "--duration", str(duration), "--concurrency", str(concurrency), "--rate", str(rate)]
    child = psutil.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.communicate(timeout=duration * 10 + 60)
    if child.returncode != 0:
        raise RuntimeError(f"load generator failed: {err[-2000:]}")
    result = json.loads(out)
    after = psutil.Process(server.pid).cpu_times()
    server_cpu = (after.user + after.system) - (before.user + before.system)
    requests = max(1, sum(result["statuses"].values()))
    result["server_cpu_us_per_req"] = server_cpu / requests * 1e6
    result["client_cpu_us_per_req"] = result.pop("client_cpu_s", 0.0) / requests * 1e6
    return result


def _stored(db_url: str, event_type: str, after_id: int) -> tuple[int, Counter]:
    """(highest event id, events per send_id with id > after_id) as committed in the operational DB."""
    from sqlalchemy import func, select

    from beacon.schema.db import make_engine
    from beacon.schema.models import Event

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            top = conn.scalar(select(func.coalesce(func.max(Event.id), 0)))
            rows = conn.execute(select(Event.send_id).where(Event.id > after_id, Event.event_type == event_type)).all()
    finally:
        engine.dispose()
    return top, Counter(uuid.UUID(str(r.send_id)) for r in rows)


def _measure(server: Server, paths_file: Path, duration: float, *, check=None) -> dict:
    """Max throughput, then latency at half of it; ``check(result)`` verifies storage after each run."""
    peak = _load(server, paths_file, "max", duration)
    if check:
        check(peak)
    half = max(1.0, peak["ok_per_s"] / 2)
    steady = _load(server, paths_file, "rate", duration, rate=half, concurrency=64)
    if check:
        check(steady)
    return {"max_rps": peak["ok_per_s"], "errors": sum(v for k, v in peak["statuses"].items() if not k.startswith(("2", "3"))),
            "half_load_rps": half, "p50_ms": steady["p50_ms"], "p99_ms": steady["p99_ms"],
            "server_cpu_us_per_req": peak["server_cpu_us_per_req"], "client_cpu_us_per_req": peak["client_cpu_us_per_req"],
            "answered": peak["ok"] + steady["ok"]}


def _pg_url() -> tuple[str, str] | None:
    try:
        import psycopg

        name = f"beacon_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name, PG_SERVER.rpartition("/")[0] + "/" + name
    except Exception:  # no server: the SQLite figures stand alone, and the notes say so
        return None


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _real_endpoint_rows(backend: str, db_url: str, home: Path, sends: list[SeededSend], files: dict[str, Path],
                        duration: float) -> list[dict]:
    env = {"BEACON_DATABASE_URL": db_url, "BEACON_HOME": str(home), "BEACON_SIGNING_KEYS": SIGNING_KEY}
    by_path = {p: s.send_id for s in sends for p in (s.open_path, s.click_path)}
    rows = []
    port = free_port()
    with Server(beacon_api_command(port), port, env, cwd=REPO) as server:
        for endpoint, event_type in (("open pixel", "opened"), ("click redirect", "clicked")):
            last_id = [_stored(db_url, event_type, 0)[0]]

            def check(result: dict, event_type=event_type) -> None:
                top, stored = _stored(db_url, event_type, last_id[0])
                answered = Counter(by_path[p] for p in result["ok_paths"])
                if stored != answered:
                    missing = sum((answered - stored).values())
                    raise AssertionError(f"{endpoint} on {backend}: {sum(answered.values())} 2xx/3xx answers but "
                                         f"{sum(stored.values())} stored events ({missing} answered without a row)")
                last_id[0] = top

            figures = _measure(server, files[endpoint], duration, check=check)
            rows.append({"endpoint": endpoint, "server": f"beacon api ({backend})", **figures,
                         "stored = answered": "yes"})  # check() raised otherwise
    return rows


def run(quick: bool) -> dict:
    duration = 2.0 if quick else 6.0
    count = 500 if quick else 5_000
    rows: list[dict] = []
    notes = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        sqlite_url = f"sqlite:///{scratch_dir / 'beacon.db'}"
        sends = seed_sends(sqlite_url, count, [SIGNING_KEY])
        files = {"open pixel": scratch_dir / "opens.txt", "click redirect": scratch_dir / "clicks.txt"}
        files["open pixel"].write_text("\n".join(s.open_path for s in sends) + "\n")
        files["click redirect"].write_text("\n".join(s.click_path for s in sends) + "\n")
        with Server(bare_asgi_command(port := free_port()), port, cwd=REPO) as bare:
            for endpoint in files:
                rows.append({"endpoint": endpoint, "server": "bare ASGI (ceiling)", **_measure(bare, files[endpoint], duration)})
        rows += _real_endpoint_rows("SQLite", sqlite_url, scratch_dir / "home", sends, files, duration)
        pg = _pg_url()
        if pg:
            name, pg_url = pg
            try:
                pg_sends = seed_sends(pg_url, count, [SIGNING_KEY])
                pg_files = {k: scratch_dir / f"pg-{v.name}" for k, v in files.items()}
                pg_files["open pixel"].write_text("\n".join(s.open_path for s in pg_sends) + "\n")
                pg_files["click redirect"].write_text("\n".join(s.click_path for s in pg_sends) + "\n")
                rows += _real_endpoint_rows("PostgreSQL", pg_url, scratch_dir / "home-pg", pg_sends, pg_files, duration)
            finally:
                _drop_pg(name)
        else:
            notes.append(f"PostgreSQL not reachable at {PG_SERVER}: SQLite figures only.")
    ceiling = {r["endpoint"]: r["max_rps"] for r in rows if r["server"].startswith("bare")}
    figures = {}
    for row in rows:
        row["vs_bare"] = round(row["max_rps"] / ceiling[row["endpoint"]], 3)
        if not row["server"].startswith("bare"):
            met = row["vs_bare"] >= RATIO_GOAL and row["p99_ms"] < P99_GOAL_MS
            row[f"goal_met (>= {RATIO_GOAL} of bare, p99 < {P99_GOAL_MS:.0f} ms)"] = "yes" if met else "no"
        key = f"{row['endpoint'].split()[0]}_{row['server'].split()[0]}" + (
            "" if row["server"].startswith("bare") else "_" + row["server"].split("(")[1].rstrip(")").lower())
        figures.update({f"{key}_max_rps": round(row["max_rps"], 1), f"{key}_p99_ms": round(row["p99_ms"], 2),
                        f"{key}_vs_bare": row["vs_bare"]})
        for column in ("max_rps", "half_load_rps", "p50_ms", "p99_ms", "server_cpu_us_per_req", "client_cpu_us_per_req"):
            row[column] = round(row[column], 1 if column.endswith("rps") else 2)
    client_ok = all(r["client_cpu_us_per_req"] < r["server_cpu_us_per_req"] for r in rows if r["server"].startswith("bare"))
    figures["client_can_saturate_bare"] = client_ok
    notes.insert(0, f"{count:,} sends seeded per back end; each phase {duration:.0f} s; one uvicorn worker per server, "
                    "load generator (bench._loadgen: asyncio + uvloop + httptools) in its own process on loopback. "
                    "max_rps: closed loop, 32 keep-alive connections; p50/p99: open loop at half of that target's max, "
                    "from the scheduled start. Every real-endpoint phase is checked: stored events equal the 2xx/3xx "
                    "answers, send_id by send_id. The client costs less CPU per request than the bare server "
                    f"({'yes' if client_ok else 'NO: figures are client-bound'}), so it can saturate one worker. "
                    "The machine is shared: see the load average above.")
    return {"name": "tracking", "figures": figures, "rows": rows, "notes": " ".join(notes)}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
