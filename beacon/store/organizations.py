"""Creating organizations: the tenant row plus its contact types, copied from its type's templates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from beacon.schema.models import ContactType, ContactTypeTemplate, Organization, OrganizationType
from beacon.tenancy import OrgId


class UnknownOrganizationType(ValueError):
    pass


def create_organization(
    session: Session,
    *,
    type_code: str,
    name: str,
    slug: str,
    timezone: str = "UTC",
    currency: str = "USD",
    domain: str | None = None,
    postal_address: str | None = None,
    settings: dict | None = None,
    branding: dict | None = None,
) -> tuple[OrgId, Organization]:
    org_type = session.scalar(select(OrganizationType).where(OrganizationType.code == type_code))
    if org_type is None:
        raise UnknownOrganizationType(f"unknown organization type {type_code!r}")
    organization = Organization(
        organization_type_id=org_type.id,
        name=name,
        slug=slug,
        timezone=timezone,
        currency=currency,
        domain=domain,
        postal_address=postal_address,
        settings=settings or {},
        branding=branding or {},
    )
    session.add(organization)
    session.flush()
    templates = session.scalars(
        select(ContactTypeTemplate)
        .where(ContactTypeTemplate.organization_type_id == org_type.id)
        .order_by(ContactTypeTemplate.position)
    )
    session.add_all(
        ContactType(organization_id=organization.id, code=t.code, name=t.name, position=t.position)
        for t in templates
    )
    session.flush()
    return OrgId(organization.id), organization


def contact_type_ids(session: Session, org: OrgId) -> dict[str, int]:
    """The organization's contact types by code."""
    rows = session.execute(
        select(ContactType.code, ContactType.id)
        .where(ContactType.organization_id == org)
        .order_by(ContactType.position)
    )
    return {code: id_ for code, id_ in rows}
