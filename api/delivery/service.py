"""What a delivery signal means for the tenant's data: an event row, and for opt-outs, bounces and
complaints a suppression plus the contact's status and consent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from api.delivery import repository
from api.suppressions import repository as suppressions
from beacon.schema.models import Channel, ContactStatus, SuppressionReason
from beacon.tenancy import OrgId


@dataclass(frozen=True)
class Delivery:
    """A message located in the ledger: which tenant, contact and address it went to."""

    org: OrgId
    send_id: uuid.UUID | None
    contact_id: int | None
    channel: Channel | None
    address: str | None


def locate(session: Session, send_id: uuid.UUID | str | None) -> Delivery | None:
    try:
        parsed = uuid.UUID(str(send_id)) if send_id else None
    except ValueError:
        return None
    send = repository.find_send(session, parsed) if parsed else None
    if send is None:
        return None
    return Delivery(OrgId(send.organization_id), send.send_id, send.contact_id, send.channel, send.address)


STATUS_FOR = {
    SuppressionReason.unsubscribed: ContactStatus.unsubscribed,
    SuppressionReason.hard_bounce: ContactStatus.bounced,
    SuppressionReason.dropped: ContactStatus.bounced,
    SuppressionReason.complaint: ContactStatus.complained,
}


def opt_out(session: Session, org: OrgId, *, channel: Channel, address: str | None, contact_ids: list[int],
            reason: SuppressionReason, source: str) -> None:
    """Suppress the address and update the contacts: status (only from active, so an erased or
    blocked contact stays so) and the channel's consent."""
    if address:
        suppressions.add(session, org, channel, address.strip().lower() if channel is Channel.email else address, reason, source)
    consent = {"consent_email": False} if channel is Channel.email else {"consent_sms": False}
    now = datetime.now(UTC)
    repository.update_contacts(session, org, contact_ids, {**consent, "updated_at": now})
    if channel is Channel.email and reason in STATUS_FOR:
        repository.update_contacts(session, org, contact_ids, {"status": STATUS_FOR[reason]}, only_if_active=True)


def sms_opt_in(session: Session, org: OrgId, phone: str, contact_ids: list[int]) -> None:
    """START / UNSTOP: lift the SMS STOP suppression and restore SMS consent."""
    suppressions.remove_address(session, org, Channel.sms, phone, {SuppressionReason.sms_stop})
    repository.update_contacts(session, org, contact_ids, {"consent_sms": True, "updated_at": datetime.now(UTC)})
