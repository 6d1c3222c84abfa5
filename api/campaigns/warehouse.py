"""Warehouse reads for campaign analytics (marts built by dbt, docs/campaign-analytics.md): SQL only
here, every query filtered on the caller's organization as well as the campaign."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine

from beacon.tenancy import OrgId

SCHEMA = "marts"
MARTS = ("fct_campaign_performance", "fct_campaign_daily", "fct_campaign_holdout_lift")
COUNTS = ("targeted", "suppressed", "held_out", "sent", "delivered", "bounced_hard", "bounced_soft", "opened_unique",
          "machine_opened", "clicked_unique", "bot_clicked", "unsubscribed", "complained", "failed")
RATES = ("delivery_rate", "bounce_rate", "open_rate", "click_rate", "click_to_open_rate", "unsubscribe_rate",
         "complaint_rate")
DAILY = ("activity_date", *COUNTS, "open_rate_to_date", "click_rate_to_date")
LIFT = ("campaign_sent_at", "conversion_window_days", "treated_recipients", "holdout_recipients", "treated_conversions",
        "holdout_conversions", "treated_conversion_rate", "holdout_conversion_rate", "conversion_rate_lift",
        "conversion_rate_lift_ci_lower", "conversion_rate_lift_ci_upper", "treated_revenue_per_recipient",
        "holdout_revenue_per_recipient", "revenue_per_recipient_lift", "revenue_per_recipient_lift_ci_lower",
        "revenue_per_recipient_lift_ci_upper")


class MartsMissing(LookupError):
    """The warehouse has no campaign marts yet (the pipeline has not run)."""


def _select(table: str, columns: tuple[str, ...], org: OrgId, campaign_id: int, order_by: str) -> sa.TextClause:
    # Names come from the constants above, never from the request.
    return sa.text(
        f"select {', '.join(columns)} from {SCHEMA}.{table} "
        f"where organization_id = :org and campaign_id = :campaign_id order by {order_by}"
    ).bindparams(org=int(org), campaign_id=campaign_id)


def campaign_analytics(engine: Engine, org: OrgId, campaign_id: int) -> tuple[list[dict], list[dict], dict | None]:
    """(per-variant performance, daily series per variant, holdout lift or None) of one campaign."""
    inspector = sa.inspect(engine)
    if not all(inspector.has_table(table, schema=SCHEMA) for table in MARTS):
        raise MartsMissing("the warehouse has no campaign analytics yet: run the pipeline (dbt build) first")
    performance_columns = ("variant_name", *COUNTS, *RATES, "conversions", "attributed_revenue", "revenue_per_recipient")
    with engine.connect() as conn:
        variants = [dict(r._mapping) for r in conn.execute(
            _select("fct_campaign_performance", performance_columns, org, campaign_id, "variant_name"))]
        daily = [dict(r._mapping) for r in conn.execute(
            _select("fct_campaign_daily", ("variant_name", *DAILY), org, campaign_id, "variant_name, activity_date"))]
        lift = conn.execute(_select("fct_campaign_holdout_lift", LIFT, org, campaign_id, "campaign_id")).first()
    return variants, daily, dict(lift._mapping) if lift else None
