from __future__ import annotations

from sqlalchemy.orm import Session

from api.errors import Conflict, NotFound
from api.lists import repository
from api.lists.schemas import ListCreate, ListOut, ListUpdate, MemberOut, MembersAdd, MembersAdded
from api.pagination import PageParams, make_page
from beacon.schema.models import ContactList
from beacon.tenancy import OrgId


def _get(session: Session, org: OrgId, list_id: int) -> ContactList:
    row = repository.get(session, org, list_id)
    if row is None:
        raise NotFound(f"list {list_id} not found")
    return row


def _out(row: ContactList, count: int) -> ListOut:
    return ListOut(id=row.id, name=row.name, description=row.description, member_count=count, created_at=row.created_at)


def _check_name(session: Session, org: OrgId, name: str, own_id: int | None) -> None:
    other = repository.id_by_name(session, org, name)
    if other is not None and other != own_id:
        raise Conflict(f"a list named {name!r} exists (id {other})")


def list_lists(session: Session, org: OrgId, page: PageParams, q: str | None) -> dict:
    rows = repository.page(session, org, after_id=page.after_id, limit=page.limit, q=q)
    counts = repository.member_counts(session, org, [r.id for r in rows])
    return make_page(rows, page.limit, lambda r: _out(r, counts.get(r.id, 0)))


def get_list(session: Session, org: OrgId, list_id: int) -> ListOut:
    row = _get(session, org, list_id)
    return _out(row, repository.member_counts(session, org, [list_id]).get(list_id, 0))


def create_list(session: Session, org: OrgId, body: ListCreate) -> ListOut:
    _check_name(session, org, body.name, None)
    return _out(repository.create(session, org, body.name, body.description), 0)


def update_list(session: Session, org: OrgId, list_id: int, body: ListUpdate) -> ListOut:
    row = _get(session, org, list_id)
    values = body.model_dump(exclude_unset=True)
    if values.get("name"):
        _check_name(session, org, values["name"], list_id)
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    return get_list(session, org, list_id)


def delete_list(session: Session, org: OrgId, list_id: int) -> None:
    _get(session, org, list_id)
    repository.delete_list(session, org, list_id)


def add_members(session: Session, org: OrgId, list_id: int, body: MembersAdd) -> MembersAdded:
    _get(session, org, list_id)
    wanted = sorted(set(body.contact_ids))
    missing = sorted(set(wanted) - repository.existing_contact_ids(session, org, wanted))
    if missing:
        raise NotFound(f"contacts not found: {missing[:20]}")
    already = repository.member_ids(session, org, list_id, wanted)
    repository.add_members(session, org, list_id, [c for c in wanted if c not in already])
    return MembersAdded(added=len(wanted) - len(already), already_members=len(already))


def remove_member(session: Session, org: OrgId, list_id: int, contact_id: int) -> None:
    _get(session, org, list_id)
    if not repository.remove_member(session, org, list_id, contact_id):
        raise NotFound(f"contact {contact_id} is not on list {list_id}")


def list_members(session: Session, org: OrgId, list_id: int, page: PageParams) -> dict:
    _get(session, org, list_id)
    rows = repository.members_page(session, org, list_id, after_id=page.after_id, limit=page.limit)
    return make_page(rows, page.limit, lambda c: MemberOut(contact_id=c.id, email=c.email, first_name=c.first_name,
                                                           last_name=c.last_name, status=c.status.value))
