from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import Manager, SessionDep, Viewer
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params
from api.users import service
from api.users.schemas import UserCreate, UserOut, UserUpdate
from beacon.schema.models import Role

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[UserOut], summary="Members of the organization")
def list_users(principal: Viewer, session: SessionDep, page: PageDep, role: Role | None = None):
    return service.list_users(session, principal.org, page, role)


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Add a member (manager)")
def add_user(body: UserCreate, principal: Manager, session: SessionDep) -> UserOut:
    return service.add_user(session, principal, body)


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: int, principal: Viewer, session: SessionDep) -> UserOut:
    return service.get_user(session, principal.org, user_id)


@router.patch("/{user_id}", response_model=UserOut, summary="Change a member's role (manager)")
def change_role(user_id: int, body: UserUpdate, principal: Manager, session: SessionDep) -> UserOut:
    return service.change_role(session, principal, user_id, body)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a member (manager)")
def remove_user(user_id: int, principal: Manager, session: SessionDep) -> Response:
    service.remove_user(session, principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
