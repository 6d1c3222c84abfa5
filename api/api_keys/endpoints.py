from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from api.api_keys import service
from api.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from api.deps import Admin, SessionDep
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/api-keys", tags=["api keys"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[ApiKeyOut], summary="List API keys (admin)")
def list_api_keys(principal: Admin, session: SessionDep, page: PageDep, include_revoked: bool = False):
    return service.list_keys(session, principal.org, page, include_revoked)


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED,
             summary="Create an API key (admin); the key is in this response only")
def create_api_key(body: ApiKeyCreate, principal: Admin, session: SessionDep) -> ApiKeyCreated:
    return service.create(session, principal.org, body)


@router.delete("/{api_key_id}", response_model=ApiKeyOut, summary="Revoke an API key (admin)")
def revoke_api_key(api_key_id: int, principal: Admin, session: SessionDep) -> ApiKeyOut:
    return service.revoke(session, principal.org, api_key_id)
