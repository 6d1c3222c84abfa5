"""Credential lookups. The only unscoped reads in the API: they establish which tenant is calling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from beacon.schema.models import ApiKey, Membership, Organization, User


def find_api_key(session: Session, prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def touch_api_key(session: Session, key_id: int, when: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))


def active_membership_role(session: Session, user_id: int, org_id: int) -> str | None:
    return session.scalar(
        select(Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(Membership.user_id == user_id, Membership.organization_id == org_id, User.is_active.is_(True))
    )


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def memberships_of(session: Session, user_id: int) -> list[tuple[int, str]]:
    """(organization_id, slug) for every organization the user belongs to."""
    rows = session.execute(
        select(Organization.id, Organization.slug)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.id)
    )
    return [(r[0], r[1]) for r in rows]


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
