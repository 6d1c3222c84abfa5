from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.deps import Marketer, SessionDep, Viewer, WarehouseDep
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params
from api.segments import preview, service
from api.segments.schemas import (
    SegmentCreate,
    SegmentOut,
    SegmentPreviewIn,
    SegmentPreviewOut,
    SegmentSizeOut,
    SegmentUpdate,
)

router = APIRouter(prefix="/segments", tags=["segments"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]
SampleSize = Annotated[int, Query(ge=0, le=100, description="How many matching contacts to return.")]


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


@router.post("/preview", response_model=SegmentPreviewOut,
             summary="Count and sample the contacts that criteria match now, without saving (422 names the problem)")
def preview_criteria(body: SegmentPreviewIn, principal: Viewer, session: SessionDep, engine: WarehouseDep,
                     sample_size: SampleSize = 20) -> SegmentPreviewOut:
    return preview.preview_criteria(session, engine, principal.org, body.criteria, sample_size)


@router.get("/{segment_id}/preview", response_model=SegmentPreviewOut,
            summary="Count and sample a saved segment's contacts from the marts")
def preview_segment(segment_id: int, principal: Viewer, session: SessionDep, engine: WarehouseDep,
                    sample_size: SampleSize = 20) -> SegmentPreviewOut:
    return preview.preview_segment(session, engine, principal.org, segment_id, sample_size)


@router.get("/{segment_id}/sizes", response_model=list[SegmentSizeOut],
            summary="Size history, newest first: one row per membership refresh (members, entered, exited)")
def segment_sizes(segment_id: int, principal: Viewer, session: SessionDep, engine: WarehouseDep,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[SegmentSizeOut]:
    return preview.segment_sizes(session, engine, principal.org, segment_id, limit)
