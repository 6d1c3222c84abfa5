from __future__ import annotations

from fastapi import APIRouter

from api.deps import Admin, SessionDep, Viewer
from api.errors import ERROR_RESPONSES
from api.organizations import service
from api.organizations.schemas import OrganizationOut, OrganizationUpdate

router = APIRouter(prefix="/organization", tags=["organization"], responses=ERROR_RESPONSES)


@router.get("", response_model=OrganizationOut, summary="The caller's organization")
def read_organization(principal: Viewer, session: SessionDep) -> OrganizationOut:
    return service.to_out(session, principal.org)


@router.patch("", response_model=OrganizationOut, summary="Update the organization (admin)")
def update_organization(body: OrganizationUpdate, principal: Admin, session: SessionDep) -> OrganizationOut:
    return service.update(session, principal.org, body)
