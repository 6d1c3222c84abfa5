from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from api.contacts.schemas import _e164
from api.errors import Conflict, NotFound, Unprocessable
from api.pagination import PageParams, make_page
from api.suppressions import repository
from api.suppressions.schemas import SuppressionCreate, SuppressionOut
from beacon.schema.models import Channel, SuppressionReason
from beacon.tenancy import OrgId


def normalise_address(channel: Channel, address: str) -> str:
    """Suppressions match on lower-cased emails and E.164 numbers."""
    try:
        if channel is Channel.email:
            validate_email(address.strip(), check_deliverability=False)
            return address.strip().lower()
        return _e164(address) or ""
    except (EmailNotValidError, ValueError) as exc:
        raise Unprocessable(f"address: {exc}") from None


def list_suppressions(session: Session, org: OrgId, page: PageParams, channel: Channel | None,
                      reason: SuppressionReason | None, q: str | None) -> dict:
    rows = repository.page(session, org, after_id=page.after_id, limit=page.limit, channel=channel, reason=reason, q=q)
    return make_page(rows, page.limit, SuppressionOut.model_validate)


def add(session: Session, org: OrgId, body: SuppressionCreate) -> tuple[SuppressionOut, bool]:
    address = normalise_address(body.channel, body.address)
    created = repository.add(session, org, body.channel, address, body.reason, "api")
    return SuppressionOut.model_validate(repository.find(session, org, body.channel, address)), created


# Only the person can take back an unsubscribe, a complaint or an SMS STOP (through the preferences
# page or by texting START); an operator lifting one would break consent law (CAN-SPAM, GDPR, TCPA).
PERSON_ONLY = {SuppressionReason.unsubscribed, SuppressionReason.complaint, SuppressionReason.sms_stop}


def remove(session: Session, org: OrgId, suppression_id: int) -> None:
    row = repository.get(session, org, suppression_id)
    if row is None:
        raise NotFound(f"suppression {suppression_id} not found")
    if row.reason in PERSON_ONLY:
        raise Conflict(f"suppression {suppression_id} ({row.reason.value}) can only be lifted by the person")
    repository.remove(session, org, suppression_id)
