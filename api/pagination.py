"""Cursor pagination on ``id``: the cursor is opaque to clients (base64 of the last id seen)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from api.errors import Unprocessable

T = TypeVar("T")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


class PageParams(BaseModel):
    after_id: int | uuid.UUID | None
    limit: int


def encode_cursor(last_id: int | str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: type = int):
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["id"]
        if kind is int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError
            return value
        return uuid.UUID(value)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Unprocessable("cursor: not a cursor this API issued", details=[{"loc": "query.cursor", "message": "invalid cursor"}]) from None


def page_params(
    cursor: Annotated[str | None, Query(description="Opaque cursor from a previous page's `next_cursor`.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(after_id=decode_cursor(cursor) if cursor else None, limit=limit)


def uuid_page_params(
    cursor: Annotated[str | None, Query(description="Opaque cursor from a previous page's `next_cursor`.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(after_id=decode_cursor(cursor, uuid.UUID) if cursor else None, limit=limit)


def make_page(rows: list, limit: int, to_item, key=lambda r: r.id) -> dict:
    """Repositories fetch ``limit + 1`` rows: the extra one says whether a next page exists."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [to_item(r) for r in rows], "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}
