from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from beacon.schema.models import Contact, ContactList, ListMember
from beacon.tenancy import OrgId


def get(session: Session, org: OrgId, list_id: int) -> ContactList | None:
    return session.scalar(select(ContactList).where(ContactList.organization_id == org, ContactList.id == list_id))


def id_by_name(session: Session, org: OrgId, name: str) -> int | None:
    return session.scalar(select(ContactList.id).where(ContactList.organization_id == org, ContactList.name == name))


def page(session: Session, org: OrgId, *, after_id: int | None, limit: int, q: str | None) -> list[ContactList]:
    query = select(ContactList).where(ContactList.organization_id == org)
    if q:
        query = query.where(func.lower(ContactList.name).contains(q.lower(), autoescape=True))
    if after_id is not None:
        query = query.where(ContactList.id > after_id)
    return list(session.scalars(query.order_by(ContactList.id).limit(limit + 1)))


def member_counts(session: Session, org: OrgId, list_ids: list[int]) -> dict[int, int]:
    if not list_ids:
        return {}
    rows = session.execute(
        select(ListMember.list_id, func.count()).where(ListMember.organization_id == org, ListMember.list_id.in_(list_ids))
        .group_by(ListMember.list_id)
    )
    return dict(rows.all())


def create(session: Session, org: OrgId, name: str, description: str | None) -> ContactList:
    row = ContactList(organization_id=org, name=name, description=description)
    session.add(row)
    session.flush()
    return row


def delete_list(session: Session, org: OrgId, list_id: int) -> None:
    session.execute(delete(ContactList).where(ContactList.organization_id == org, ContactList.id == list_id))


def existing_contact_ids(session: Session, org: OrgId, contact_ids: list[int]) -> set[int]:
    return set(session.scalars(select(Contact.id).where(Contact.organization_id == org, Contact.id.in_(contact_ids))))


def member_ids(session: Session, org: OrgId, list_id: int, contact_ids: list[int]) -> set[int]:
    return set(session.scalars(select(ListMember.contact_id).where(
        ListMember.organization_id == org, ListMember.list_id == list_id, ListMember.contact_id.in_(contact_ids))))


def add_members(session: Session, org: OrgId, list_id: int, contact_ids: list[int]) -> None:
    session.add_all(ListMember(organization_id=org, list_id=list_id, contact_id=c) for c in contact_ids)
    session.flush()


def remove_member(session: Session, org: OrgId, list_id: int, contact_id: int) -> int:
    result = session.execute(delete(ListMember).where(
        ListMember.organization_id == org, ListMember.list_id == list_id, ListMember.contact_id == contact_id))
    return result.rowcount


def members_page(session: Session, org: OrgId, list_id: int, *, after_id: int | None, limit: int) -> list[Contact]:
    query = (select(Contact).join(ListMember, ListMember.contact_id == Contact.id)
             .where(ListMember.organization_id == org, Contact.organization_id == org, ListMember.list_id == list_id))
    if after_id is not None:
        query = query.where(Contact.id > after_id)
    return list(session.scalars(query.order_by(Contact.id).limit(limit + 1)))
