from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.types import UtcDateTime

CRITERIA_EXAMPLE = {
    "all": [
        {"field": "contact_type", "op": "in", "value": ["customer", "vip_customer"]},
        {"field": "net_revenue", "op": "gte", "value": 500},
        {"not": {"field": "tags", "op": "has_any", "value": ["do-not-disturb"]}},
    ]
}


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["High-value customers"])
    description: str | None = None
    criteria: dict[str, Any] = Field(description="Segment criteria (see docs/api.md).", examples=[CRITERIA_EXAMPLE])


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    criteria: dict[str, Any] | None = None


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str | None
    criteria: dict[str, Any]
    created_at: UtcDateTime
    updated_at: UtcDateTime
