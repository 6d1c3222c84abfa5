"""The organization itself, and bootstrapping a new one with its first admin and API key."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from api.api_keys import repository as keys_repo
from api.errors import Conflict, NotFound, Unprocessable
from api.organizations import repository
from api.organizations.schemas import OrganizationOut, OrganizationUpdate
from api.users import repository as users_repo
from beacon.schema.models import Role
from beacon.store.organizations import UnknownOrganizationType, create_organization
from beacon.tenancy import OrgId


@dataclass(frozen=True)
class Bootstrapped:
    org: OrgId
    user_id: int
    api_key: str  # shown once: only its hash is stored


def bootstrap_organization(
    session: Session,
    *,
    type_code: str,
    name: str,
    slug: str,
    admin_email: str,
    admin_password: str,
    admin_name: str | None = None,
    timezone: str = "UTC",
    currency: str = "USD",
    postal_address: str | None = None,
) -> Bootstrapped:
    """Create an organization (its contact types seeded from its type), an admin user and an admin key.

    The caller owns the transaction (commit after). The plain key is returned once, never stored.
    """
    if repository.slug_taken(session, slug):
        raise Conflict(f"organization slug {slug!r} is taken")
    try:
        org, _ = create_organization(session, type_code=type_code, name=name, slug=slug, timezone=timezone,
                                     currency=currency, postal_address=postal_address)
    except UnknownOrganizationType as exc:
        raise Unprocessable(str(exc)) from None
    user = users_repo.get_or_create_user(session, admin_email, admin_name, admin_password)
    users_repo.add_membership(session, org, user.id, Role.admin)
    key = keys_repo.create(session, org, name="bootstrap admin key", role=Role.admin)
    return Bootstrapped(org=org, user_id=user.id, api_key=key)


def to_out(session: Session, org: OrgId) -> OrganizationOut:
    row = repository.get(session, org)
    if row is None:
        raise NotFound("organization not found")
    return OrganizationOut(
        id=row.id, name=row.name, slug=row.slug, type=repository.type_code(session, org), domain=row.domain,
        timezone=row.timezone, currency=row.currency, postal_address=row.postal_address,
        branding=row.branding or {}, settings=row.settings or {}, created_at=row.created_at,
    )


def update(session: Session, org: OrgId, changes: OrganizationUpdate) -> OrganizationOut:
    row = repository.get(session, org)
    values = changes.model_dump(exclude_unset=True)
    if values.get("timezone"):
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise Unprocessable(f"timezone: unknown time zone {values['timezone']!r}") from None
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    return to_out(session, org)
