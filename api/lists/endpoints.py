from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import Marketer, SessionDep, Viewer
from api.errors import ERROR_RESPONSES
from api.lists import service
from api.lists.schemas import ListCreate, ListOut, ListUpdate, MemberOut, MembersAdd, MembersAdded
from api.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/lists", tags=["lists"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[ListOut])
def list_lists(principal: Viewer, session: SessionDep, page: PageDep, q: str | None = None):
    return service.list_lists(session, principal.org, page, q)


@router.post("", response_model=ListOut, status_code=status.HTTP_201_CREATED)
def create_list(body: ListCreate, principal: Marketer, session: SessionDep) -> ListOut:
    return service.create_list(session, principal.org, body)


@router.get("/{list_id}", response_model=ListOut)
def get_list(list_id: int, principal: Viewer, session: SessionDep) -> ListOut:
    return service.get_list(session, principal.org, list_id)


@router.patch("/{list_id}", response_model=ListOut)
def update_list(list_id: int, body: ListUpdate, principal: Marketer, session: SessionDep) -> ListOut:
    return service.update_list(session, principal.org, list_id, body)


@router.delete("/{list_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_list(list_id: int, principal: Marketer, session: SessionDep) -> Response:
    service.delete_list(session, principal.org, list_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{list_id}/members", response_model=Page[MemberOut])
def list_members(list_id: int, principal: Viewer, session: SessionDep, page: PageDep):
    return service.list_members(session, principal.org, list_id, page)


@router.post("/{list_id}/members", response_model=MembersAdded)
def add_members(list_id: int, body: MembersAdd, principal: Marketer, session: SessionDep) -> MembersAdded:
    return service.add_members(session, principal.org, list_id, body)


@router.delete("/{list_id}/members/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(list_id: int, contact_id: int, principal: Marketer, session: SessionDep) -> Response:
    service.remove_member(session, principal.org, list_id, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
