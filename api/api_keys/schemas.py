from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.types import UtcDateTime
from beacon.schema.models import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["warehouse sync"])
    role: Role = Field(Role.viewer, examples=["marketer"])


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    role: Role
    created_at: UtcDateTime
    last_used_at: UtcDateTime | None
    revoked_at: UtcDateTime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown once: store it now, Beacon keeps only a hash.")
