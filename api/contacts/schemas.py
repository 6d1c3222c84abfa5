from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from api.types import UtcDateTime
from beacon.schema.models import ContactStatus


def _e164(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"phone {value!r} is not an international number (write it as +<country code>...)") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"phone {value!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class _ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(None, max_length=128)
    phone: str | None = Field(None, examples=["+14155550123"])
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    birth_date: date | None = None
    city: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$", examples=["US"])
    timezone: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=8)
    contact_type: str | None = Field(None, description="A contact-type code of the organization, e.g. `customer`.")
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    consent_email: bool | None = None
    consent_sms: bool | None = None
    consent_promotional: bool | None = None
    consent_newsletter: bool | None = None

    @field_validator("phone")
    @classmethod
    def _phone_e164(cls, value: str | None) -> str | None:
        return _e164(value)


class ContactCreate(_ContactFields):
    email: EmailStr | None = Field(None, examples=["ada@example.org"])
    source: str | None = Field("api", max_length=40)


class ContactUpdate(_ContactFields):
    email: EmailStr | None = None
    status: ContactStatus | None = None


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    external_id: str | None
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    birth_date: date | None
    city: str | None
    region: str | None
    country: str | None
    timezone: str | None
    language: str
    contact_type: str | None
    status: ContactStatus
    tags: list[str]
    custom_fields: dict[str, Any]
    consent_email: bool
    consent_sms: bool
    consent_transactional: bool
    consent_promotional: bool
    consent_newsletter: bool
    source: str | None
    erased_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class SendRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    send_id: uuid.UUID
    campaign_id: int
    channel: str
    address: str | None
    status: str
    created_at: UtcDateTime
    sent_at: UtcDateTime | None


class EventRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    event_type: str
    occurred_at: UtcDateTime
    send_id: uuid.UUID | None
    channel: str | None
    provider: str
    payload: dict[str, Any]


class SuppressionRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel: str
    address: str
    reason: str
    source: str
    created_at: UtcDateTime


class ContactExport(BaseModel):
    """Everything Beacon holds on one contact (GDPR Art. 15 / 20)."""

    contact: ContactOut
    list_memberships: list[dict[str, Any]]
    sends: list[SendRecord]
    events: list[EventRecord]
    suppressions: list[SuppressionRecord]
    exported_at: UtcDateTime
