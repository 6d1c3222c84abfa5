from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import Marketer, SessionDep, Viewer
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params
from api.suppressions import service
from api.suppressions.schemas import SuppressionCreate, SuppressionOut
from beacon.schema.models import Channel, SuppressionReason

router = APIRouter(prefix="/suppressions", tags=["suppressions"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[SuppressionOut])
def list_suppressions(principal: Viewer, session: SessionDep, page: PageDep, channel: Channel | None = None,
                      reason: SuppressionReason | None = None, q: str | None = None):
    return service.list_suppressions(session, principal.org, page, channel, reason, q)


@router.post("", response_model=SuppressionOut, status_code=status.HTTP_201_CREATED,
             summary="Suppress an address (200 if it already was)",
             responses={200: {"model": SuppressionOut, "description": "Already suppressed: the existing row"}})
def add_suppression(body: SuppressionCreate, principal: Marketer, session: SessionDep, response: Response) -> SuppressionOut:
    out, created = service.add(session, principal.org, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.delete("/{suppression_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Lift a suppression")
def remove_suppression(suppression_id: int, principal: Marketer, session: SessionDep) -> Response:
    service.remove(session, principal.org, suppression_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
