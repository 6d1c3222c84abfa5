from __future__ import annotations

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from beacon.schema.models import Campaign, ContactList, Segment
from beacon.tenancy import OrgId


def get(session: Session, org: OrgId, segment_id: int) -> Segment | None:
    return session.scalar(select(Segment).where(Segment.organization_id == org, Segment.id == segment_id))


def id_by_name(session: Session, org: OrgId, name: str) -> int | None:
    return session.scalar(select(Segment.id).where(Segment.organization_id == org, Segment.name == name))


def page(session: Session, org: OrgId, *, after_id: int | None, limit: int, q: str | None) -> list[Segment]:
    query = select(Segment).where(Segment.organization_id == org)
    if q:
        query = query.where(func.lower(Segment.name).contains(q.lower(), autoescape=True))
    if after_id is not None:
        query = query.where(Segment.id > after_id)
    return list(session.scalars(query.order_by(Segment.id).limit(limit + 1)))


def existing_list_ids(session: Session, org: OrgId, list_ids: set[int]) -> set[int]:
    return set(session.scalars(select(ContactList.id).where(ContactList.organization_id == org, ContactList.id.in_(list_ids))))


def create(session: Session, org: OrgId, **values) -> Segment:
    row = Segment(organization_id=org, **values)
    session.add(row)
    session.flush()
    return row


def used_by_campaign(session: Session, org: OrgId, segment_id: int) -> bool:
    return session.scalar(select(exists().where(Campaign.organization_id == org, Campaign.segment_id == segment_id)))


def delete_segment(session: Session, org: OrgId, segment_id: int) -> None:
    session.execute(delete(Segment).where(Segment.organization_id == org, Segment.id == segment_id))
