"""Every analyst notebook runs headless (nbclient, a real kernel) against a warehouse built by the
pipeline, on DuckDB and on PostgreSQL, and draws its charts."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# notebook -> the least number of charts it draws on the tiny demo data
EXPECTED_CHARTS = {
    "campaign_performance.ipynb": 2,
    "customer_value.ipynb": 3,
    "segment_explorer.ipynb": 2,
    "finance_usage.ipynb": 2,
}

# One worker builds the session warehouses once, instead of every xdist worker building its own.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notebooks")]


def test_every_notebook_is_under_test():
    assert {path.name for path in NOTEBOOKS.glob("*.ipynb")} == set(EXPECTED_CHARTS)


@pytest.mark.parametrize("name", sorted(EXPECTED_CHARTS))
def test_notebook_runs_and_draws(name, demo_warehouse, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "commit notebooks without outputs"
    # The kernel inherits the BEACON_* environment the fixture set, like an analyst's shell.
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    executed = tmp_path / name
    nbformat.write(notebook, executed)
    print(f"executed notebook: {executed}")

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    charts = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(charts) >= EXPECTED_CHARTS[name], f"{name}: {len(charts)} charts"
    tables = [o for o in outputs if "text/html" in o.get("data", {}) and "<table" in o["data"]["text/html"]]
    assert tables, f"{name} showed no table"
