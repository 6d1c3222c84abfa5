from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.types import UtcDateTime
from beacon.schema.models import Channel, EmailCategory


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9_\-]+$", examples=["newsletter"])
    language: str = Field("en", max_length=8)
    channel: Channel = Channel.email
    category: EmailCategory = EmailCategory.promotional
    subject: str | None = Field(None, max_length=300, examples=["{{ organization.name }}: news"])
    html_body: str | None = None
    text_body: str = Field(min_length=1, examples=["Hi {{ contact.first_name or 'there' }}, {{ body }}"])
    required_variables: list[str] = []


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: EmailCategory | None = None
    subject: str | None = Field(None, max_length=300)
    html_body: str | None = None
    text_body: str | None = Field(None, min_length=1)
    required_variables: list[str] | None = None


class TemplateOut(BaseModel):
    id: int
    code: str
    language: str
    channel: Channel
    category: EmailCategory
    subject: str | None
    html_body: str | None
    text_body: str
    required_variables: list[str]
    is_platform: bool = Field(description="Platform templates are read-only; create an override with the same code.")
    created_at: UtcDateTime
    updated_at: UtcDateTime


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variables: dict[str, Any] = Field(default_factory=dict, examples=[{"body": "Spring news", "cta_url": "https://example.org"}])
    contact: dict[str, Any] = Field(default_factory=lambda: {"first_name": "Ada"})


class PreviewOut(BaseModel):
    subject: str | None
    html: str | None
    text: str
