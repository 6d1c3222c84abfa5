"""Shared by the dbt mart tests: run `dbt build` of a selection against one warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from beacon.settings import Settings
from orchestration.dbt_env import dbt_target

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt"


def run_dbt(verb: str, warehouse_url: str, work_dir: Path, select: tuple[str, ...], dbt_vars: dict | None = None,
            *extra: str) -> subprocess.CompletedProcess:
    """`dbt <verb> --select <select>` against one warehouse (tests only when all their parents are selected)."""
    target = dbt_target(Settings(home=work_dir / "home", warehouse_url=warehouse_url))
    env = {**os.environ, **target.env, "DBT_TARGET_PATH": str(work_dir / "dbt_target"),
           "DBT_LOG_PATH": str(work_dir / "dbt_logs")}
    command = [
        str(Path(sys.executable).with_name("dbt")), verb,
        "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
        "--select", *select, "--indirect-selection", "cautious",
        "--vars", json.dumps(dbt_vars or {}), *extra,
    ]  # fmt: skip
    return subprocess.run(command, cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=600)


def run_dbt_build(warehouse_url: str, work_dir: Path, select: tuple[str, ...], dbt_vars: dict | None = None,
                  *extra: str) -> subprocess.CompletedProcess:
    """`dbt build --select <select>`; asserts a clean run."""
    run = run_dbt("build", warehouse_url, work_dir, select, dbt_vars, *extra)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "ERROR=0" in run.stdout and "WARN=0" in run.stdout, run.stdout[-3000:]
    return run


@pytest.fixture(scope="session")
def dbt_build() -> Callable[..., subprocess.CompletedProcess]:
    return run_dbt_build
