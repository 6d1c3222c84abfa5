"""The ``beacon`` command: the top of the dependency arrows, dispatching to the packages below.

Each command imports what it needs when it runs, so ``beacon --help`` stays fast.
"""

from __future__ import annotations

import json

import click


@click.group()
def main() -> None:
    """Beacon: an analytics-first, multi-tenant marketing data platform."""


@main.group()
def db() -> None:
    """The operational database (migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from beacon.schema import migrate
    from beacon.settings import get_settings

    migrate.upgrade(revision=revision)
    click.echo(f"operational DB at {revision}: {get_settings().operational_url}")


@db.command("downgrade")
@click.option("--revision", default="base", show_default=True)
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: empty)."""
    from beacon.schema import migrate

    migrate.downgrade(revision=revision)
    click.echo(f"operational DB at {revision}")


@main.command("settings")
def show_settings() -> None:
    """Print the effective configuration (secrets masked)."""
    from beacon.settings import get_settings

    settings = get_settings()
    shown = json.loads(settings.model_dump_json())
    shown.update(operational_url=settings.operational_url, warehouse=settings.warehouse)
    click.echo(json.dumps(shown, indent=2, default=str))


@main.command("dev")
@click.option("--dagster-port", default=3000, show_default=True)
@click.option("--api-port", default=8000, show_default=True)
def dev(dagster_port: int, api_port: int) -> None:
    """Start the Dagster UI, the API and (without credentials) the local fake providers together."""
    import os
    import subprocess
    import sys
    import time

    from beacon.settings import REPO_ROOT, get_settings

    bin_dir = os.path.dirname(sys.executable)
    commands = {
        "dagster": [os.path.join(bin_dir, "dagster"), "dev", "-w", "workspace.yaml", "-p", str(dagster_port)],
        "api": [os.path.join(bin_dir, "beacon"), "api", "--port", str(api_port)],
    }
    if get_settings().uses_fake_providers:
        commands["fake-providers"] = [os.path.join(bin_dir, "beacon"), "fake-providers"]
    env = {**os.environ, "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(get_settings().home.resolve() / "dagster"))}
    os.makedirs(env["DAGSTER_HOME"], exist_ok=True)
    processes = {name: subprocess.Popen(cmd, cwd=REPO_ROOT, env=env) for name, cmd in commands.items()}
    click.echo(f"Dagster UI http://127.0.0.1:{dagster_port}  API docs http://127.0.0.1:{api_port}/docs  (Ctrl-C stops all)")
    try:
        while all(p.poll() is None for p in processes.values()):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
