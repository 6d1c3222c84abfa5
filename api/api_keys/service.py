from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from api.api_keys import repository
from api.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from api.errors import NotFound
from api.pagination import PageParams, make_page
from api.security import split_api_key
from beacon.tenancy import OrgId


def create(session: Session, org: OrgId, body: ApiKeyCreate) -> ApiKeyCreated:
    key = repository.create(session, org, name=body.name, role=body.role)
    row = repository.get_by_prefix(session, org, split_api_key(key))
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=key)


def list_keys(session: Session, org: OrgId, page: PageParams, include_revoked: bool) -> dict:
    rows = repository.page(session, org, after_id=page.after_id, limit=page.limit, include_revoked=include_revoked)
    return make_page(rows, page.limit, ApiKeyOut.model_validate)


def revoke(session: Session, org: OrgId, key_id: int) -> ApiKeyOut:
    row = repository.get(session, org, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    repository.revoke(row, datetime.now(UTC))
    session.flush()
    return ApiKeyOut.model_validate(row)
