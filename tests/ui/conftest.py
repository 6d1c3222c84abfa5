"""A real ``dagster-webserver`` on a free port, with the project's workspace.yaml, a throwaway
DAGSTER_HOME and Beacon pointed at fresh databases of one back-end pair; and headless Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOAD_TIMEOUT_S = 600  # the code location parses the dbt project on a cold start
# Runs launched by the webserver must start at once: no daemon runs here to drain a queue.
DAGSTER_YAML = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""
LOCATION_STATUS = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def chromium_executable() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    message = "chromium is not installed (Debian: apt-get install chromium; `make test` does it via `make browser`)"
    if IN_CI:
        pytest.fail(f"{message}; CI=true: the browser test must run", pytrace=False)
    pytest.skip(message)


@dataclass
class DagsterUI:
    port: int
    env: dict[str, str]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_loaded(ui: DagsterUI, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited ({process.returncode}):\n{ui.log.read_text()[-3000:]}", pytrace=False)
        try:
            reply = httpx.post(f"{ui.url}/graphql", json={"query": LOCATION_STATUS}, timeout=10).json()
            entries = reply["data"]["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            entries = []
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            errors = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
            assert not errors, f"code location failed to load: {errors}"
            return
        time.sleep(2)
    pytest.fail(f"dagster-webserver did not load the workspace in {LOAD_TIMEOUT_S}s:\n{ui.log.read_text()[-3000:]}")


def _pg_databases(request, names: list[str]) -> Iterator[list[str]]:
    server = request.getfixturevalue("pg_server")
    base = server.rpartition("/")[0]
    created = [f"{name}_{uuid.uuid4().hex[:12]}" for name in names]
    with psycopg.connect(server, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield [f"{base}/{name}" for name in created]
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for name in created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module", params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def dagster_ui(request, tmp_path_factory) -> Iterator[DagsterUI]:
    from beacon.schema import migrate

    root = tmp_path_factory.mktemp(f"dagster_ui_{request.param}")
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    if request.param == "embedded":
        databases = iter([[f"sqlite:///{root / 'beacon.db'}", f"duckdb:///{root / 'warehouse.duckdb'}"]])
    else:
        databases = _pg_databases(request, ["beacon_ui_op", "beacon_ui_wh"])
    op_db, warehouse = next(databases)
    migrate.upgrade(op_db)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "BEACON_HOME": str(root / "home"),
        "BEACON_DATABASE_URL": op_db,
        "BEACON_WAREHOUSE_URL": warehouse,
    }
    ui = DagsterUI(port=_free_port(), env=env, log=root / "webserver.log")
    webserver = Path(sys.executable).with_name("dagster-webserver")
    with open(ui.log, "w") as log:
        # Its own session, so teardown ends the webserver and the code server it spawned, nothing else.
        process = subprocess.Popen(
            [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(ui.port)],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_until_loaded(ui, process)
        yield ui
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        next(databases, None)  # drops the PostgreSQL databases


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
