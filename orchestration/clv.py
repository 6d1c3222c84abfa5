"""Predictive customer value as a Python asset between two parts of the dbt project.

dbt builds the RFM summary (``intermediate/int_customers_summarized_for_clv``); this asset fits
BG/NBD + Gamma-Gamma per tenant (``beacon.clv``) and writes ``predictions/customer_predictions``;
dbt then reads that table as a source for the contact profile (``dim_contacts``). The dbt
multi-asset is subsettable, so Dagster splits it into two steps around this one in a run.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated function's annotations.

from datetime import UTC, datetime
from functools import cache

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Config, Definitions, MaterializeResult, MetadataValue, asset
from pydantic import Field

from beacon.clv import fit_customer_value_by_organization
from beacon.clv import store
from beacon.clv.tenants import DEFAULT_MIN_CUSTOMERS, DEFAULT_MIN_REPEAT_BUYERS
from beacon.clv.value import DEFAULT_MONTHLY_DISCOUNT_RATE
from beacon.settings import get_settings
from orchestration.warehouse import dbt_model_key

PREDICTIONS_KEY = AssetKey([store.SCHEMA, store.customer_predictions.name])
OWNER = "team:analytics"


class ClvConfig(Config):
    """Thresholds of ``fit_customer_value_by_organization`` (docs/customer-value.md)."""

    min_customers: int = Field(DEFAULT_MIN_CUSTOMERS, ge=1, description="fewer customers: too_small")
    min_repeat_buyers: int = Field(DEFAULT_MIN_REPEAT_BUYERS, ge=1, description="fewer repeat buyers: too_small")
    monthly_discount_rate: float = Field(DEFAULT_MONTHLY_DISCOUNT_RATE, ge=0, lt=1)


@cache
def customer_predictions_asset() -> AssetsDefinition:
    @asset(
        key=PREDICTIONS_KEY,
        deps=[dbt_model_key(store.SUMMARY_TABLE)],
        group_name=store.SCHEMA,
        owners=[OWNER],
        kinds={"python", "pymc"},
        description="Per-customer BG/NBD + Gamma-Gamma predictions (probability alive, expected purchases, "
        "discounted 12-month CLV), fitted per tenant; fit statuses in predictions.clv_fits.",
    )
    def customer_predictions(context: AssetExecutionContext, config: ClvConfig) -> MaterializeResult:
        url = get_settings().warehouse
        fitted_at = datetime.now(UTC)
        store.ensure_tables(url)
        orgs = store.organizations_with_customers(url)
        statuses: dict[str, dict] = {}
        for org in orgs:  # one tenant in memory at a time
            rfm = store.read_summary(url, org)
            tables = fit_customer_value_by_organization(
                rfm,
                fitted_at=fitted_at,
                min_customers=config.min_customers,
                min_repeat_buyers=config.min_repeat_buyers,
                monthly_discount_rate=config.monthly_discount_rate,
            )
            rows, fit = store.tenant_rows(org, rfm, tables, fitted_at)
            store.replace_tenant(url, org, rows, fit)
            statuses[str(org)] = {"status": fit.status, "customers": fit.n_customers, "message": fit.message}
            context.log.info(f"organization {org}: {fit.status} ({fit.n_customers} customers){': ' + fit.message if fit.message else ''}")
        store.remove_tenants_except(url, orgs)
        return MaterializeResult(
            metadata={
                "tenants": len(orgs),
                "tenants_fitted": sum(s["status"] == store.FITTED for s in statuses.values()),
                "customers": sum(s["customers"] for s in statuses.values()),
                "statuses": MetadataValue.json(statuses),
                "fitted_at": fitted_at.isoformat(),
            }
        )

    return customer_predictions


def build_defs() -> Definitions:
    return Definitions(assets=[customer_predictions_asset()])
