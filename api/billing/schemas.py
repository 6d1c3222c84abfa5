from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from api.types import UtcDateTime
from beacon.schema.models import BillingCycle, SubscriptionStatus


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    currency: str
    monthly_price: Decimal
    yearly_price: Decimal
    contact_limit: int
    email_limit: int
    sms_limit: int
    whatsapp_limit: int
    campaign_limit: int
    email_overage_price: Decimal
    sms_overage_price: Decimal
    whatsapp_overage_price: Decimal
    features: list[str]


class SubscriptionOut(BaseModel):
    id: int
    plan: PlanOut
    status: SubscriptionStatus
    billing_cycle: BillingCycle
    current_period_start: UtcDateTime
    current_period_end: UtcDateTime
    cancel_at: UtcDateTime | None
    stripe_subscription_id: str | None


class SubscriptionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_code: str = Field(examples=["growth"])
    billing_cycle: BillingCycle = BillingCycle.monthly
