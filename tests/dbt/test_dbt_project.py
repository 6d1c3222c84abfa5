"""The dbt project's shape: layout, naming and portability rules that reviews would otherwise police."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

DBT = Path(__file__).resolve().parents[2] / "dbt"
# a model's own config() naming a view, on every target or some (e.g. materialized='view' if ...)
_VIEW_IN_SQL = re.compile(r"materialized\s*=\s*['\"]view['\"]")


def _models() -> dict[str, Path]:
    return {p.stem: p for p in (DBT / "models").rglob("*.sql")}


def _documented(folder: Path, pattern: str = "*.yml") -> Iterator[dict]:
    """Every model entry of the YAML files under ``folder``."""
    for path in folder.rglob(pattern):
        yield from (yaml.safe_load(path.read_text()) or {}).get("models", [])


def _tagged(test) -> tuple[str, dict]:
    """A test's name and its {arguments, config}: a test is a name, or {name: {arguments, config}}
    (e.g. tagged whole_history)."""
    return (test, {}) if isinstance(test, str) else next(iter(test.items()))


def _test_names(column: dict) -> set[str]:
    return {_tagged(test)[0] for test in column.get("data_tests", [])}


def test_no_python_file_in_the_dbt_project():
    assert not list(DBT.rglob("*.py")), "dbt/ must never hold a Python file (it shadows `import dbt`)"


def test_staging_models_are_named_by_source_and_only_they_call_source():
    for name, path in _models().items():
        sql = path.read_text()
        layer = path.relative_to(DBT / "models").parts[0]
        if layer == "staging":
            source = path.parent.name
            assert name.startswith(f"stg_{source}__"), name
            assert "source(" in sql and "ref(" not in sql, f"{name}: staging reads one source, no joins"
        else:
            assert "source(" not in sql, f"{name}: only staging calls source()"


def test_every_model_has_yaml_and_tests():
    documented: dict[str, dict] = {}
    for model in _documented(DBT / "models"):
        documented[model["name"]] = model
    for name in _models():
        assert name in documented, f"{name} has no YAML"
        model = documented[name]
        tests = list(model.get("data_tests", [])) + [
            test for column in model.get("columns", []) for test in column.get("data_tests", [])
        ]
        assert tests, f"{name}: needs at least its primary-key tests"


def test_staging_keys_are_unique_and_not_null_object_ids():
    for model in _documented(DBT / "models" / "staging", "_*__models.yml"):
        key = model["columns"][0]
        assert key["name"].endswith("_id"), f"{model['name']}: key {key['name']} should be <object>_id"
        assert {"unique", "not_null"} <= _test_names(key), model["name"]


def test_marts_enforce_contracts():
    for model in _documented(DBT / "models" / "marts"):
        assert model["config"]["contract"]["enforced"] is True, model["name"]


def test_boolean_columns_are_named_is_or_has():
    for model in _documented(DBT / "models"):
        for column in model.get("columns", []):
            if column.get("data_type") == "boolean":
                assert re.match(r"^(is|has)_", column["name"]), f"{model['name']}.{column['name']}"


def test_mart_keys_are_not_null_constraints_not_tests():
    """A mart's not-null columns are enforced by its contract (the warehouse rejects the insert:
    `not null` in the table's DDL on DuckDB and PostgreSQL), so a `not_null` data test on such a
    column would only re-check it (docs/warehouse.md "Which tests each build runs"). Every mart's
    key (its first column) is checked one way or the other. A view enforces no constraint (dbt
    checks its contract's names and types, and ignores its constraints with a warning), so a mart
    that is a view on some warehouse (dim_contacts on DuckDB, chosen in its SQL's config by target)
    holds none and its key needs the test."""
    sql = _models()
    for model in _documented(DBT / "models" / "marts"):
        columns = model["columns"]
        key = columns[0]
        if model.get("config", {}).get("materialized") == "view" or _VIEW_IN_SQL.search(sql[model["name"]].read_text()):
            assert not any(column.get("constraints") for column in columns), f"{model['name']}: a view enforces none"
        assert {"type": "not_null"} in key.get("constraints", []) or "not_null" in _test_names(key), model["name"]
        for column in columns:
            if {"type": "not_null"} in column.get("constraints", []):
                assert "not_null" not in _test_names(column), f"{model['name']}.{column['name']}: redundant test"


def _downstream_of_events() -> set[str]:
    """The models `dbt build --select source:beacon.events+` rebuilds, from the SQL's ref() calls."""
    sql = {name: path.read_text() for name, path in _models().items()}
    refs = {name: set(re.findall(r"ref\(\s*['\"](\w+)['\"]\s*\)", text)) for name, text in sql.items()}
    reached = {name for name, text in sql.items() if re.search(r"source\(\s*'beacon',\s*'events'\s*\)", text)}
    while grown := {name for name, parents in refs.items() if parents & reached} - reached:
        reached |= grown
    return reached


def test_the_build_after_new_events_leaves_out_the_ledger_marts():
    # The holdout lift reads the send ledger: rebuilding it after every event load rescanned all
    # 8.4M sends for nothing (docs/warehouse.md, ninth pass).
    after_events = _downstream_of_events()
    assert {"int_campaign_sends_summarized", "fct_campaign_daily", "fct_attributed_conversions"} <= after_events
    assert "fct_campaign_holdout_lift" not in after_events, (
        "fct_campaign_holdout_lift must not depend on the events (read the send ledger, stg_beacon__sends)")


def test_latest_load_row_rules_are_the_whole_history_ones():
    """A model's rows_valid_in_latest_load test (the build after new events) checks exactly the
    per-row rules (not_null, accepted_values) that its whole_history column tests check nightly,
    and a model with such whole_history tests has one: neither side can drift from the other."""
    checked = 0
    for model in _documented(DBT / "models"):
        nightly_not_null, nightly_accepted = set(), {}
        for column in model.get("columns", []):
            for test in column.get("data_tests", []):
                name, spec = _tagged(test)
                if name in ("not_null", "accepted_values") and "whole_history" in spec.get("config", {}).get("tags", []):
                    if name == "not_null":
                        nightly_not_null.add(column["name"])
                    else:
                        nightly_accepted[column["name"]] = spec["arguments"]["values"]
        rules = [spec for name, spec in map(_tagged, model.get("data_tests", [])) if name == "rows_valid_in_latest_load"]
        if not (nightly_not_null or nightly_accepted or rules):
            continue
        assert len(rules) == 1, f"{model['name']}: whole_history row rules need one rows_valid_in_latest_load test"
        assert rules[0]["config"]["tags"] == ["latest_load"], model["name"]
        arguments = rules[0]["arguments"]
        assert set(arguments.get("not_null", [])) == nightly_not_null, model["name"]
        assert arguments.get("accepted_values", {}) == nightly_accepted, model["name"]
        checked += 1
    assert checked == 4  # the event dedupe, the send summary, the billing dedupe, stg_beacon__events
