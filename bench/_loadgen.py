"""A load generator for one HTTP server on loopback, run as its own process (``python -m bench._loadgen``).

Two modes over a file of request paths (one per line, cycled):

- ``max``: ``--concurrency`` keep-alive connections each sending the next request as soon as the
  previous answer is read (closed loop) for ``--duration`` seconds: the server's throughput.
- ``rate``: requests start on a fixed schedule of ``--rate`` per second (open loop) and go out on
  the first idle connection; latency is measured from the *scheduled* start, so a server falling
  behind shows in the tail instead of silently slowing the client (no coordinated omission).

Hand-written on asyncio + uvloop + httptools (the parser uvicorn itself uses) rather than an HTTP
client library because, measured on this 2-core box, aiohttp topped out near 3,000 req/s with the
bare uvicorn worker only ~30 % busy: the client, not the server, was the bottleneck. This keeps
about 20 µs of client work per request, enough to saturate one worker (the bench checks it, reading
the server's CPU use). GET only, HTTP/1.1 keep-alive, responses read to the end and discarded.
Prints one JSON object: status counts, the paths answered 2xx/3xx, latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections import Counter, deque
from pathlib import Path
from urllib.parse import urlsplit

import httptools


class Connection(asyncio.Protocol):
    """One keep-alive connection, one request in flight at a time."""

    def __init__(self, host: bytes) -> None:
        self.host = host
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())

    def connection_lost(self, exc) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed before the response"))

    async def get(self, path: str) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(b"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: beacon-bench/1.0\r\n\r\n" % (path.encode(), self.host))
        return await self.waiter


def percentile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Recorder:
    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.ok_paths: list[str] = []

    def add(self, path: str, status: int | str, seconds: float) -> None:
        self.statuses[str(status)] += 1
        if isinstance(status, int) and 200 <= status < 400:
            self.ok_paths.append(path)
            self.latencies.append(seconds)


async def _connect(base: str) -> Connection:
    parts = urlsplit(base)
    host = (parts.netloc or "localhost").encode()
    _, protocol = await asyncio.get_running_loop().create_connection(lambda: Connection(host), parts.hostname, parts.port)
    return protocol


async def _one(connection: Connection, path: str, recorder: Recorder, started: float) -> bool:
    try:
        status: int | str = await connection.get(path)
    except ConnectionError as exc:
        recorder.add(path, type(exc).__name__, time.perf_counter() - started)
        return False
    recorder.add(path, status, time.perf_counter() - started)
    return True


async def closed_loop(base: str, paths: list[str], concurrency: int, duration: float, recorder: Recorder) -> float:
    cycle = itertools.cycle(paths)
    connections = [await _connect(base) for _ in range(concurrency)]
    start = time.perf_counter()
    deadline = start + duration

    async def worker(connection: Connection) -> None:
        while time.perf_counter() < deadline:
            if not await _one(connection, next(cycle), recorder, time.perf_counter()):
                connection = await _connect(base)

    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - start
    for connection in connections:
        connection.transport.close()
    return elapsed


async def open_loop(base: str, paths: list[str], rate: float, duration: float, connections: int,
                    recorder: Recorder) -> float:
    cycle = itertools.cycle(paths)
    idle = deque([await _connect(base) for _ in range(connections)])
    backlog: deque[tuple[str, float]] = deque()  # scheduled requests waiting for an idle connection
    tasks: set[asyncio.Task] = set()

    async def serve(connection: Connection, path: str, scheduled: float) -> None:
        while True:
            if not await _one(connection, path, recorder, scheduled):
                connection = await _connect(base)
            if not backlog:
                idle.append(connection)
                return
            path, scheduled = backlog.popleft()

    start = time.perf_counter()
    for i in range(int(rate * duration)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if idle:
            task = asyncio.create_task(serve(idle.popleft(), next(cycle), scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            backlog.append((next(cycle), scheduled))
    while tasks:
        await asyncio.gather(*list(tasks))
    elapsed = time.perf_counter() - start
    for connection in idle:
        connection.transport.close()
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._loadgen")
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--paths", type=Path, required=True, help="file of request paths, one per line")
    parser.add_argument("--mode", choices=["max", "rate"], required=True)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32, help="connections (both modes)")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (rate mode)")
    args = parser.parse_args(argv)
    paths = [line for line in args.paths.read_text().splitlines() if line]
    if not paths:
        parser.error(f"{args.paths} holds no paths")
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the stock loop works, only slower
        pass
    recorder = Recorder()
    if args.mode == "max":
        elapsed = asyncio.run(closed_loop(args.base, paths, args.concurrency, args.duration, recorder))
    else:
        elapsed = asyncio.run(open_loop(args.base, paths, args.rate, args.duration, args.concurrency, recorder))
    ok = len(recorder.ok_paths)
    json.dump({"elapsed_s": elapsed, "statuses": dict(recorder.statuses), "ok": ok, "ok_per_s": ok / elapsed,
               "client_cpu_s": time.process_time(),
               "p50_ms": (percentile(recorder.latencies, 0.50) or 0) * 1000,
               "p99_ms": (percentile(recorder.latencies, 0.99) or 0) * 1000,
               "ok_paths": recorder.ok_paths}, sys.stdout)


if __name__ == "__main__":
    main()
