from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.security import hash_password
from beacon.schema.models import Membership, Role, User
from beacon.tenancy import OrgId


def get_or_create_user(session: Session, email: str, full_name: str | None, password: str | None) -> User:
    """A user is global (one login for several organizations); an existing user keeps their password."""
    normalized = email.strip().lower()
    user = session.scalar(select(User).where(User.email == normalized))
    if user is None:
        user = User(email=normalized, full_name=full_name, password_hash=hash_password(password) if password else None)
        session.add(user)
        session.flush()
    return user


def add_membership(session: Session, org: OrgId, user_id: int, role: Role) -> Membership:
    membership = Membership(organization_id=org, user_id=user_id, role=role)
    session.add(membership)
    session.flush()
    return membership


def member(session: Session, org: OrgId, user_id: int) -> tuple[User, Membership] | None:
    row = session.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org, User.id == user_id)
    ).first()
    return (row[0], row[1]) if row else None


def members_page(session: Session, org: OrgId, *, after_id: int | None, limit: int, role: Role | None) -> list[tuple[User, Membership]]:
    query = select(User, Membership).join(Membership, Membership.user_id == User.id).where(Membership.organization_id == org)
    if role is not None:
        query = query.where(Membership.role == role)
    if after_id is not None:
        query = query.where(User.id > after_id)
    return [(r[0], r[1]) for r in session.execute(query.order_by(User.id).limit(limit + 1))]


def count_admins(session: Session, org: OrgId) -> int:
    return session.scalar(
        select(func.count()).select_from(Membership).where(Membership.organization_id == org, Membership.role == Role.admin)
    ) or 0


def delete_membership(session: Session, membership: Membership) -> None:
    session.delete(membership)
    session.flush()
