from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from api.types import UtcDateTime
from beacon.schema.models import Role


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr = Field(examples=["grace@example.org"])
    full_name: str | None = Field(None, max_length=200)
    role: Role = Role.viewer
    password: str | None = Field(None, min_length=12, description="For a new user; an existing user keeps theirs.")


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class UserOut(BaseModel):
    id: int
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    member_since: UtcDateTime
