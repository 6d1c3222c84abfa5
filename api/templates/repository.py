"""Templates: a tenant sees its own and the platform's (organization_id NULL); it can change only its own."""

from __future__ import annotations

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from beacon.schema.models import Channel, Template
from beacon.tenancy import OrgId


def _visible(org: OrgId):
    return or_(Template.organization_id == org, Template.organization_id.is_(None))


def get_visible(session: Session, org: OrgId, template_id: int) -> Template | None:
    return session.scalar(select(Template).where(_visible(org), Template.id == template_id))


def own_id_for(session: Session, org: OrgId, code: str, language: str, channel: Channel) -> int | None:
    return session.scalar(select(Template.id).where(
        Template.organization_id == org, Template.code == code, Template.language == language, Template.channel == channel))


def code_exists(session: Session, org: OrgId, code: str, channel: Channel) -> bool:
    return session.scalar(select(exists().where(_visible(org), Template.code == code, Template.channel == channel)))


def page(session: Session, org: OrgId, *, after_id: int | None, limit: int, code: str | None, language: str | None,
         channel: Channel | None, scope: str | None) -> list[Template]:
    query = select(Template).where(_visible(org))
    if scope == "own":
        query = query.where(Template.organization_id == org)
    elif scope == "platform":
        query = query.where(Template.organization_id.is_(None))
    if code:
        query = query.where(Template.code == code)
    if language:
        query = query.where(Template.language == language)
    if channel:
        query = query.where(Template.channel == channel)
    if after_id is not None:
        query = query.where(Template.id > after_id)
    return list(session.scalars(query.order_by(Template.id).limit(limit + 1)))


def create(session: Session, org: OrgId, **values) -> Template:
    row = Template(organization_id=org, **values)
    session.add(row)
    session.flush()
    return row



def delete_own(session: Session, org: OrgId, template_id: int) -> None:
    session.execute(delete(Template).where(Template.organization_id == org, Template.id == template_id))
