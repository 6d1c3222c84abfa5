"""Run the benchmarks and write ``bench/results/results.json`` and ``results.md``.

Every ``bench/bench_*.py`` module exposes ``run(quick: bool) -> dict`` returning
``{"name", "figures": {key: number}, "rows": [{column: value}, ...], "notes"}``. A failing
benchmark is recorded with its error and the others still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # psutil is a dependency; stay useful without it
        pass
    if hasattr(os, "getloadavg"):
        info["load_average_1m"] = round(os.getloadavg()[0], 2)  # other work on the box skews figures
    return info


def markdown(results: list[dict], meta: dict) -> str:
    lines = [f"# Benchmark results ({meta['timestamp']}{', quick' if meta['quick'] else ''})", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in meta["machine"].items()), ""]
    for result in results:
        lines += [f"## {result['name']}", ""]
        if result.get("error"):
            lines += ["```", result["error"].strip(), "```", ""]
            continue
        rows = result.get("rows") or []
        if rows:
            columns = list(dict.fromkeys(k for row in rows for k in row))
            lines.append("| " + " | ".join(columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for row in rows:
                lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
            lines.append("")
        if result.get("notes"):
            lines += [result["notes"], ""]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds), for smoke tests")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for results.json and results.md")
    parser.add_argument("names", nargs="*", help="benchmarks to run (e.g. generate or bench_generate); default all")
    args = parser.parse_args(argv)
    available = discover()
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in args.names] or available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available}")
    meta = {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick, "machine": machine()}
    results, failed = [], False
    for name in wanted:
        started = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            result = importlib.import_module(f"bench.{name}").run(quick=args.quick)
        except Exception:  # record and go on: one broken benchmark must not hide the others
            failed = True
            result = {"name": name, "figures": {}, "rows": [], "notes": "", "error": traceback.format_exc()}
        result["seconds"] = round(time.perf_counter() - started, 2)
        results.append(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({**meta, "benchmarks": results}, indent=2, default=str) + "\n")
    (args.out / "results.md").write_text(markdown(results, meta) + "\n")
    print(f"[bench] wrote {args.out / 'results.json'} and results.md", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
