from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from beacon.schema.models import Channel, Suppression, SuppressionReason
from beacon.tenancy import OrgId


def get(session: Session, org: OrgId, suppression_id: int) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.organization_id == org, Suppression.id == suppression_id))


def find(session: Session, org: OrgId, channel: Channel, address: str) -> Suppression | None:
    return session.scalar(select(Suppression).where(
        Suppression.organization_id == org, Suppression.channel == channel, Suppression.address == address))


def add(session: Session, org: OrgId, channel: Channel, address: str, reason: SuppressionReason, source: str) -> bool:
    """Insert unless (organization, channel, address) is already suppressed; True if a row was added.

    INSERT ... ON CONFLICT DO NOTHING on both back ends, so concurrent webhooks never race."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Suppression).values(
        organization_id=org, channel=channel, address=address, reason=reason, source=source
    ).on_conflict_do_nothing(index_elements=["organization_id", "channel", "address"]).returning(Suppression.id)
    # RETURNING, not rowcount: the ORM's insert path does not report rowcount on every driver.
    return session.execute(statement).first() is not None


def remove(session: Session, org: OrgId, suppression_id: int) -> None:
    session.execute(delete(Suppression).where(Suppression.organization_id == org, Suppression.id == suppression_id))


def remove_address(session: Session, org: OrgId, channel: Channel, address: str, reasons: set[SuppressionReason]) -> int:
    return session.execute(delete(Suppression).where(
        Suppression.organization_id == org, Suppression.channel == channel, Suppression.address == address,
        Suppression.reason.in_(reasons))).rowcount


def page(session: Session, org: OrgId, *, after_id: int | None, limit: int, channel: Channel | None,
         reason: SuppressionReason | None, q: str | None) -> list[Suppression]:
    query = select(Suppression).where(Suppression.organization_id == org)
    if channel is not None:
        query = query.where(Suppression.channel == channel)
    if reason is not None:
        query = query.where(Suppression.reason == reason)
    if q:
        query = query.where(Suppression.address.contains(q.lower(), autoescape=True))
    if after_id is not None:
        query = query.where(Suppression.id > after_id)
    return list(session.scalars(query.order_by(Suppression.id).limit(limit + 1)))
