from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

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
    content_variables: dict[str, str] = Field(
        default_factory=dict, description="Template variables the campaign gives (the template's required ones).",
        examples=[{"offer": "20% off winter coats", "cta_url": "https://shop.example/winter"}],
    )

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
    content_variables: dict[str, str] | None = None


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
    content_variables: dict[str, Any]
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


class CampaignCounts(BaseModel):
    """Distinct sends per outcome (docs/campaign-analytics.md has every rule)."""

    targeted: int
    suppressed: int
    held_out: int
    sent: int
    delivered: int
    bounced_hard: int
    bounced_soft: int
    opened_unique: int = Field(description="Human opens; machine opens excluded; a click without an open counts.")
    machine_opened: int
    clicked_unique: int = Field(description="Human clicks; bot / link-scanner clicks excluded.")
    bot_clicked: int
    unsubscribed: int
    complained: int
    failed: int


class VariantPerformance(CampaignCounts):
    variant_name: str = Field(description="`default` when the campaign has no A/B variants.")
    delivery_rate: float | None = Field(description="delivered / sent")
    bounce_rate: float | None = Field(description="bounced / sent")
    open_rate: float | None = Field(description="opened_unique / delivered")
    click_rate: float | None = Field(description="clicked_unique / delivered")
    click_to_open_rate: float | None
    unsubscribe_rate: float | None
    complaint_rate: float | None
    conversions: int = Field(description="Purchases credited by last touch.")
    attributed_revenue: Decimal = Field(description="Net of refunds, tenant currency.")
    revenue_per_recipient: Decimal | None = Field(description="attributed_revenue / sent")


class CampaignDay(CampaignCounts):
    variant_name: str
    activity_date: date = Field(description="UTC day; each send counts on the day the outcome first happened.")
    open_rate_to_date: float | None
    click_rate_to_date: float | None


class HoldoutLift(BaseModel):
    campaign_sent_at: UtcDateTime
    conversion_window_days: int
    treated_recipients: int
    holdout_recipients: int
    treated_conversions: int
    holdout_conversions: int
    treated_conversion_rate: float | None
    holdout_conversion_rate: float | None
    conversion_rate_lift: float | None
    conversion_rate_lift_ci_lower: float | None = Field(description="95% interval, normal approximation")
    conversion_rate_lift_ci_upper: float | None
    treated_revenue_per_recipient: float | None
    holdout_revenue_per_recipient: float | None
    revenue_per_recipient_lift: float | None
    revenue_per_recipient_lift_ci_lower: float | None = Field(description="95% interval, Welch's standard error")
    revenue_per_recipient_lift_ci_upper: float | None


class CampaignAnalytics(BaseModel):
    campaign_id: int
    variants: list[VariantPerformance]
    daily: list[CampaignDay]
    holdout_lift: HoldoutLift | None = Field(description="Null when the campaign held nobody out.")
