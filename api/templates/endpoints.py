from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response, status

from api.deps import Marketer, SessionDep, SettingsDep, Viewer
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params
from api.templates import service
from api.templates.schemas import PreviewOut, PreviewRequest, TemplateCreate, TemplateOut, TemplateUpdate
from beacon.schema.models import Channel

router = APIRouter(prefix="/templates", tags=["templates"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[TemplateOut], summary="The organization's templates and the platform's")
def list_templates(principal: Viewer, session: SessionDep, page: PageDep, code: str | None = None,
                   language: str | None = None, channel: Channel | None = None,
                   scope: Literal["own", "platform"] | None = None):
    return service.list_templates(session, principal.org, page, code=code, language=language, channel=channel, scope=scope)


@router.post("", response_model=TemplateOut, status_code=status.HTTP_201_CREATED,
             summary="Create a template (same code as a platform template overrides it)")
def create_template(body: TemplateCreate, principal: Marketer, session: SessionDep) -> TemplateOut:
    return service.create_template(session, principal.org, body)


@router.get("/{template_id}", response_model=TemplateOut)
def get_template(template_id: int, principal: Viewer, session: SessionDep) -> TemplateOut:
    return service.get_template(session, principal.org, template_id)


@router.patch("/{template_id}", response_model=TemplateOut)
def update_template(template_id: int, body: TemplateUpdate, principal: Marketer, session: SessionDep) -> TemplateOut:
    return service.update_template(session, principal.org, template_id, body)


@router.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_template(template_id: int, principal: Marketer, session: SessionDep) -> Response:
    service.delete_template(session, principal.org, template_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{template_id}/preview", response_model=PreviewOut,
             summary="Render a template with sample data (the same renderer activation uses)")
def preview_template(template_id: int, body: PreviewRequest, principal: Viewer, session: SessionDep,
                     settings: SettingsDep) -> PreviewOut:
    return PreviewOut(**service.preview(session, principal.org, template_id, body.variables, body.contact,
                                        settings.public_base_url))
