"""Users and their memberships. Nobody grants or changes a role above their own."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.deps import ROLE_RANK, Principal
from api.errors import Conflict, Forbidden, NotFound
from api.pagination import PageParams, make_page
from api.users import repository
from api.users.schemas import UserCreate, UserOut, UserUpdate
from beacon.schema.models import Membership, Role, User
from beacon.tenancy import OrgId


def _out(user: User, membership: Membership) -> UserOut:
    return UserOut(id=user.id, email=user.email, full_name=user.full_name, role=membership.role,
                   is_active=user.is_active, member_since=membership.created_at)


def _check_can_grant(principal: Principal, role: Role) -> None:
    if ROLE_RANK[role] > ROLE_RANK[principal.role]:
        raise Forbidden(f"a {principal.role.value} cannot grant the {role.value} role")


def _member(session: Session, org: OrgId, user_id: int) -> tuple[User, Membership]:
    found = repository.member(session, org, user_id)
    if found is None:
        raise NotFound(f"user {user_id} not found")
    return found


def list_users(session: Session, org: OrgId, page: PageParams, role: Role | None) -> dict:
    rows = repository.members_page(session, org, after_id=page.after_id, limit=page.limit, role=role)
    return make_page(rows, page.limit, lambda r: _out(*r), key=lambda r: r[0].id)


def get_user(session: Session, org: OrgId, user_id: int) -> UserOut:
    return _out(*_member(session, org, user_id))


def add_user(session: Session, principal: Principal, body: UserCreate) -> UserOut:
    _check_can_grant(principal, body.role)
    user = repository.get_or_create_user(session, body.email, body.full_name, body.password)
    if repository.member(session, principal.org, user.id) is not None:
        raise Conflict(f"{body.email} is already a member")
    membership = repository.add_membership(session, principal.org, user.id, body.role)
    return _out(user, membership)


def _check_not_last_admin(session: Session, org: OrgId, membership: Membership) -> None:
    if membership.role == Role.admin and repository.count_admins(session, org) <= 1:
        raise Conflict("the organization's last admin cannot be demoted or removed")


def change_role(session: Session, principal: Principal, user_id: int, body: UserUpdate) -> UserOut:
    user, membership = _member(session, principal.org, user_id)
    _check_can_grant(principal, body.role)
    _check_can_grant(principal, membership.role)
    if body.role != Role.admin:
        _check_not_last_admin(session, principal.org, membership)
    membership.role = body.role
    session.flush()
    return _out(user, membership)


def remove_user(session: Session, principal: Principal, user_id: int) -> None:
    _, membership = _member(session, principal.org, user_id)
    _check_can_grant(principal, membership.role)
    _check_not_last_admin(session, principal.org, membership)
    repository.delete_membership(session, membership)
