"""The dbt project as Dagster sees it: location, manifest preparation and the one translator.

The manifest is prepared when the definitions load if it is missing, stale (a dbt file changed
after it was written) or built for another adapter, so a fresh clone validates and ``dagster dev``
always shows the current models. dagster-dbt's concurrent-update guard keeps parallel loaders
(pytest workers, code servers) from writing it at once.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator, Mapping, Sequence
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DagsterDbtTranslatorSettings, DbtProject
from dagster_dbt.dbt_project import using_dagster_dev

from beacon.settings import Settings, get_settings
from orchestration.dbt_env import dbt_target

DBT_SOURCE_FILES = ("*.yml", "*.sql")
DEFAULT_OWNER = "team:analytics"


@contextmanager
def dbt_environment(settings: Settings | None = None) -> Iterator[str]:
    """Point ``dbt/profiles.yml`` at the configured warehouse for the duration of a dbt call.

    dagster-dbt hands the process environment to the dbt subprocess; it has no per-call env
    argument, so the variables are set here and restored afterwards.
    """
    target = dbt_target(settings)
    # Each adapter keeps its own target folder; dagster-dbt seeds every run's folder from its
    # partial_parse.msgpack, so runs skip a full parse.
    env = {**target.env, "DBT_TARGET_PATH": str(Path("target") / target.name)}
    # A Python asset between dbt models (orchestration/clv.py) splits a run's dbt build in two.
    # dbt's default "eager" indirect selection would run a relationships test in the first part
    # as soon as one parent is built (dim_contacts -> stg_beacon__organizations) before its model
    # exists; "buildable" runs a test once its model and the model's ancestors are selected.
    env["DBT_INDIRECT_SELECTION"] = os.environ.get("DBT_INDIRECT_SELECTION") or "buildable"
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield target.name
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _manifest_is_current(project: DbtProject, adapter: str) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return False
    written = manifest.stat().st_mtime
    for pattern in DBT_SOURCE_FILES:
        for path in project.project_dir.rglob(pattern):
            if "target" not in path.relative_to(project.project_dir).parts and path.stat().st_mtime > written:
                return False
    try:
        metadata = json.loads(manifest.read_text())["metadata"]
    except (ValueError, KeyError):
        return False
    return metadata.get("adapter_type") == adapter


def dbt_executable() -> str:
    """The ``dbt`` installed beside this Python (``.venv/bin/dbt``), even when it is not on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def _prepare(project: DbtProject, adapter: str, *, force: bool) -> None:
    # An exclusive lock: parallel loaders (pytest workers, code servers) parse once, in turn.
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or not _manifest_is_current(project, adapter):
            DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
                ["parse", "--quiet"], target_path=project.target_path
            ).wait()


def beacon_dbt_project() -> DbtProject:
    """The project, with a manifest prepared (``dbt parse``) if missing, stale or under dagster dev."""
    project_dir = Path(get_settings().dbt_project_dir).resolve()
    with dbt_environment() as adapter:
        # One manifest per adapter (target/duckdb, target/postgres): processes loading for
        # different warehouses never overwrite each other's manifest.
        project = DbtProject(project_dir=project_dir, profiles_dir=project_dir, target_path=Path("target") / adapter)
        if using_dagster_dev() or not _manifest_is_current(project, adapter):
            _prepare(project, adapter, force=using_dagster_dev())
    return project


class BeaconDbtTranslator(DagsterDbtTranslator):
    """Asset keys, groups and owners from dbt metadata alone (no model names in Python).

    Sources become ``[<schema>, <table>]`` (e.g. ``raw/contacts``), the keys the replication
    assets materialize, so lineage runs from the operational DB to the marts. Models become
    ``[<layer>, <model>]`` and are grouped by layer (the first folder under ``models/``).
    """

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["identifier"]])
        return AssetKey([_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return _layer(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        meta = dbt_resource_props.get("config", {}).get("meta") or dbt_resource_props.get("meta") or {}
        return [meta.get("owner", DEFAULT_OWNER)]


def _layer(dbt_resource_props: Mapping[str, Any]) -> str:
    # fqn: [project, layer, (domain...), name]; a model at the models/ root is "models".
    if dbt_resource_props.get("resource_type") == "seed":
        return "reference"  # seeds land in the `reference` schema (dbt_project.yml)
    fqn = dbt_resource_props["fqn"]
    return fqn[1] if len(fqn) > 2 else "models"
