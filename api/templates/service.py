from __future__ import annotations

from sqlalchemy.orm import Session

from api.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.pagination import PageParams, make_page
from api.templates import repository
from api.templates.schemas import TemplateCreate, TemplateOut, TemplateUpdate
from beacon.schema.models import Channel, Template
from beacon.tenancy import OrgId


def _out(row: Template) -> TemplateOut:
    data = {k: getattr(row, k) for k in TemplateOut.model_fields if k != "is_platform"}
    return TemplateOut(**data, is_platform=row.organization_id is None)


def get_visible(session: Session, org: OrgId, template_id: int) -> Template:
    row = repository.get_visible(session, org, template_id)
    if row is None:
        raise NotFound(f"template {template_id} not found")
    return row


def _get_own(session: Session, org: OrgId, template_id: int) -> Template:
    row = get_visible(session, org, template_id)
    if row.organization_id is None:
        raise Forbidden(f"template {template_id} is a platform template (read-only); create an override with code {row.code!r}")
    return row


def list_templates(session: Session, org: OrgId, page: PageParams, **filters) -> dict:
    rows = repository.page(session, org, after_id=page.after_id, limit=page.limit, **filters)
    return make_page(rows, page.limit, _out)


def get_template(session: Session, org: OrgId, template_id: int) -> TemplateOut:
    return _out(get_visible(session, org, template_id))


def create_template(session: Session, org: OrgId, body: TemplateCreate) -> TemplateOut:
    existing = repository.own_id_for(session, org, body.code, body.language, body.channel)
    if existing is not None:
        raise Conflict(f"template {body.code!r} ({body.language}, {body.channel.value}) exists (id {existing}); update it instead")
    check_syntax(body.code, body.subject, body.html_body, body.text_body)
    return _out(repository.create(session, org, **body.model_dump()))


def update_template(session: Session, org: OrgId, template_id: int, body: TemplateUpdate) -> TemplateOut:
    row = _get_own(session, org, template_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(row, key, value)
    check_syntax(row.code, row.subject, row.html_body, row.text_body)
    session.flush()
    return _out(row)


def delete_template(session: Session, org: OrgId, template_id: int) -> None:
    _get_own(session, org, template_id)
    # Campaigns name templates by code; deleting an override falls back to the platform template.
    repository.delete_own(session, org, template_id)


def template_exists(session: Session, org: OrgId, code: str, channel: Channel) -> bool:
    return repository.code_exists(session, org, code, channel)


# Preview and syntax checks call the renderer activation uses, so a preview is what a contact gets.
PREVIEW_LINKS = {"unsubscribe_url": "{base}/u/preview", "preferences_url": "{base}/preferences/preview",
                 "tracking_pixel_url": "{base}/t/o/preview.gif", "view_url": "{base}/view/preview", "send_id": "preview"}


def check_syntax(code: str, subject: str | None, html_body: str | None, text_body: str) -> None:
    from beacon import render

    try:
        render.default_renderer().compile(render.TemplateSource(code=code, subject=subject, html_body=html_body, text_body=text_body))
    except render.TemplateProblem as exc:
        raise Unprocessable(str(exc)) from None


def preview(session: Session, org: OrgId, template_id: int, variables: dict, contact: dict, base_url: str) -> dict:
    from beacon import render

    from api.organizations import repository as organizations

    row = get_visible(session, org, template_id)
    links = {k: v.format(base=base_url.rstrip("/")) for k, v in PREVIEW_LINKS.items()}
    try:
        message = render.render(row, contact=contact, organization=organizations.get(session, org),
                                context={**links, **variables})
    except render.TemplateProblem as exc:
        raise Unprocessable(str(exc)) from None
    return {"subject": message.subject, "html": message.html, "text": message.text}
