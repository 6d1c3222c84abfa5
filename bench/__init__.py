"""Benchmarks: ``python -m bench [--quick] [names...]``; each ``bench_*.py`` has ``run(quick) -> dict``."""
