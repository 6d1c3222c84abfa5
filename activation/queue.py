"""Which campaigns are due: what an orchestrator (a Dagster sensor or schedule) hands to
:func:`activation.run.run_campaign` / :func:`activation.automation.run_automation`, one run per campaign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select

from beacon.schema.db import make_engine
from beacon.schema.models import Campaign, CampaignStatus, TriggerMode
from beacon.tenancy import OrgId


@dataclass(frozen=True)
class DueCampaign:
    """One campaign to run, and what makes this request for it unique: the status it is due in and
    when it became due (``scheduled_at`` for queued/scheduled, set by the API's send/schedule; the last
    status change for one a stopped run left ``sending``). A new request for the same campaign only
    arises when one of them changes, so an orchestrator's run key built from them launches it once."""

    org: OrgId
    campaign_id: int
    status: str
    due_since: datetime | None

    @property
    def attempt_key(self) -> str:
        since = self.due_since.isoformat() if self.due_since else "-"
        return f"campaign-{self.org}-{self.campaign_id}-{self.status}-{since}"


def due_campaign_runs(*, database_url: str | None = None, now: datetime | None = None) -> list[DueCampaign]:
    """One-off campaigns that are queued, scheduled for now or earlier, or were left ``sending``
    by a run that stopped (a re-run resumes them), oldest first."""
    now = now or datetime.now(UTC)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Campaign.organization_id, Campaign.id, Campaign.status, Campaign.scheduled_at, Campaign.updated_at)
                .where(
                    Campaign.trigger_mode == TriggerMode.one_off,
                    or_(
                        Campaign.status.in_([CampaignStatus.queued, CampaignStatus.sending]),
                        (Campaign.status == CampaignStatus.scheduled) & (Campaign.scheduled_at <= now),
                    ),
                )
                .order_by(Campaign.scheduled_at, Campaign.id)
            )
            return [
                DueCampaign(OrgId(org), campaign_id, status.value,
                            updated_at if status is CampaignStatus.sending else (scheduled_at or updated_at))
                for org, campaign_id, status, scheduled_at, updated_at in rows
            ]
    finally:
        engine.dispose()


def due_campaigns(*, database_url: str | None = None, now: datetime | None = None) -> list[tuple[OrgId, int]]:
    """:func:`due_campaign_runs` as (organization, campaign id) pairs."""
    return [(due.org, due.campaign_id) for due in due_campaign_runs(database_url=database_url, now=now)]


def active_automations(*, database_url: str | None = None) -> list[tuple[OrgId, int]]:
    """Automation-mode campaigns that are switched on (queued, scheduled or sending, i.e. not a
    draft, cancelled or failed), as (organization, campaign id)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Campaign.organization_id, Campaign.id)
                .where(
                    Campaign.trigger_mode == TriggerMode.automation,
                    Campaign.status.in_([CampaignStatus.queued, CampaignStatus.scheduled, CampaignStatus.sending]),
                )
                .order_by(Campaign.organization_id, Campaign.id)
            )
            return [(OrgId(org), campaign_id) for org, campaign_id in rows]
    finally:
        engine.dispose()
