from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.types import UtcDateTime


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    slug: str
    type: str
    domain: str | None
    timezone: str
    currency: str
    postal_address: str | None
    branding: dict[str, Any]
    settings: dict[str, Any]
    created_at: UtcDateTime


class OrganizationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    domain: str | None = Field(None, max_length=253)
    timezone: str | None = Field(None, max_length=64)
    postal_address: str | None = None
    branding: dict[str, Any] | None = None
    settings: dict[str, Any] | None = Field(None, examples=[{"frequency_cap": {"max_messages": 3, "window_days": 7}}])
