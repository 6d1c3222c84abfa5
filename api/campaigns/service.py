"""Campaign drafts and their life cycle. Activation picks up ``queued`` campaigns (and ``scheduled``
ones when due); the API only moves the status and reads the send ledger."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.campaigns import repository, warehouse
from api.campaigns.schemas import CampaignAnalytics, CampaignCreate, CampaignDetail, CampaignOut, CampaignUpdate, RecipientOutcome, ScheduleRequest
from api.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from api.pagination import PageParams, make_page
from api.templates.service import template_exists
from beacon.schema.models import Campaign, CampaignStatus, Channel, Organization, TriggerMode
from beacon.tenancy import OrgId

# Later wins: a message that was clicked was also opened and delivered.
OUTCOME_ORDER = ["sent", "delivered", "opened", "clicked", "converted", "failed", "bounced", "unsubscribed", "complained"]
EDITABLE = {CampaignStatus.draft}
CANCELLABLE = {CampaignStatus.draft, CampaignStatus.scheduled, CampaignStatus.queued}


def _get(session: Session, org: OrgId, campaign_id: int) -> Campaign:
    row = repository.get(session, org, campaign_id)
    if row is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return row


def _check_template(session: Session, org: OrgId, code: str, channel: Channel) -> None:
    if not template_exists(session, org, code, channel):
        raise Unprocessable(f"template_code: no {channel.value} template {code!r} for this organization or the platform")


def _check_runnable(session: Session, org: OrgId, row: Campaign) -> None:
    """Refuse to queue or schedule what the activation run would refuse: a missing postal address on
    marketing email, or content variables the templates need and the campaign does not supply."""
    from activation.content import TemplateNotFound
    from activation.run import campaign_problems

    if row.trigger_mode is not TriggerMode.one_off:
        return  # automation steps are checked when each step runs
    try:
        problems = campaign_problems(session.connection(), org, row, session.get(Organization, int(org)))
    except TemplateNotFound as exc:
        problems = [f"template_code: {exc}"]
    if problems:
        raise Unprocessable("; ".join(problems))


def list_campaigns(session: Session, org: OrgId, page: PageParams, status: CampaignStatus | None, channel: Channel | None) -> dict:
    rows = repository.page(session, org, after_id=page.after_id, limit=page.limit, status=status, channel=channel)
    return make_page(rows, page.limit, CampaignOut.model_validate)


def get_campaign(session: Session, org: OrgId, campaign_id: int) -> CampaignDetail:
    row = _get(session, org, campaign_id)
    return CampaignDetail(**CampaignOut.model_validate(row).model_dump(),
                          sends_by_status=repository.send_status_counts(session, org, campaign_id),
                          sends_by_event=repository.event_counts(session, org, campaign_id))


def create_campaign(session: Session, org: OrgId, body: CampaignCreate) -> CampaignOut:
    if body.segment_id is not None and not repository.segment_exists(session, org, body.segment_id):
        raise Unprocessable(f"segment_id: no segment {body.segment_id} in this organization")
    if body.list_id is not None and not repository.list_exists(session, org, body.list_id):
        raise Unprocessable(f"list_id: no list {body.list_id} in this organization")
    _check_template(session, org, body.template_code, body.channel)
    return CampaignOut.model_validate(repository.create(session, org, status=CampaignStatus.draft, **body.model_dump()))


def update_campaign(session: Session, org: OrgId, campaign_id: int, body: CampaignUpdate) -> CampaignOut:
    row = _get(session, org, campaign_id)
    if row.status not in EDITABLE:
        raise Conflict(f"campaign {campaign_id} is {row.status.value}; only drafts can be edited")
    values = body.model_dump(exclude_unset=True)
    if values.get("template_code"):
        _check_template(session, org, values["template_code"], row.channel)
    for key, value in values.items():
        if value is not None:
            setattr(row, key, value)
    session.flush()
    return CampaignOut.model_validate(row)


def delete_campaign(session: Session, org: OrgId, campaign_id: int) -> None:
    row = _get(session, org, campaign_id)
    if row.status not in EDITABLE:
        raise Conflict(f"campaign {campaign_id} is {row.status.value}; only drafts can be deleted (cancel it instead)")
    repository.delete_campaign(session, org, campaign_id)


def schedule(session: Session, org: OrgId, campaign_id: int, body: ScheduleRequest) -> CampaignOut:
    row = _get(session, org, campaign_id)
    if row.status not in {CampaignStatus.draft, CampaignStatus.scheduled}:
        raise Conflict(f"campaign {campaign_id} is {row.status.value}; only drafts and scheduled campaigns can be scheduled")
    if body.scheduled_at <= datetime.now(UTC):
        raise Unprocessable("scheduled_at: must be in the future")
    _check_runnable(session, org, row)
    row.status, row.scheduled_at = CampaignStatus.scheduled, body.scheduled_at
    session.flush()
    return CampaignOut.model_validate(row)


def send_now(session: Session, org: OrgId, campaign_id: int) -> CampaignOut:
    row = _get(session, org, campaign_id)
    if row.status == CampaignStatus.queued:
        return CampaignOut.model_validate(row)  # idempotent: a retried request does not queue twice
    if row.status not in {CampaignStatus.draft, CampaignStatus.scheduled}:
        raise Conflict(f"campaign {campaign_id} is {row.status.value}; it cannot be sent")
    _check_runnable(session, org, row)
    row.status, row.scheduled_at = CampaignStatus.queued, datetime.now(UTC)
    session.flush()
    return CampaignOut.model_validate(row)


def cancel(session: Session, org: OrgId, campaign_id: int) -> CampaignOut:
    row = _get(session, org, campaign_id)
    if row.status == CampaignStatus.cancelled:
        return CampaignOut.model_validate(row)
    if row.status not in CANCELLABLE:
        raise Conflict(f"campaign {campaign_id} is {row.status.value}; only draft, scheduled or queued campaigns can be cancelled")
    row.status = CampaignStatus.cancelled
    session.flush()
    return CampaignOut.model_validate(row)


def recipients(session: Session, org: OrgId, campaign_id: int, page: PageParams, status: str | None) -> dict:
    _get(session, org, campaign_id)
    rows = repository.sends_page(session, org, campaign_id, after=page.after_id, limit=page.limit, status=status)
    events = repository.events_for_sends(session, org, [r.send_id for r in rows[: page.limit]])
    by_send: dict = {}
    for event in events:
        by_send.setdefault(event.send_id, []).append(event)

    def outcome(send) -> RecipientOutcome:
        seen = by_send.get(send.send_id, [])
        types = [e.event_type.value for e in seen]
        furthest = max(types, key=OUTCOME_ORDER.index, default=send.status.value)
        return RecipientOutcome(send_id=send.send_id, contact_id=send.contact_id, address=send.address, status=send.status,
                                sent_at=send.sent_at, outcome=furthest,
                                events=[{"type": e.event_type.value, "occurred_at": e.occurred_at} for e in seen])

    return make_page(rows, page.limit, outcome, key=lambda r: str(r.send_id))


def analytics(session: Session, engine: Engine, org: OrgId, campaign_id: int) -> CampaignAnalytics:
    """The campaign's marts: 404 unless the campaign is the caller's (checked in the operational DB)."""
    _get(session, org, campaign_id)
    try:
        variants, daily, lift = warehouse.campaign_analytics(engine, org, campaign_id)
    except warehouse.MartsMissing as exc:
        raise ServiceUnavailable(str(exc)) from None
    return CampaignAnalytics(campaign_id=campaign_id, variants=variants, daily=daily, holdout_lift=lift)
