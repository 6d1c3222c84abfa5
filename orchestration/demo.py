"""``beacon demo``: the whole loop on the embedded default, from an empty ``.beacon/`` to the marts.

Each step calls the same code the product runs (migrations, the generator, the Dagster job);
the demo only sequences them and prints what each built.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from beacon.settings import Settings, get_settings

Echo = Callable[[str], None]


@dataclass
class DemoSummary:
    success: bool = True
    seconds: dict[str, float] = field(default_factory=dict)
    operational: dict[str, int] = field(default_factory=dict)
    warehouse: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)  # reason -> rows
    loop: Any = None  # demo_loop.LoopResult
    finance: Any = None  # demo_loop.FinanceResult
    highlights: dict[str, Any] = field(default_factory=dict)  # read back from the marts


def _reset_embedded_state(settings: Settings) -> None:
    """Start from empty embedded databases, so the demo gives the same result every time it runs
    (a configured PostgreSQL is left alone; the generator itself rewrites the inbox)."""
    home = settings.home.resolve()
    if settings.database_url is None:
        for suffix in ("", "-wal", "-shm"):
            (home / f"beacon.db{suffix}").unlink(missing_ok=True)
    if settings.warehouse_url is None:
        for suffix in ("", ".wal"):
            (home / f"warehouse.duckdb{suffix}").unlink(missing_ok=True)
    home.mkdir(parents=True, exist_ok=True)


def _count_tables(engine: sa.Engine, schema: str | None) -> dict[str, int]:
    inspector = sa.inspect(engine)
    # Not get_schema_names(): duckdb_engine qualifies those with the catalog ("warehouse.raw").
    if schema is not None and not inspector.has_schema(schema):
        return {}
    counts = {}
    with engine.connect() as conn:
        for table in sorted(inspector.get_table_names(schema=schema)):
            if table.startswith("_dlt") or table == "alembic_version":
                continue
            name = f'"{schema}"."{table}"' if schema else f'"{table}"'
            counts[f"{schema}.{table}" if schema else table] = conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
    return counts


def run_demo(*, seed: int = 42, scale: str = "small", echo: Echo = print) -> DemoSummary:
    from beacon.generate import GenerateConfig, generate
    from beacon.schema import migrate
    from beacon.schema.db import make_engine
    from beacon.warehouse import warehouse_engine
    from orchestration.demo_loop import activation_loop, highlights, run_finance, running_services
    from orchestration.run import run_pipeline

    settings = get_settings()
    summary = DemoSummary()
    # Record the demo's runs where `make dev` shows them (and give schedules and sensors a real instance).
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.home.resolve() / "dagster")))
    dagster_home.mkdir(parents=True, exist_ok=True)

    def step(name: str, action: Callable[[], object]) -> object:
        echo(f"==> {name}")
        start = time.perf_counter()
        result = action()
        summary.seconds[name] = round(time.perf_counter() - start, 1)
        return result

    step("reset the embedded databases", lambda: _reset_embedded_state(settings))
    step("migrate the operational DB", migrate.upgrade)
    step(
        f"generate tenants, contacts, orders, campaigns and provider files (seed {seed}, scale {scale})",
        lambda: generate(GenerateConfig(database_url=settings.operational_url, out=settings.home, seed=seed,
                                        scale=scale, as_of=datetime(2026, 11, 1, tzinfo=UTC))),
    )

    def pipeline_step(name: str) -> None:
        pipeline = step(name, run_pipeline)
        if not pipeline.success:
            summary.success = False
            summary.problems += [f"failed step {s}" for s in pipeline.failed_steps]
            summary.problems += [f"failed check {c}" for c in pipeline.failed_checks]

    pipeline_step("ingest, build the dbt models, fit CLV, refresh segments (Dagster job)")
    if summary.success:
        # The API and the fakes stay up to the end: the fake Stripe takes the usage push.
        with running_services(settings) as (fake_url, api_url):
            summary.loop = step("run a campaign and the automations through the fake providers, with events, "
                                "opens, clicks and orders coming back", lambda: activation_loop(fake_url, api_url))
            pipeline_step("re-ingest and rebuild analytics and billing (Dagster job)")
            if summary.success:
                summary.finance = step("push usage to the fake Stripe, reconcile, write the finance reports",
                                       run_finance)
                if not summary.finance.success:
                    summary.success = False
                    summary.problems += ["finance run failed"] + summary.finance.failed_checks

    op_engine, wh_engine = make_engine(), warehouse_engine()
    try:
        summary.operational = _count_tables(op_engine, None)
        for schema in ("raw", "marts"):
            summary.warehouse.update(_count_tables(wh_engine, schema))
        if "raw.quarantine" in summary.warehouse:
            with wh_engine.connect() as conn:
                summary.quarantined = dict(conn.execute(sa.text(
                    "SELECT reason, count(*) FROM raw.quarantine GROUP BY reason ORDER BY count(*) DESC, reason"
                )).all())
        if summary.success and summary.loop is not None:
            summary.highlights = highlights(op_engine, wh_engine, summary.loop)
    finally:
        op_engine.dispose()
        wh_engine.dispose()
    return summary


def format_summary(summary: DemoSummary, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    lines = ["", "Beacon demo: " + ("done" if summary.success else "FAILED: " + "; ".join(summary.problems)), ""]
    lines.append("Operational DB (" + settings.operational_url + ")")
    lines += [f"  {name:<28} {count:>10,}" for name, count in summary.operational.items()]
    lines.append("")
    lines.append("Warehouse (" + settings.warehouse + ")")
    lines += [f"  {name:<40} {count:>10,}" for name, count in summary.warehouse.items()]
    if summary.quarantined:
        lines.append("")
        lines.append("Quarantined rows by reason (the generator's dirty files; see docs/ingestion.md)")
        lines += [f"  {reason:<40} {count:>10,}" for reason, count in summary.quarantined.items()]
    lines += _format_loop(summary)
    lines.append("")
    lines.append("Timings: " + ", ".join(f"{k} {v}s" for k, v in summary.seconds.items()))
    lines += [
        "",
        "Where to look next:",
        "  make dev            Dagster UI http://127.0.0.1:3000 and API docs http://127.0.0.1:8000/docs",
        f"  warehouse           {Path(settings.warehouse.removeprefix('duckdb:///'))}  (duckdb CLI or any SQL client)",
        "  docs/               data contracts, warehouse tables, marts",
        f"  reports             {settings.home.resolve() / 'reports'}  (finance CSV, Parquet and PNG per period)",
        "  notebooks/          campaign performance, customer value, segment explorer, finance usage",
        "                      (.venv/bin/jupyter lab notebooks/ ; they read this warehouse)",
    ]
    return "\n".join(lines)


def _money(value: Any) -> str:
    return f"{float(value or 0):,.2f}"


def _format_loop(summary: DemoSummary) -> list[str]:
    loop, found = summary.loop, summary.highlights
    if loop is None or not found:
        return []
    lines = ["", f"Campaign {loop.campaign_id} of {loop.organization} (queued through the API, launched by the sensor)",
             f"  ledger {loop.campaign}; {loop.webhook_batches} signed webhook batches back; "
             f"{loop.opens} opens and {loop.clicks} clicks through the tracking endpoints; {loop.orders} orders after",
             f"  automation runs: {loop.automation_runs}"]
    for row in found["campaign"]:
        lines.append(
            f"  variant {row['variant_name'] or '-'}: sent {row['sent']:,}, delivered {row['delivered']:,}, "
            f"human opens {row['opened_unique']:,} (machine {row['machine_opened']:,}), clicks {row['clicked_unique']:,} "
            f"(bots {row['bot_clicked']:,}), conversions {row['conversions'] or 0:,}, "
            f"attributed revenue {_money(row['attributed_revenue'])}")
    lift = found.get("holdout") or {}
    if lift:
        lines.append(
            f"  holdout: treated {lift['treated_recipients']:,} converted {float(lift['treated_conversion_rate'] or 0):.1%}, "
            f"held out {lift['holdout_recipients']:,} converted {float(lift['holdout_conversion_rate'] or 0):.1%}, "
            f"lift {float(lift['conversion_rate_lift'] or 0):+.1%}")
    lines.append(f"  attributed revenue of all this tenant's campaigns: {_money(found['attributed_revenue_all_campaigns'])}")
    clv = found["clv"]
    lines += ["", "Customer value (BG/NBD + Gamma-Gamma per tenant, pymc-marketing)",
              f"  tenant fits by status: {found['clv_fits']}",
              f"  {loop.organization}: {clv['customers_predicted'] or 0:,} customers predicted, mean P(alive) "
              f"{float(clv['mean_p_alive'] or 0):.2f}, 12-month CLV total {_money(clv['predicted_clv_12m_total'])}"]
    usage = found["usage"]
    lines += ["", f"Usage report {usage.period_label} of {loop.organization} (plan {usage.plan_code}, {usage.currency})"]
    for line in usage.usage:
        flags = " >=100%" if line.is_at_100_pct else " >=80%" if line.is_at_80_pct else ""
        lines.append(f"  {line.metric:<10} used {line.used:>10,} of {line.included:>10,}  overage {line.overage_units:,}"
                     f" = {_money(line.overage_amount)}{flags}")
    lines.append(f"  invoice lines total {_money(usage.invoice_total)} {usage.currency}")
    if summary.finance is not None:
        lines.append(f"  reconciliation (ledger = provider = Stripe = invoice): "
                     f"{'holds' if not summary.finance.failed_checks else summary.finance.failed_checks}")
    return lines
