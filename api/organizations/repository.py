from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from beacon.schema.models import Organization, OrganizationType
from beacon.tenancy import OrgId


def get(session: Session, org: OrgId) -> Organization | None:
    return session.get(Organization, org)


def type_code(session: Session, org: OrgId) -> str:
    return session.scalar(
        select(OrganizationType.code).join(Organization, Organization.organization_type_id == OrganizationType.id)
        .where(Organization.id == org)
    )


def slug_taken(session: Session, slug: str) -> bool:
    return session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None
