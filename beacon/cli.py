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


if __name__ == "__main__":
    main()
