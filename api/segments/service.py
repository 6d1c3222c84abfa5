from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.errors import Conflict, NotFound, Unprocessable
from api.pagination import PageParams, make_page
from api.segments import repository
from api.segments.schemas import SegmentCreate, SegmentOut, SegmentUpdate
from beacon.schema.models import Segment
from beacon.segments.criteria import AllOf, AnyOf, Condition, CriteriaError, Not, dump_criteria, parse_criteria
from beacon.tenancy import OrgId


def _list_ids(node: Any) -> set[int]:
    if isinstance(node, Condition):
        return set(node.value) if node.field == "list_id" else set()
    if isinstance(node, Not):
        return _list_ids(node.not_)
    children = node.all if isinstance(node, AllOf) else node.any if isinstance(node, AnyOf) else []
    return set().union(*(_list_ids(c) for c in children)) if children else set()


def validate_criteria(session: Session, org: OrgId, criteria: dict[str, Any]) -> dict[str, Any]:
    try:
        node = parse_criteria(criteria)
    except CriteriaError as exc:
        raise Unprocessable(str(exc), details=[{"loc": p.split(": ", 1)[0], "message": p.split(": ", 1)[1]} for p in exc.problems]) from None
    wanted = _list_ids(node)
    missing = sorted(wanted - repository.existing_list_ids(session, org, wanted)) if wanted else []
    if missing:
        raise Unprocessable(f"criteria: list_id refers to lists that do not exist: {missing}")
    return dump_criteria(node)


def _get(session: Session, org: OrgId, segment_id: int) -> Segment:
    row = repository.get(session, org, segment_id)
    if row is None:
        raise NotFound(f"segment {segment_id} not found")
    return row


def _check_name(session: Session, org: OrgId, name: str, own_id: int | None) -> None:
    other = repository.id_by_name(session, org, name)
    if other is not None and other != own_id:
        raise Conflict(f"a segment named {name!r} exists (id {other})")


def list_segments(session: Session, org: OrgId, page: PageParams, q: str | None) -> dict:
    rows = repository.page(session, org, after_id=page.after_id, limit=page.limit, q=q)
    return make_page(rows, page.limit, SegmentOut.model_validate)


def get_segment(session: Session, org: OrgId, segment_id: int) -> SegmentOut:
    return SegmentOut.model_validate(_get(session, org, segment_id))


def create_segment(session: Session, org: OrgId, body: SegmentCreate) -> SegmentOut:
    criteria = validate_criteria(session, org, body.criteria)
    _check_name(session, org, body.name, None)
    row = repository.create(session, org, name=body.name, description=body.description, criteria=criteria)
    return SegmentOut.model_validate(row)


def update_segment(session: Session, org: OrgId, segment_id: int, body: SegmentUpdate) -> SegmentOut:
    row = _get(session, org, segment_id)
    values = body.model_dump(exclude_unset=True)
    if values.get("criteria") is not None:
        values["criteria"] = validate_criteria(session, org, values["criteria"])
    elif "criteria" in values:
        raise Unprocessable("criteria: cannot be null")
    if values.get("name"):
        _check_name(session, org, values["name"], segment_id)
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    return SegmentOut.model_validate(row)


def delete_segment(session: Session, org: OrgId, segment_id: int) -> None:
    _get(session, org, segment_id)
    if repository.used_by_campaign(session, org, segment_id):
        raise Conflict(f"segment {segment_id} is used by a campaign")
    repository.delete_segment(session, org, segment_id)
