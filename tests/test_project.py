"""Promises the README and the layout make to a newcomer, kept true by tests."""

import re
import tomllib
from pathlib import Path

from beacon.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _quick_start_block() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "Quick start must hold exactly one code block"
    return [line for line in blocks[0].splitlines() if line.strip()]


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    commands = _quick_start_block()
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines(), ".ci/run must call the README's test command"


def test_every_setting_is_documented():
    for name in Settings.model_fields:
        assert f"BEACON_{name.upper()}" in README, f"BEACON_{name.upper()} missing from the configuration reference"


def test_layout_of_the_design():
    for part in ["orchestration", "dbt", "ingestion", "activation", "api", "notebooks", "tests", "bench", "docs"]:
        assert (ROOT / part).is_dir(), part
    for file in ["workspace.yaml", "pyproject.toml", "README.md", "Makefile", ".ci/run"]:
        assert (ROOT / file).is_file(), file
    assert not list((ROOT / "dbt").rglob("*.py")), "dbt/ must never hold a Python file (it shadows `import dbt`)"


def test_dbt_core_pinned_below_1_12():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "dbt-core>=1.11,<1.12" in deps
