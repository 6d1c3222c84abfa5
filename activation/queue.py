"""Which campaigns are due: what an orchestrator (a Dagster sensor or schedule) hands to
:func:`activation.run.run_campaign`, one run per campaign."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import or_, select

from beacon.schema.db import make_engine
from beacon.schema.models import Campaign, CampaignStatus, TriggerMode
from beacon.tenancy import OrgId


def due_campaigns(*, database_url: str | None = None, now: datetime | None = None) -> list[tuple[OrgId, int]]:
    """One-off campaigns that are queued, scheduled for now or earlier, or were left ``sending``
    by a run that stopped (a re-run resumes them), as (organization, campaign id), oldest first."""
    now = now or datetime.now(UTC)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Campaign.organization_id, Campaign.id)
                .where(
                    Campaign.trigger_mode == TriggerMode.one_off,
                    or_(
                        Campaign.status.in_([CampaignStatus.queued, CampaignStatus.sending]),
                        (Campaign.status == CampaignStatus.scheduled) & (Campaign.scheduled_at <= now),
                    ),
                )
                .order_by(Campaign.scheduled_at, Campaign.id)
            )
            return [(OrgId(org), campaign_id) for org, campaign_id in rows]
    finally:
        engine.dispose()
