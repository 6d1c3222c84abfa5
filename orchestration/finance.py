"""Finance: push billable usage and closed invoices to Stripe, reconcile, then publish the usage reports.

``finance/stripe_usage_push`` (after the billing marts) -> blocking check ``usage_reconciles``
(send ledger = provider-accepted = billable = pushed to Stripe, and the invoice overage quantities)
-> ``finance/usage_report_files`` (CSV, Parquet and a PNG chart per organization and period, under
``$BEACON_HOME/reports``). A mismatch stops the run before any report is published. A second,
non-blocking check compares Beacon's invoice lines with the invoices Stripe reported by webhook.
The library parts live in ``beacon.finance``.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations.

from contextlib import contextmanager
from functools import cache

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from beacon.finance import marts, reconcile
from beacon.finance.export import report_files_exist, write_report_files
from beacon.finance.report import usage_report
from beacon.finance.stripe_sync import sync_all
from beacon.providers.clients import stripe_client
from beacon.schema.db import make_engine
from beacon.settings import get_settings
from beacon.warehouse import warehouse_engine
from orchestration.warehouse import dbt_model_key

GROUP = "finance"
OWNER = "team:finance"
PUSH_KEY = AssetKey([GROUP, "stripe_usage_push"])
REPORTS_KEY = AssetKey([GROUP, "usage_report_files"])


@contextmanager
def _engines():
    settings = get_settings()
    op, warehouse = make_engine(settings.operational_url), warehouse_engine(settings.warehouse)
    try:
        yield settings, op, warehouse
    finally:
        op.dispose()
        warehouse.dispose()


@cache
def stripe_usage_push_asset() -> AssetsDefinition:
    @asset(
        key=PUSH_KEY,
        deps=[dbt_model_key("fct_billing_periods"), dbt_model_key("fct_invoice_lines")],
        group_name=GROUP,
        owners=[OWNER],
        kinds={"python", "stripe"},
        description="Billable messages pushed to Stripe as meter events (exactly once, deterministic identifiers) "
        "and one finalized invoice per closed period; every push recorded in usage_pushes.",
    )
    def stripe_usage_push(context: AssetExecutionContext) -> MaterializeResult:
        with _engines() as (settings, op, warehouse):
            result = sync_all(op, warehouse, stripe_client(settings))
        for problem in result.problems:
            context.log.warning(problem)
        return MaterializeResult(
            metadata={
                "meter_events": result.meter_events,
                "meter_units": result.meter_units,
                "invoices": result.invoices,
                "invoice_items": result.invoice_items,
                "problems": MetadataValue.json(result.problems),
            }
        )

    return stripe_usage_push


@asset_check(
    asset=PUSH_KEY,
    name="usage_reconciles",
    blocking=True,
    description="Per organization, period and channel: sends in the ledger = messages the provider accepted = "
    "billable in the marts = pushed to Stripe, and the invoice's overage quantity = ledger - allowance.",
)
def usage_reconciles() -> AssetCheckResult:
    with _engines() as (_, op, warehouse):
        checked, mismatches = reconcile.usage(op, warehouse)
    return AssetCheckResult(
        passed=not mismatches,
        severity=AssetCheckSeverity.ERROR,
        description=f"{checked} periods reconcile" if not mismatches
        else f"{len(mismatches)} mismatches: " + "; ".join(str(m) for m in mismatches[:5]),
        metadata={"periods_checked": checked, "mismatches": MetadataValue.json([str(m) for m in mismatches])},
    )


@asset_check(
    asset=PUSH_KEY,
    name="invoices_match_stripe",
    description="Closed periods: Beacon's invoice line total = the Stripe invoice total reported by webhook; "
    "lists unpaid and not-yet-reported invoices (a warning: payment takes time).",
)
def invoices_match_stripe() -> AssetCheckResult:
    rows = []
    with _engines() as (_, op, warehouse):
        for org in marts.organizations_billed(warehouse):
            rows += reconcile.invoices(op, warehouse, org)
    wrong = [r for r in rows if r.stripe_total is not None and not r.matches]
    unpaid = [f"{r.organization_id}/{r.period_label}: {r.stripe_status or 'not reported'}" for r in rows if not r.is_paid]
    return AssetCheckResult(
        passed=not wrong,
        severity=AssetCheckSeverity.WARN,
        description=f"{len(rows)} invoices, {len(wrong)} totals differ, {len(unpaid)} unpaid",
        metadata={
            "differences": MetadataValue.json(
                [f"organization {r.organization_id}, period {r.period_label}: Stripe {r.stripe_total} vs lines "
                 f"{r.lines_total} (difference {r.difference})" for r in wrong]
            ),
            "unpaid": MetadataValue.json(unpaid),
        },
    )


@cache
def usage_report_files_asset() -> AssetsDefinition:
    @asset(
        key=REPORTS_KEY,
        deps=[PUSH_KEY, dbt_model_key("fct_usage_vs_plan"), dbt_model_key("fct_invoice_lines")],
        group_name=GROUP,
        owners=[OWNER],
        kinds={"python", "parquet", "csv"},
        description="The usage report of every organization and period as CSV, Parquet and a PNG chart under "
        "$BEACON_HOME/reports/<organization_id>/<YYYY-MM>.*, published once usage reconciles; a closed "
        "period's files are written once (closed periods never change).",
    )
    def usage_report_files(context: AssetExecutionContext) -> MaterializeResult:
        written = kept = 0
        with _engines() as (settings, _, warehouse):
            for org in marts.organizations_billed(warehouse):  # one tenant at a time
                for period in marts.billing_periods(warehouse, org):
                    # A chart costs ~0.1-1 s (bench_finance): redraw only what can still change.
                    if period.is_closed and report_files_exist(settings.home, org, period.period_label):
                        kept += 1
                        continue
                    write_report_files(usage_report(warehouse, org, period.period_label), settings.home)
                    written += 1
        context.log.info(f"{written} reports written, {kept} closed ones kept, under {settings.home / 'reports'}")
        return MaterializeResult(metadata={"reports": written, "kept": kept, "folder": str(settings.home / "reports")})

    return usage_report_files


def build_defs() -> Definitions:
    return Definitions(
        assets=[stripe_usage_push_asset(), usage_report_files_asset()],
        asset_checks=[usage_reconciles, invoices_match_stripe],
    )
