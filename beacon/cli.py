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


@main.command("generate")
@click.option("--seed", default=42, show_default=True, type=int, help="Same seed, same data (byte for byte).")
@click.option("--scale", default="tiny", show_default=True, type=click.Choice(["tiny", "small", "demo", "bench"]))
@click.option("--contacts", type=click.IntRange(min=0), help="Override the preset's contacts target.")
@click.option("--orders", type=click.IntRange(min=0), help="Override the preset's orders target.")
@click.option("--events", type=click.IntRange(min=0), help="Override the preset's events target.")
@click.option("--as-of", "as_of", default="2026-11-01T00:00:00Z", show_default=True,
              help="Every timestamp is relative to this instant (ISO 8601).")
@click.option("--out", type=click.Path(file_okay=False), help="Where the inbox goes (default: settings home).")
def generate_data(seed: int, scale: str, contacts: int | None, orders: int | None, events: int | None,
                  as_of: str, out: str | None) -> None:
    """Generate realistic tenants, contacts, orders, campaigns and provider files into the operational DB and inbox."""
    from datetime import UTC, datetime
    from pathlib import Path

    from beacon.generate import GenerateConfig, generate
    from beacon.settings import get_settings

    try:
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 instant: {as_of!r}", param_hint="--as-of") from exc
    if moment.tzinfo is None:
        raise click.BadParameter("give a UTC offset, e.g. 2026-11-01T00:00:00Z", param_hint="--as-of")
    settings = get_settings()
    config = GenerateConfig(
        database_url=settings.operational_url, out=Path(out) if out else settings.home, seed=seed, scale=scale,
        as_of=moment.astimezone(UTC), contacts=contacts, orders=orders, events=events,
    )
    click.echo(json.dumps(generate(config), indent=2))


@main.command("fake-providers")
@click.option("--host", default=None, help="Default: the host of BEACON_FAKE_PROVIDERS_URL.")
@click.option("--port", type=int, default=None, help="Default: the port of BEACON_FAKE_PROVIDERS_URL (8025).")
@click.option("--sendgrid-webhook", default=None, help="Event Webhook target. Default: <public_base_url>/webhooks/sendgrid.")
@click.option("--twilio-inbound", default=None, help="Inbound SMS target. Default: <public_base_url>/webhooks/twilio/inbound.")
@click.option("--stripe-webhook", default=None, help="Stripe webhook target. Default: <public_base_url>/webhooks/stripe.")
def fake_providers(
    host: str | None, port: int | None, sendgrid_webhook: str | None, twilio_inbound: str | None, stripe_webhook: str | None
) -> None:
    """Serve the local fake SendGrid, Twilio and Stripe (used when their credentials are unset)."""
    from urllib.parse import urlsplit

    from beacon.providers.fake.server import serve_forever
    from beacon.providers.fake.state import FakeConfig
    from beacon.settings import get_settings

    settings = get_settings()
    configured = urlsplit(settings.fake_providers_url)
    api = settings.public_base_url.rstrip("/")
    config = FakeConfig(
        sendgrid_event_webhook_url=sendgrid_webhook or f"{api}/webhooks/sendgrid",
        twilio_inbound_url=twilio_inbound or f"{api}/webhooks/twilio/inbound",
        stripe_webhook_url=stripe_webhook or f"{api}/webhooks/stripe",
    )
    host, port = host or configured.hostname or "127.0.0.1", port or configured.port or 8025
    click.echo(f"fake providers on http://{host}:{port} (control API: /_fake/docs); webhooks -> {api}/webhooks/...")
    serve_forever(host, port, config)


@main.command("import-contacts")
@click.option("--org", "org_slug", required=True, help="The organization's slug.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_contacts_command(org_slug: str, file: str) -> None:
    """Import contacts from a CSV or XLSX FILE; print the JSON report (quarantined rows go to the warehouse)."""
    from pathlib import Path

    from beacon.schema.db import make_engine, session_scope
    from ingestion.contact_import import import_contacts
    from ingestion.contact_import.importer import organization_by_slug

    def progress(rows: int) -> None:
        click.echo(f"\r{rows:,} rows read", nl=False, err=True)

    engine = make_engine()
    try:
        with session_scope(engine) as session:
            try:
                org = organization_by_slug(session, org_slug)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--org") from None
            report = import_contacts(Path(file), Path(file).name, org=org, session=session, on_progress=progress)
    finally:
        engine.dispose()
    click.echo("", err=True)
    click.echo(json.dumps(report.as_dict(), indent=2))
    if report.status != "imported":
        raise SystemExit(1)


@main.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=1, show_default=True, help="Processes; the rate limit is per process.")
@click.option("--proxy-headers/--no-proxy-headers", default=True, show_default=True,
              help="Trust X-Forwarded-* from the proxy in front (client IPs in tracking events).")
def api_server(host: str, port: int, workers: int, proxy_headers: bool) -> None:
    """Serve the HTTP API (docs at /docs)."""
    import uvicorn

    uvicorn.run("api.main:serve_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=proxy_headers, forwarded_allow_ips="*" if proxy_headers else None)


@main.command("demo")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--scale", default="small", show_default=True, type=click.Choice(["tiny", "small", "demo"]))
def demo(seed: int, scale: str) -> None:
    """Run the whole pipeline end to end on the configured back end and print what it built."""
    from orchestration.demo import format_summary, run_demo

    summary = run_demo(seed=seed, scale=scale, echo=click.echo)
    click.echo(format_summary(summary))
    if not summary.success:
        raise SystemExit(1)


@main.group()
def campaign() -> None:
    """Campaign activation."""


@campaign.command("run")
@click.argument("campaign_id", type=int)
@click.option("--org", "org_slug", required=True, help="The organization's slug.")
@click.option("--dry-run", is_flag=True, help="Count, exclude and render samples; send nothing.")
def campaign_run(campaign_id: int, org_slug: str, dry_run: bool) -> None:
    """Run (or resume) one campaign now and print its report as JSON."""
    import dataclasses

    from sqlalchemy import select

    from activation.run import run_campaign
    from beacon.schema.db import make_engine
    from beacon.schema.models import Organization
    from beacon.tenancy import OrgId

    engine = make_engine()
    with engine.connect() as conn:
        org_id = conn.scalar(select(Organization.id).where(Organization.slug == org_slug))
    engine.dispose()
    if org_id is None:
        raise click.ClickException(f"no organization with slug {org_slug!r}")
    report = run_campaign(campaign_id, OrgId(org_id), dry_run=dry_run)
    click.echo(json.dumps(dataclasses.asdict(report), indent=2, default=str))


if __name__ == "__main__":
    main()
