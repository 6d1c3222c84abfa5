from __future__ import annotations

import uuid
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from api.types import UtcDateTime
from beacon.schema.models import CampaignStatus, Channel, EmailCategory, SendStatus


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Spring sale"])
    segment_id: int | None = Field(None, description="Audience: a segment, or")
    list_id: int | None = Field(None, description="a static list (exactly one of the two).")
    template_code: str = Field(min_length=1, max_length=80, examples=["promotion"])
    channel: Channel = Channel.email
    category: EmailCategory = EmailCategory.promotional
    holdout_percent: Decimal = Field(Decimal("0"), ge=0, lt=100)

    @model_validator(mode="after")
    def _one_audience(self) -> CampaignCreate:
        if (self.segment_id is None) == (self.list_id is None):
            raise ValueError("give exactly one audience: segment_id or list_id")
        return self


class CampaignUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    template_code: str | None = Field(None, min_length=1, max_length=80)
    category: EmailCategory | None = None
    holdout_percent: Decimal | None = Field(None, ge=0, lt=100)


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scheduled_at: AwareDatetime = Field(examples=["2030-05-01T09:00:00Z"], description="With a UTC offset; in the future.")


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    segment_id: int | None
    list_id: int | None
    template_code: str
    channel: Channel
    category: EmailCategory
    status: CampaignStatus
    holdout_percent: Decimal
    scheduled_at: UtcDateTime | None
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    created_at: UtcDateTime


class CampaignDetail(CampaignOut):
    sends_by_status: dict[str, int] = Field(description="From the send ledger.")
    sends_by_event: dict[str, int] = Field(description="Distinct messages with each event (delivered, opened, clicked, ...).")


class RecipientOutcome(BaseModel):
    send_id: uuid.UUID
    contact_id: int
    address: str | None
    status: SendStatus
    sent_at: UtcDateTime | None
    outcome: str = Field(description="The furthest event reached: e.g. clicked > opened > delivered > sent.")
    events: list[dict]
