"""The loaded Dagster definitions: snapshot of keys, groups and jobs; every asset fully described."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from orchestration.definitions import build_definitions
from orchestration.warehouse import dbt_model_key

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def _describe() -> dict:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    assets = {
        key.to_user_string(): graph.get(key).group_name
        for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    }
    jobs = sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__"))
    checks = sorted(f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys)
    return {"assets": assets, "checks": checks, "jobs": jobs}


def test_definitions_match_snapshot():
    described = _describe()
    if os.environ.get("BEACON_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")
    assert described == json.loads(SNAPSHOT.read_text()), (
        "Dagster definitions changed: review, then rerun with BEACON_UPDATE_SNAPSHOTS=1"
    )


def test_every_asset_has_group_owner_description_and_kinds():
    graph = build_definitions().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        spec = graph.get(key)
        if not spec.is_materializable:
            continue  # an upstream another domain will define (e.g. raw/orders from file ingestion)
        name = key.to_user_string()
        assert spec.group_name and spec.group_name != "default", name
        assert spec.owners, name
        assert spec.description, name
        assert spec.kinds, name


def test_dbt_sources_connect_to_the_replication_assets():
    graph = build_definitions().resolve_asset_graph()
    staged = graph.get(dbt_model_key("stg_beacon__contacts"))
    assert AssetKey(["raw", "contacts"]) in staged.parent_keys
    assert graph.get(AssetKey(["raw", "contacts"])).is_materializable
    # dim_contacts joins the contact profile to the engagement (docs/marts.md)
    profiled = graph.get(dbt_model_key("int_contacts_profiled"))
    assert staged.key in profiled.parent_keys
    assert profiled.key in graph.get(dbt_model_key("dim_contacts")).parent_keys


def test_dagster_validates_the_workspace_from_a_fresh_clone(tmp_path):
    """No prepared manifest: loading the definitions must parse the dbt project itself."""
    project = tmp_path / "dbt"
    shutil.copytree(ROOT / "dbt", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    env = {
        **os.environ,
        "BEACON_DBT_PROJECT_DIR": str(project),
        "BEACON_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": "",
    }
    env.pop("DAGSTER_HOME")
    env.pop("BEACON_WAREHOUSE_URL", None)
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert (project / "target" / "duckdb" / "manifest.json").exists()  # the embedded default target
