"""The benchmark runner works end to end in quick mode (generator benchmark only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_runner_quick_generate(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path), "generate"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True and results["machine"]["cpus"] >= 1
    [bench] = results["benchmarks"]
    assert bench["name"] == "generate" and "error" not in bench
    figures = bench["figures"]
    assert figures["contacts"] == 10_000
    for key in ("baseline_rows_per_s", "store_rows_per_s", "generator_rows_per_s", "generator_peak_rss_mb"):
        assert figures[key] > 0, key
    assert [row["path"].split(":")[0].split(" ")[0] for row in bench["rows"]] == ["baseline", "beacon.store.contacts.insert_contacts", "beacon"]
    assert all(row["contacts"] >= 10_000 for row in bench["rows"])
    markdown = (tmp_path / "results.md").read_text()
    assert "## generate" in markdown and "| path |" in markdown
    assert "| 10,000 |" in markdown  # integers get thousands separators


def test_runner_rejects_unknown_names(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--out", str(tmp_path), "nope"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown benchmark(s) ['bench_nope']" in done.stderr
    assert not (tmp_path / "results.json").exists()
