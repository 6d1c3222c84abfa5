"""The operator's view for real: the Dagster UI in headless Chromium shows the asset groups and the
blocking checks, and a run launched through the webserver's GraphQL API completes and fills the
warehouse of the back end the webserver is configured for."""

from __future__ import annotations

import time

import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient
from sqlalchemy import inspect

from beacon.warehouse import warehouse_engine

from .conftest import ARTIFACTS

# Both tests share one webserver per back end: keep them on one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_ui")]

GROUPS = ("raw", "staging", "intermediate", "marts")
RUN_TIMEOUT_S = 600
TERMINAL = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def _page(browser, ui):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{ui.url}/asset-groups")
    # First visit: the UI asks about its newsletter; dismiss it so the graph is visible.
    skip = page.get_by_role("button", name="Skip")
    skip.wait_for(timeout=60_000)
    skip.click()
    return page


def test_asset_graph_shows_the_groups_and_the_blocking_checks(dagster_ui, browser):
    backend = "postgres" if dagster_ui.env["BEACON_WAREHOUSE_URL"].startswith("postgresql") else "embedded"
    page = _page(browser, dagster_ui)
    for group in GROUPS:
        page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
    page.wait_for_timeout(2_000)  # let the graph layout settle before the picture
    ARTIFACTS.mkdir(exist_ok=True)
    graph = ARTIFACTS / f"asset_graph_{backend}.png"
    page.screenshot(path=str(graph))
    print(f"asset graph screenshot: {graph}")
    shown = page.inner_text("body")
    assert all(group in shown.split() for group in GROUPS), shown[:2000]

    page.goto(f"{dagster_ui.url}/assets/raw/contacts?view=checks")
    page.get_by_text("great_expectations_contacts").first.wait_for(timeout=60_000)
    page.get_by_text("This is a blocking asset check.").first.wait_for(timeout=60_000)
    checks = ARTIFACTS / f"raw_contacts_checks_{backend}.png"
    page.screenshot(path=str(checks))
    print(f"checks screenshot: {checks}")
    page.close()


def test_run_launched_through_graphql_completes(dagster_ui):
    client = DagsterGraphQLClient("127.0.0.1", port_number=dagster_ui.port)
    # The job's own executor: in-process on DuckDB (policies.warehouse_executor), which is what
    # this proves; on PostgreSQL, one process too, since a process per step only adds minutes here.
    on_postgres = dagster_ui.env["BEACON_WAREHOUSE_URL"].startswith("postgresql")
    run_config = {"execution": {"config": {"in_process": {}}}} if on_postgres else None
    run_id = client.submit_job_execution("ingest_raw_hourly", run_config=run_config)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    status = client.get_run_status(run_id)
    while status not in TERMINAL and time.monotonic() < deadline:
        time.sleep(2)
        status = client.get_run_status(run_id)
    assert status is DagsterRunStatus.SUCCESS, f"run {run_id} ended {status}; see {dagster_ui.log}"

    # The run wrote the warehouse the webserver was pointed at, not the developer's.
    engine = warehouse_engine(dagster_ui.env["BEACON_WAREHOUSE_URL"])
    try:
        assert {"contacts", "organizations"} <= set(inspect(engine).get_table_names(schema="raw"))
    finally:
        engine.dispose()
