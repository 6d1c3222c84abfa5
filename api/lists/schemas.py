from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.types import UtcDateTime


class ListCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["VIP customers"])
    description: str | None = None


class ListUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None


class ListOut(BaseModel):
    id: int
    name: str
    description: str | None
    member_count: int
    created_at: UtcDateTime


class MembersAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_ids: list[int] = Field(min_length=1, max_length=10_000, examples=[[1, 2, 3]])


class MembersAdded(BaseModel):
    added: int
    already_members: int


class MemberOut(BaseModel):
    contact_id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    status: str
