"""Segment previews (count + sample from the marts) and size history: the service layer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import ServiceUnavailable
from api.segments import warehouse
from api.segments.schemas import SegmentPreviewOut, SegmentSizeOut
from api.segments.service import get_segment, validate_criteria
from beacon.segments.compiler import compile_segment
from beacon.tenancy import OrgId


def _preview(engine: Engine, org: OrgId, criteria: dict[str, Any], sample_size: int) -> SegmentPreviewOut:
    as_of = datetime.now(UTC)
    compiled = compile_segment(criteria, org, as_of=as_of)
    try:
        count, sample = warehouse.preview(engine, compiled, sample_size)
    except warehouse.MartsMissing as exc:
        raise ServiceUnavailable(str(exc)) from None
    return SegmentPreviewOut(count=count, sample=sample, as_of=as_of)


def preview_criteria(session: Session, engine: Engine, org: OrgId, criteria: dict[str, Any], sample_size: int) -> SegmentPreviewOut:
    return _preview(engine, org, validate_criteria(session, org, criteria), sample_size)


def preview_segment(session: Session, engine: Engine, org: OrgId, segment_id: int, sample_size: int) -> SegmentPreviewOut:
    segment = get_segment(session, org, segment_id)  # 404 for another tenant's id
    return _preview(engine, org, segment.criteria, sample_size)


def segment_sizes(session: Session, engine: Engine, org: OrgId, segment_id: int, limit: int) -> list[SegmentSizeOut]:
    get_segment(session, org, segment_id)
    return [SegmentSizeOut.model_validate(size, from_attributes=True) for size in warehouse.sizes(engine, org, segment_id, limit)]
