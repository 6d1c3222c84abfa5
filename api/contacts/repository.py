from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import and_, cast, delete, literal, literal_column, or_, select, text, update
from sqlalchemy.orm import Session

from beacon.schema.models import Contact, ContactStatus, ContactType, Event, ListMember, Send, Suppression
from beacon.store.contacts import SEARCH_NAME, insert_contacts
from beacon.tenancy import OrgId


def get(session: Session, org: OrgId, contact_id: int) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.organization_id == org, Contact.id == contact_id))


def id_by_email(session: Session, org: OrgId, email_normalized: str) -> int | None:
    return session.scalar(select(Contact.id).where(Contact.organization_id == org, Contact.email_normalized == email_normalized))


def id_by_external_id(session: Session, org: OrgId, external_id: str) -> int | None:
    return session.scalar(select(Contact.id).where(Contact.organization_id == org, Contact.external_id == external_id))


def contact_type_id(session: Session, org: OrgId, code: str) -> int | None:
    return session.scalar(select(ContactType.id).where(ContactType.organization_id == org, ContactType.code == code))


def contact_type_codes(session: Session, org: OrgId) -> dict[int, str]:
    return dict(session.execute(select(ContactType.id, ContactType.code).where(ContactType.organization_id == org)).all())


def insert(session: Session, org: OrgId, values: dict) -> int:
    # The one contact-writing path shared with file imports and the generator.
    return insert_contacts(session, org, [values])[0]


def _has_tag(session: Session, tag: str):
    # JSON arrays are queried differently on each back end; both forms are index-friendly enough
    # for per-tenant lists (PostgreSQL can add a GIN index on tags).
    if session.get_bind().dialect.name == "postgresql":
        return Contact.tags.op("@>")(cast(literal(json.dumps([tag])), Contact.tags.type))
    return text("EXISTS (SELECT 1 FROM json_each(contacts.tags) WHERE json_each.value = :tag)").bindparams(tag=tag)


# Spelled with inline constants, exactly as the trigram index of migration 0008 is, so PostgreSQL uses it.
_FULL_NAME = literal_column(f"lower({SEARCH_NAME})")


def _matches(session: Session, q: str):
    """``q`` is a substring of the normalised email or of "first last" (case-insensitive)."""
    pattern = "%" + like_escape(q.lower()) + "%"
    like = or_(Contact.email_normalized.like(pattern, escape="\\"), _FULL_NAME.like(pattern, escape="\\"))
    if session.get_bind().dialect.name != "sqlite" or len(q) < 3:  # FTS5 trigrams need 3 characters
        return like
    # SQLite: the FTS5 trigram table (migration 0008) finds the candidates; the LIKE keeps results exact.
    phrase = '"' + q.replace('"', '""') + '"'
    candidates = text("SELECT rowid FROM contacts_search WHERE contacts_search MATCH :phrase").bindparams(phrase=phrase)
    return and_(Contact.id.in_(candidates), like)


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# The list's columns (``ContactOut``'s) as plain rows, the contact type's code joined in: measured
# (bench/bench_contacts_list.py, py-spy), loading ORM ``Contact`` objects and looking the codes up in
# a second query cost more than the page query itself.
_OUT_COLUMNS = [Contact.id, Contact.external_id, Contact.email, Contact.phone, Contact.first_name, Contact.last_name,
                Contact.birth_date, Contact.city, Contact.region, Contact.country, Contact.timezone, Contact.language,
                ContactType.code.label("contact_type"), Contact.status, Contact.tags, Contact.custom_fields,
                Contact.consent_email, Contact.consent_sms, Contact.consent_transactional, Contact.consent_promotional,
                Contact.consent_newsletter, Contact.source, Contact.erased_at, Contact.created_at, Contact.updated_at]


def page(session: Session, org: OrgId, *, after_id: int | None, limit: int, status: ContactStatus | None,
         contact_type_id: int | None, tag: str | None, q: str | None) -> list:
    """Up to ``limit + 1`` rows with ``ContactOut``'s fields, in id order after ``after_id``."""
    query = select(*_OUT_COLUMNS).outerjoin(
        ContactType, (ContactType.id == Contact.contact_type_id) & (ContactType.organization_id == org)
    ).where(Contact.organization_id == org)
    if status is not None:
        query = query.where(Contact.status == status)
    if contact_type_id is not None:
        query = query.where(Contact.contact_type_id == contact_type_id)
    if tag is not None:
        query = query.where(_has_tag(session, tag))
    if q:
        query = query.where(_matches(session, q))
    if after_id is not None:
        query = query.where(Contact.id > after_id)
    return list(session.execute(query.order_by(Contact.id).limit(limit + 1)))


def delete_contact(session: Session, org: OrgId, contact_id: int) -> None:
    session.execute(delete(Contact).where(Contact.organization_id == org, Contact.id == contact_id))


# ----------------------------------------------------------------------------- GDPR


def list_memberships(session: Session, org: OrgId, contact_id: int) -> list[dict]:
    rows = session.execute(
        select(ListMember.list_id, ListMember.added_at).where(ListMember.organization_id == org, ListMember.contact_id == contact_id)
    )
    return [{"list_id": r.list_id, "added_at": r.added_at} for r in rows]


def sends(session: Session, org: OrgId, contact_id: int) -> list[Send]:
    return list(session.scalars(select(Send).where(Send.organization_id == org, Send.contact_id == contact_id).order_by(Send.created_at)))


def events(session: Session, org: OrgId, contact_id: int) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.organization_id == org, Event.contact_id == contact_id).order_by(Event.id)))


def suppressions_for(session: Session, org: OrgId, addresses: list[str]) -> list[Suppression]:
    if not addresses:
        return []
    return list(session.scalars(select(Suppression).where(Suppression.organization_id == org, Suppression.address.in_(addresses))))


def scrub_personal_data(session: Session, org: OrgId, contact_id: int, when: datetime) -> None:
    """Erase: identity and profile fields nulled, the ledger's copies of the address and event payloads
    (IP, user agent, email) cleared. Counts and timestamps stay, so aggregates still add up."""
    session.execute(
        update(Contact).where(Contact.organization_id == org, Contact.id == contact_id).values(
            external_id=None, email=None, email_normalized=None, phone=None, first_name=None, last_name=None,
            birth_date=None, gender=None, city=None, region=None, country=None, timezone=None,
            tags=[], custom_fields={}, consent_email=False, consent_sms=False, consent_promotional=False,
            consent_newsletter=False, status=ContactStatus.blocked, erased_at=when, updated_at=when,
        )
    )
    session.execute(update(Send).where(Send.organization_id == org, Send.contact_id == contact_id).values(address=None))
    session.execute(update(Event).where(Event.organization_id == org, Event.contact_id == contact_id).values(payload={}))
    session.execute(delete(ListMember).where(ListMember.organization_id == org, ListMember.contact_id == contact_id))



