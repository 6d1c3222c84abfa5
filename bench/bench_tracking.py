"""Open pixel and click redirect: ``beacon api`` on one uvicorn worker against a bare ASGI ceiling.

Each target runs as its own server process; the load comes from ``bench._loadgen`` in another
process on loopback. All targets are up at once, and each endpoint is measured in rounds that take
them in turn: the maximum throughput (closed loop, 2xx/3xx per second; the median of the rounds, and
the median of each round's ratio to the bare server), then p50/p99 latency at half of that rate (open
loop, measured from the scheduled start; the median of the rounds, each round's p99 shown). The bare
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
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import psutil

from bench._tracking_setup import SeededSend, Server, bare_asgi_command, beacon_api_command, free_port, seed_sends

REPO = Path(__file__).resolve().parents[1]
SIGNING_KEY = "bench-signing-key"
PG_SERVER = os.environ.get("BEACON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
P99_GOAL_MS, RATIO_GOAL = 25.0, 0.5
# Keep-alive connections of the closed-loop runs; each round takes a target's best. In a closed loop throughput
# is at most connections / latency (Little's law), and a server that commits before answering waits for the
# disk: a durable PostgreSQL commit took 0.27 ms here on a quiet box but ~4 ms while another process wrote
# heavily, which caps 32 connections near 8,000 hits/s whatever the server's CPU. The bare server (no commit)
# is at its best with fewer. A tracking pixel is fetched by many independent mail clients at once.
CONNECTIONS = (32, 128)
BUSY_ENOUGH = 0.9  # of one core: below it the bare server was held back by the machine, and no ratio is a ceiling's
IO_PRESSURE = Path("/proc/pressure/io")  # Linux PSI: time in which every runnable task waited for the disk


def _io_stalled_s() -> float | None:
    """Seconds, since boot, in which all non-idle tasks were stalled on I/O (PSI "full"); None without PSI."""
    try:
        full = IO_PRESSURE.read_text().split("full", 1)[1]
    except (OSError, IndexError):
        return None
    return int(full.split("total=", 1)[1].split()[0]) / 1e6


def _load(server: Server, paths_file: Path, mode: str, duration: float, *, concurrency: int = 32,
          rate: float = 0.0) -> dict:
    """Run the load generator once; adds the server's and the client's CPU µs per answered request, and the I/O stall.

    The disk is synced first. A PostgreSQL commit waits for its WAL's fdatasync, which queues behind whatever the
    kernel is writing back: the SQLite target's pages (its runs interleave with PostgreSQL's), the seeding, another
    process's. Measured here at half load on PostgreSQL click, 10 rounds each: batches took 40-65 ms and p99 rose to
    52-459 ms in the rounds right after another process wrote ~2 GB; with a sync before each run, 3.6-5.7 ms in all.
    ``io_full_ms`` (PSI) is what was left: the time in the run in which every busy task waited for the disk.
    """
    os.sync()
    io_before = _io_stalled_s()
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
    io_after = _io_stalled_s()
    result["io_full_ms"] = None if io_before is None else (io_after - io_before) * 1e3
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


def _peak(server: Server, paths_file: Path, duration: float, check=None) -> dict:
    """The best of closed-loop runs at each of ``CONNECTIONS``; ``check(result)`` verifies storage after each."""
    best = None
    for connections in CONNECTIONS:
        result = _load(server, paths_file, "max", duration, concurrency=connections)
        if check:
            check(result)
        result["connections"] = connections
        if best is None or result["ok_per_s"] > best["ok_per_s"]:
            best = result
    return best


def _half_load(server: Server, paths_file: Path, duration: float, max_rps: float, check=None) -> dict:
    """Latency at half of ``max_rps`` (open loop, the most connections of ``CONNECTIONS``)."""
    steady = _load(server, paths_file, "rate", duration, rate=max(1.0, max_rps / 2), concurrency=CONNECTIONS[-1])
    if check:
        check(steady)
    return steady


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


class _Target:
    """One server under test, with the storage check of each of its runs (none for the bare ceiling)."""

    def __init__(self, label: str, server: Server, files: dict[str, Path], db_url: str | None = None,
                 sends: list[SeededSend] = ()) -> None:
        self.label, self.server, self.files, self.db_url = label, server, files, db_url
        self.by_path = {p: s.send_id for s in sends for p in (s.open_path, s.click_path)}
        self.last_id = _stored(db_url, "opened", 0)[0] if db_url else 0

    def check(self, endpoint: str):
        if self.db_url is None:
            return None
        event_type = "opened" if endpoint == "open pixel" else "clicked"

        def check(result: dict) -> None:
            top, stored = _stored(self.db_url, event_type, self.last_id)
            answered = Counter(self.by_path[p] for p in result["ok_paths"])
            if stored != answered:
                missing = sum((answered - stored).values())
                raise AssertionError(f"{endpoint} on {self.label}: {sum(answered.values())} 2xx/3xx answers but "
                                     f"{sum(stored.values())} stored events ({missing} answered without a row)")
            self.last_id = top

        return check


def _rows(targets: list[_Target], duration: float, rounds: int) -> list[dict]:
    """Per endpoint: ``rounds`` rounds of a closed-loop run on each target in turn, then each target at half load.

    Interleaved, not one target after another: this machine's speed drifts by 10-20% over a minute (the bare
    server's CPU per request moved between 71 and 88 µs in four rounds), so each round's ratio compares runs
    seconds apart, and the median of the rounds is reported. ``targets[0]`` is the bare ceiling.
    """
    rows = []
    for endpoint in ("open pixel", "click redirect"):
        for target in targets:  # a short warm-up: imports, prepared statements, page cache
            _peak(target.server, target.files[endpoint], 1.0, target.check(endpoint))
        peaks: dict[str, list[dict]] = {t.label: [] for t in targets}
        for _ in range(rounds):
            for target in targets:
                peaks[target.label].append(_peak(target.server, target.files[endpoint], duration, target.check(endpoint)))
        bare = [p["ok_per_s"] for p in peaks[targets[0].label]]
        max_rps = {t.label: statistics.median(p["ok_per_s"] for p in peaks[t.label]) for t in targets}
        # Half load in rounds too: one pause of the machine (another process starting, the host) in a single 3 s
        # window sets its p99 (seen: 33-83 ms in one window, 3-18 ms in the windows around it).
        steadies: dict[str, list[dict]] = {t.label: [] for t in targets}
        for _ in range(rounds):
            for target in targets:
                steadies[target.label].append(_half_load(target.server, target.files[endpoint], duration,
                                                         max_rps[target.label], target.check(endpoint)))
        for target in targets:
            runs, steady = peaks[target.label], steadies[target.label]
            rows.append({
                "endpoint": endpoint, "server": target.label, "max_rps": max_rps[target.label],
                "rounds_rps": " / ".join(f"{p['ok_per_s']:,.0f} ({p['connections']})" for p in runs),
                "errors": sum(v for p in runs + steady for k, v in p["statuses"].items() if not k.startswith(("2", "3"))),
                "half_load_rps": max(1.0, max_rps[target.label] / 2),
                "p50_ms": statistics.median(h["p50_ms"] for h in steady),
                "p99_ms": statistics.median(h["p99_ms"] for h in steady),
                "p99_rounds_ms": " / ".join(f"{h['p99_ms']:.1f}" for h in steady),
                # how long, in each of those runs, every busy task waited for the disk (PSI; "n/a" without it)
                "io_full_rounds_ms": " / ".join("n/a" if h["io_full_ms"] is None else f"{h['io_full_ms']:.0f}"
                                                for h in steady),
                "server_cpu_us_per_req": statistics.median(p["server_cpu_us_per_req"] for p in runs),
                "client_cpu_us_per_req": statistics.median(p["client_cpu_us_per_req"] for p in runs),
                # the share of one core the server used at its max: near 1.0 it was CPU-bound; the bare server well
                # below it means the machine, not the server, set the pace (and the ratios flatter the real ones)
                "server_core_busy": statistics.median(p["ok_per_s"] * p["server_cpu_us_per_req"] / 1e6 for p in runs),
                "answered": sum(p["ok"] for p in runs + steady),
                "vs_bare": statistics.median(p["ok_per_s"] / b for p, b in zip(runs, bare, strict=True)),
            })
            if target.db_url:
                rows[-1]["stored = answered"] = "yes"  # check() raised otherwise
    return rows


def run(quick: bool) -> dict:
    duration = 2.0 if quick else 3.0
    # 5 rounds, not 3: on 2026-11-24 the machine's speed swung within a round (a round's bare-to-Beacon ratio 0.35
    # beside 0.49 and 0.62 in the others, one round's bare p99 at half load 167 ms beside 2-5 ms), and a median
    # of 3 moves with one such round.
    rounds = 1 if quick else 5
    count = 500 if quick else 5_000
    notes = []
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as servers:
        scratch_dir = Path(scratch)

        def seeded(name: str, db_url: str) -> tuple[list[SeededSend], dict[str, Path]]:
            sends = seed_sends(db_url, count, [SIGNING_KEY])
            files = {"open pixel": scratch_dir / f"{name}-opens.txt", "click redirect": scratch_dir / f"{name}-clicks.txt"}
            files["open pixel"].write_text("\n".join(s.open_path for s in sends) + "\n")
            files["click redirect"].write_text("\n".join(s.click_path for s in sends) + "\n")
            return sends, files

        def api(backend: str, db_url: str, sends: list[SeededSend], files: dict[str, Path]) -> _Target:
            env = {"BEACON_DATABASE_URL": db_url, "BEACON_HOME": str(scratch_dir / f"home-{backend}"),
                   "BEACON_SIGNING_KEYS": SIGNING_KEY}
            server = servers.enter_context(Server(beacon_api_command(port := free_port()), port, env, cwd=REPO))
            return _Target(f"beacon api ({backend})", server, files, db_url, sends)

        sqlite_url = f"sqlite:///{scratch_dir / 'beacon.db'}"
        sends, files = seeded("sqlite", sqlite_url)
        bare = servers.enter_context(Server(bare_asgi_command(port := free_port()), port, cwd=REPO))
        targets = [_Target("bare ASGI (ceiling)", bare, files), api("SQLite", sqlite_url, sends, files)]
        pg = _pg_url()
        if pg:
            name, pg_url = pg
            servers.callback(_drop_pg, name)  # after the servers have stopped (callbacks run last in, first out)
            targets.append(api("PostgreSQL", pg_url, *seeded("pg", pg_url)))
        else:
            notes.append(f"PostgreSQL not reachable at {PG_SERVER}: SQLite figures only.")
        rows = _rows(targets, duration, rounds)
    figures = {}
    bare_busy = {r["endpoint"]: r["server_core_busy"] for r in rows if r["server"].startswith("bare")}
    for row in rows:
        row["vs_bare"] = round(row["vs_bare"], 3)
        if not row["server"].startswith("bare"):
            met = row["vs_bare"] >= RATIO_GOAL and row["p99_ms"] < P99_GOAL_MS
            row[f"goal_met (>= {RATIO_GOAL} of bare, p99 < {P99_GOAL_MS:.0f} ms)"] = (
                "not measured: bare server not CPU-bound" if bare_busy[row["endpoint"]] < BUSY_ENOUGH
                else "yes" if met else "no")
        key = f"{row['endpoint'].split()[0]}_{row['server'].split()[0]}" + (
            "" if row["server"].startswith("bare") else "_" + row["server"].split("(")[1].rstrip(")").lower())
        figures.update({f"{key}_max_rps": round(row["max_rps"], 1), f"{key}_p99_ms": round(row["p99_ms"], 2),
                        f"{key}_vs_bare": row["vs_bare"]})
        for column in ("max_rps", "half_load_rps", "p50_ms", "p99_ms", "server_cpu_us_per_req", "client_cpu_us_per_req",
                       "server_core_busy"):
            row[column] = round(row[column], 1 if column.endswith("rps") else 2)
    client_ok = all(r["client_cpu_us_per_req"] < r["server_cpu_us_per_req"] for r in rows if r["server"].startswith("bare"))
    figures["client_can_saturate_bare"] = client_ok
    figures["bare_core_busy"] = min(r["server_core_busy"] for r in rows if r["server"].startswith("bare"))
    bare_bound = ("CPU-bound" if figures["bare_core_busy"] >= BUSY_ENOUGH
                  else "NOT CPU-bound: the machine set the pace, so the ratios flatter Beacon; rerun on a quiet one")
    notes.insert(0, f"{count:,} sends seeded per back end; each run {duration:.0f} s; one uvicorn worker per server, "
                    "load generator (bench._loadgen: asyncio + uvloop + httptools) in its own process on loopback. "
                    f"max_rps: closed loop, the best of {' and '.join(map(str, CONNECTIONS))} keep-alive connections "
                    f"(CONNECTIONS says why), the median of {rounds} rounds that take the targets in turn (rounds_rps: "
                    "each round's best, with its connections); vs_bare: the median of each round's ratio to the bare server's run "
                    f"of that round. p50/p99: open loop at half of that target's max ({CONNECTIONS[-1]} connections), "
                    f"from the scheduled start, the median of {rounds} rounds that take the targets in turn (p99_rounds_ms: "
                    "each round's). Every run starts on a synced disk (_load says why); io_full_rounds_ms: in each half-load run, the time in which every busy task waited for the disk (Linux PSI). Every real-endpoint phase is checked: stored events equal the 2xx/3xx "
                    "answers, send_id by send_id. The client costs less CPU per request than the bare server "
                    f"({'yes' if client_ok else 'NO: figures are client-bound'}), so it can saturate one worker; server_core_busy "
                    "(max req/s x CPU per request) says whether it did: the bare server at "
                    f"{figures['bare_core_busy']:.2f} of its core ({bare_bound}). "
                    "The machine is shared: see the load average above.")
    return {"name": "tracking", "figures": figures, "rows": rows, "notes": " ".join(notes)}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
