from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.types import UtcDateTime
from beacon.schema.models import Channel, SuppressionReason


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Channel = Channel.email
    address: str = Field(min_length=3, max_length=320, examples=["ada@example.org"], description="Email, or E.164 number for sms/whatsapp.")
    reason: SuppressionReason = SuppressionReason.manual


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel: Channel
    address: str
    reason: SuppressionReason
    source: str
    created_at: UtcDateTime
