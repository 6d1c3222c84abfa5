"""``beacon demo``: the whole loop on the embedded default, from an empty ``.beacon/`` to the marts.

Each step calls the same code the product runs (migrations, the generator, the Dagster job);
the demo only sequences them and prints what each built.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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
    from orchestration.run import run_pipeline

    settings = get_settings()
    summary = DemoSummary()

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
    pipeline = step("ingest into the warehouse and build the dbt models (Dagster job)", run_pipeline)
    if not pipeline.success:
        summary.success = False
        summary.problems += [f"failed step {s}" for s in pipeline.failed_steps]
        summary.problems += [f"failed check {c}" for c in pipeline.failed_checks]

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
    lines.append("")
    lines.append("Timings: " + ", ".join(f"{k} {v}s" for k, v in summary.seconds.items()))
    lines += [
        "",
        "Where to look next:",
        "  make dev            Dagster UI http://127.0.0.1:3000 and API docs http://127.0.0.1:8000/docs",
        f"  warehouse           {Path(settings.warehouse.removeprefix('duckdb:///'))}  (duckdb CLI or any SQL client)",
        "  docs/               data contracts, warehouse tables, marts",
    ]
    return "\n".join(lines)
