from __future__ import annotations

from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from api.contacts import repository
from api.contacts.schemas import ContactCreate, ContactExport, ContactOut, ContactUpdate, EventRecord, SendRecord, SuppressionRecord
from api.errors import Conflict, NotFound, Unprocessable
from api.pagination import Page, PageParams, make_page
from beacon.schema.models import Contact, ContactStatus
from beacon.store.contacts import normalise_email
from beacon.tenancy import OrgId


def _out(contact: Contact, type_codes: dict[int, str]) -> ContactOut:
    data = {c: getattr(contact, c) for c in ContactOut.model_fields if c != "contact_type"}
    return ContactOut(**data, contact_type=type_codes.get(contact.contact_type_id) if contact.contact_type_id else None)


def _get(session: Session, org: OrgId, contact_id: int) -> Contact:
    contact = repository.get(session, org, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact


def _type_id(session: Session, org: OrgId, code: str) -> int:
    type_id = repository.contact_type_id(session, org, code)
    if type_id is None:
        known = ", ".join(repository.contact_type_codes(session, org).values())
        raise Unprocessable(f"contact_type: unknown contact type {code!r} (this organization has: {known})")
    return type_id


def _check_identity(session: Session, org: OrgId, email_normalized: str | None, external_id: str | None, own_id: int | None) -> None:
    if email_normalized:
        other = repository.id_by_email(session, org, email_normalized)
        if other is not None and other != own_id:
            raise Conflict(f"contact {other} already has the email {email_normalized}")
    if external_id:
        other = repository.id_by_external_id(session, org, external_id)
        if other is not None and other != own_id:
            raise Conflict(f"contact {other} already has the external_id {external_id!r}")


CONTACT_PAGE = TypeAdapter(Page[ContactOut])


def list_contacts(session: Session, org: OrgId, page: PageParams, *, status: ContactStatus | None,
                  contact_type: str | None, tag: str | None, q: str | None) -> Page[ContactOut]:
    """One page, validated once straight from the rows (the endpoint sends it as JSON as it is)."""
    type_id = _type_id(session, org, contact_type) if contact_type else None
    rows = repository.page(session, org, after_id=page.after_id, limit=page.limit, status=status,
                           contact_type_id=type_id, tag=tag, q=q)
    return CONTACT_PAGE.validate_python(make_page(rows, page.limit, lambda row: row), from_attributes=True)


def get_contact(session: Session, org: OrgId, contact_id: int) -> ContactOut:
    return _out(_get(session, org, contact_id), repository.contact_type_codes(session, org))


def create_contact(session: Session, org: OrgId, body: ContactCreate) -> ContactOut:
    values = body.model_dump(exclude_none=True)
    if not values.get("email") and not values.get("phone") and not values.get("external_id"):
        raise Unprocessable("a contact needs at least one of email, phone or external_id")
    if "contact_type" in values:
        values["contact_type_id"] = _type_id(session, org, values.pop("contact_type"))
    _check_identity(session, org, normalise_email(values.get("email"))[1], values.get("external_id"), None)
    contact_id = repository.insert(session, org, values)
    return get_contact(session, org, contact_id)


def update_contact(session: Session, org: OrgId, contact_id: int, body: ContactUpdate) -> ContactOut:
    contact = _get(session, org, contact_id)
    if contact.erased_at is not None:
        raise Conflict(f"contact {contact_id} was erased; create a new contact instead")
    values = body.model_dump(exclude_unset=True)
    if "contact_type" in values:
        code = values.pop("contact_type")
        values["contact_type_id"] = _type_id(session, org, code) if code else None
    if "email" in values:
        values["email"], values["email_normalized"] = normalise_email(values["email"])
    _check_identity(session, org, values.get("email_normalized"), values.get("external_id"), contact_id)
    for key, value in values.items():
        setattr(contact, key, value)
    contact.updated_at = datetime.now(UTC)
    session.flush()
    return get_contact(session, org, contact_id)


def delete_contact(session: Session, org: OrgId, contact_id: int) -> None:
    _get(session, org, contact_id)
    repository.delete_contact(session, org, contact_id)


def export_contact(session: Session, org: OrgId, contact_id: int) -> ContactExport:
    contact = _get(session, org, contact_id)
    sends = repository.sends(session, org, contact_id)
    addresses = {a for a in [contact.email_normalized, contact.phone] if a} | {s.address.lower() for s in sends if s.address}
    return ContactExport(
        contact=_out(contact, repository.contact_type_codes(session, org)),
        list_memberships=repository.list_memberships(session, org, contact_id),
        sends=[SendRecord.model_validate(s) for s in sends],
        events=[EventRecord.model_validate(e) for e in repository.events(session, org, contact_id)],
        suppressions=[SuppressionRecord.model_validate(s) for s in repository.suppressions_for(session, org, sorted(addresses))],
        exported_at=datetime.now(UTC),
    )


def erase_contact(session: Session, org: OrgId, contact_id: int) -> ContactOut:
    """GDPR erasure. Suppressions are kept on purpose: they are what stops Beacon from mailing
    the person again if the address comes back in an import (see docs/api.md)."""
    contact = _get(session, org, contact_id)
    if contact.erased_at is None:
        repository.scrub_personal_data(session, org, contact_id, datetime.now(UTC))
        session.expire(contact)
    return get_contact(session, org, contact_id)


def import_file(session: Session, org: OrgId, data: bytes, filename: str, warehouse_url: str) -> dict:
    """The same importer the Dagster asset and ``beacon import-contacts`` use; bad rows go to quarantine."""
    from ingestion.contact_import import import_contacts

    report = import_contacts(data, filename, org=org, session=session, warehouse_url=warehouse_url).as_dict()
    if report["status"] != "imported":
        raise Unprocessable(f"file: rejected ({report['reason']})", details=[{"loc": "file", "message": str(report["reason"])}])
    return report
