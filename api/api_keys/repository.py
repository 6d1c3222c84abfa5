from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.security import new_api_key
from beacon.schema.models import ApiKey, Role
from beacon.tenancy import OrgId


def create(session: Session, org: OrgId, *, name: str, role: Role) -> str:
    """Store a new key's hash; return the plain key (the only time it exists)."""
    new = new_api_key()
    session.add(ApiKey(organization_id=org, name=name, prefix=new.prefix, key_hash=new.key_hash, role=role))
    session.flush()
    return new.key


def get(session: Session, org: OrgId, key_id: int) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.organization_id == org, ApiKey.id == key_id))


def get_by_prefix(session: Session, org: OrgId, prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.organization_id == org, ApiKey.prefix == prefix))


def page(session: Session, org: OrgId, *, after_id: int | None, limit: int, include_revoked: bool) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.organization_id == org)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    if after_id is not None:
        query = query.where(ApiKey.id > after_id)
    return list(session.scalars(query.order_by(ApiKey.id).limit(limit + 1)))


def revoke(row: ApiKey, when: datetime) -> None:
    if row.revoked_at is None:
        row.revoked_at = when
