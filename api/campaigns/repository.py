from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from beacon.schema.models import Campaign, CampaignStatus, Channel, ContactList, Event, Segment, Send
from beacon.tenancy import OrgId


def get(session: Session, org: OrgId, campaign_id: int) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.organization_id == org, Campaign.id == campaign_id))


def page(session: Session, org: OrgId, *, after_id: int | None, limit: int, status: CampaignStatus | None,
         channel: Channel | None) -> list[Campaign]:
    query = select(Campaign).where(Campaign.organization_id == org)
    if status is not None:
        query = query.where(Campaign.status == status)
    if channel is not None:
        query = query.where(Campaign.channel == channel)
    if after_id is not None:
        query = query.where(Campaign.id > after_id)
    return list(session.scalars(query.order_by(Campaign.id).limit(limit + 1)))


def segment_exists(session: Session, org: OrgId, segment_id: int) -> bool:
    return session.scalar(select(Segment.id).where(Segment.organization_id == org, Segment.id == segment_id)) is not None


def list_exists(session: Session, org: OrgId, list_id: int) -> bool:
    return session.scalar(select(ContactList.id).where(ContactList.organization_id == org, ContactList.id == list_id)) is not None


def create(session: Session, org: OrgId, **values) -> Campaign:
    row = Campaign(organization_id=org, **values)
    session.add(row)
    session.flush()
    return row


def delete_campaign(session: Session, org: OrgId, campaign_id: int) -> None:
    session.execute(delete(Campaign).where(Campaign.organization_id == org, Campaign.id == campaign_id))


def send_status_counts(session: Session, org: OrgId, campaign_id: int) -> dict[str, int]:
    rows = session.execute(select(Send.status, func.count()).where(Send.organization_id == org, Send.campaign_id == campaign_id)
                           .group_by(Send.status))
    return {getattr(s, "value", s): n for s, n in rows}


def event_counts(session: Session, org: OrgId, campaign_id: int) -> dict[str, int]:
    """Distinct sends per event type (a message opened five times counts once)."""
    rows = session.execute(
        select(Event.event_type, func.count(func.distinct(Event.send_id)))
        .join(Send, Send.send_id == Event.send_id)
        .where(Event.organization_id == org, Send.organization_id == org, Send.campaign_id == campaign_id)
        .group_by(Event.event_type)
    )
    return {getattr(t, "value", t): n for t, n in rows}


def sends_page(session: Session, org: OrgId, campaign_id: int, *, after: uuid.UUID | None, limit: int,
               status: str | None) -> list[Send]:
    query = select(Send).where(Send.organization_id == org, Send.campaign_id == campaign_id)
    if status is not None:
        query = query.where(Send.status == status)
    if after is not None:
        query = query.where(Send.send_id > after)
    return list(session.scalars(query.order_by(Send.send_id).limit(limit + 1)))


def events_for_sends(session: Session, org: OrgId, send_ids: list[uuid.UUID]) -> list[Event]:
    if not send_ids:
        return []
    return list(session.scalars(select(Event).where(Event.organization_id == org, Event.send_id.in_(send_ids)).order_by(Event.occurred_at, Event.id)))
