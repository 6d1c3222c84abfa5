"""The send ledger, events, suppressions and contact state, as tracking hits and webhooks touch them.

``find_send`` is unscoped on purpose: the caller holds a verified token or a verified webhook,
and the ledger row is what says which tenant the message belongs to (it yields the ``OrgId``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from beacon.schema.models import Channel, Contact, ContactStatus, Event, EventType, Organization, Send, WebhookReceipt
from beacon.tenancy import OrgId


def find_send(session: Session, send_id: uuid.UUID) -> Send | None:
    return session.get(Send, send_id)


def find_send_by_provider_message(session: Session, provider_message_id: str) -> Send | None:
    return session.scalar(select(Send).where(Send.provider_message_id == provider_message_id).limit(1))


def org_exists(session: Session, org_id: int) -> OrgId | None:
    found = session.scalar(select(Organization.id).where(Organization.id == org_id))
    return OrgId(found) if found is not None else None


def insert_event(session: Session, org: OrgId, *, event_type: EventType, occurred_at: datetime, provider: str,
                 provider_event_id: str, send_id: uuid.UUID | None = None, contact_id: int | None = None,
                 channel: Channel | None = None, payload: dict[str, Any] | None = None) -> bool:
    """Insert-or-ignore on (provider, provider_event_id): a redelivered event is stored once. True if new."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Event).values(
        organization_id=org, event_type=event_type, occurred_at=occurred_at, provider=provider,
        provider_event_id=provider_event_id[:128], send_id=send_id, contact_id=contact_id, channel=channel,
        payload=payload or {},
    ).on_conflict_do_nothing(index_elements=["provider", "provider_event_id"]).returning(Event.id)
    # RETURNING, not rowcount: the ORM's insert path does not report rowcount on every driver.
    return session.execute(statement).first() is not None


def provider_events_at(session: Session, org: OrgId, provider: str, send_id: uuid.UUID | None, occurred_at: datetime) -> list[Event]:
    return list(session.scalars(select(Event).where(
        Event.organization_id == org, Event.provider == provider, Event.send_id == send_id, Event.occurred_at == occurred_at)))


def contact(session: Session, org: OrgId, contact_id: int) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.organization_id == org, Contact.id == contact_id))


def contact_ids_by_email(session: Session, org: OrgId, email_normalized: str) -> list[int]:
    return list(session.scalars(select(Contact.id).where(Contact.organization_id == org, Contact.email_normalized == email_normalized)))


def contact_ids_by_phone(session: Session, org: OrgId, phone: str) -> list[int]:
    return list(session.scalars(select(Contact.id).where(Contact.organization_id == org, Contact.phone == phone)))


def orgs_reaching_number(session: Session, phone: str) -> list[OrgId]:
    """Tenants that have texted this number or hold it on a contact: an SMS STOP applies to all of them
    (the carrier blocks the sender number for every tenant sharing it anyway)."""
    sent = select(Send.organization_id).where(Send.channel == Channel.sms, Send.address == phone)
    held = select(Contact.organization_id).where(Contact.phone == phone)
    return sorted({OrgId(o) for o in session.scalars(sent.union(held))})


def update_contacts(session: Session, org: OrgId, contact_ids: list[int], values: dict[str, Any], *,
                    only_if_active: bool = False) -> None:
    if not contact_ids:
        return
    statement = update(Contact).where(Contact.organization_id == org, Contact.id.in_(contact_ids)).values(**values)
    if only_if_active:
        statement = statement.where(Contact.status == ContactStatus.active)
    session.execute(statement)


def record_webhook_receipt(session: Session, *, provider: str, event_id: str, event_type: str, occurred_at: datetime,
                           payload: dict[str, Any]) -> int | None:
    """Insert-or-ignore on (provider, event_id): the receipt's id if new, None for a redelivery."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(WebhookReceipt).values(
        provider=provider, event_id=event_id[:128], event_type=event_type[:80], occurred_at=occurred_at,
        payload=payload, applied=False,
    ).on_conflict_do_nothing(index_elements=["provider", "event_id"]).returning(WebhookReceipt.id)
    return session.execute(statement).scalar()


def mark_receipt(session: Session, receipt_id: int, *, org: OrgId | None, applied: bool) -> None:
    session.execute(
        update(WebhookReceipt).where(WebhookReceipt.id == receipt_id).values(organization_id=org, applied=applied)
    )
