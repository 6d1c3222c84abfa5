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


class SegmentPreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criteria: dict[str, Any] = Field(description="Segment criteria to try before saving (see docs/segments.md).",
                                     examples=[CRITERIA_EXAMPLE])


class PreviewContact(BaseModel):
    contact_id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    lifecycle_stage: str | None
    country_code: str | None


class SegmentPreviewOut(BaseModel):
    count: int = Field(description="Contacts matching now.")
    sample: list[PreviewContact] = Field(description="The first contacts by id (at most `sample_size`).")
    as_of: UtcDateTime = Field(description="The moment 'within N days' criteria were measured from.")


class SegmentSizeOut(BaseModel):
    as_of: UtcDateTime
    members: int
    entered: int
    exited: int
