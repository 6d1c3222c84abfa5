from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import Marketer, SessionDep, Viewer
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params
from api.segments import service
from api.segments.schemas import SegmentCreate, SegmentOut, SegmentUpdate

router = APIRouter(prefix="/segments", tags=["segments"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[SegmentOut])
def list_segments(principal: Viewer, session: SessionDep, page: PageDep, q: str | None = None):
    return service.list_segments(session, principal.org, page, q)


@router.post("", response_model=SegmentOut, status_code=status.HTTP_201_CREATED,
             summary="Create a segment; criteria are validated (422 names the problem)")
def create_segment(body: SegmentCreate, principal: Marketer, session: SessionDep) -> SegmentOut:
    return service.create_segment(session, principal.org, body)


@router.get("/{segment_id}", response_model=SegmentOut)
def get_segment(segment_id: int, principal: Viewer, session: SessionDep) -> SegmentOut:
    return service.get_segment(session, principal.org, segment_id)


@router.patch("/{segment_id}", response_model=SegmentOut)
def update_segment(segment_id: int, body: SegmentUpdate, principal: Marketer, session: SessionDep) -> SegmentOut:
    return service.update_segment(session, principal.org, segment_id, body)


@router.delete("/{segment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_segment(segment_id: int, principal: Marketer, session: SessionDep) -> Response:
    service.delete_segment(session, principal.org, segment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
