"""The operational schema: SQLAlchemy 2.0 models, portable across SQLite and PostgreSQL.

Every tenant-owned row carries ``organization_id``; uniqueness that matters to a tenant
(emails, slugs, codes) is declared per organization. Portable types only: JSON, Uuid,
Numeric, timezone-aware DateTime. Alembic migrations in ``migrations/`` mirror this file.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Autoincrementing 64-bit keys on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
Json = JSON().with_variant(postgresql.JSONB(), "postgresql")
Money = Numeric(14, 4)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: Json, list[str]: Json, datetime: DateTime(timezone=True)}


def _enum(cls: type[StrEnum]) -> Enum:
    # Stored as plain strings (no native enum type), so adding a value needs no DDL on either DB;
    # SQLAlchemy validates values on the way in.
    return Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e], name=cls.__name__.lower())


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# ----------------------------------------------------------------------------- vocabularies


class Role(StrEnum):
    admin = "admin"
    manager = "manager"
    marketer = "marketer"
    viewer = "viewer"


class ContactStatus(StrEnum):
    active = "active"
    unsubscribed = "unsubscribed"
    bounced = "bounced"
    complained = "complained"
    blocked = "blocked"


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    whatsapp = "whatsapp"


class EmailCategory(StrEnum):
    transactional = "transactional"
    promotional = "promotional"
    newsletter = "newsletter"


class CampaignStatus(StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    queued = "queued"
    sending = "sending"
    sent = "sent"
    cancelled = "cancelled"
    failed = "failed"


class TriggerMode(StrEnum):
    one_off = "one_off"
    automation = "automation"


class SendStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    suppressed = "suppressed"
    held_out = "held_out"


class EventType(StrEnum):
    sent = "sent"
    delivered = "delivered"
    bounced = "bounced"
    opened = "opened"
    clicked = "clicked"
    unsubscribed = "unsubscribed"
    complained = "complained"
    failed = "failed"
    converted = "converted"


class SuppressionReason(StrEnum):
    unsubscribed = "unsubscribed"
    hard_bounce = "hard_bounce"
    complaint = "complaint"
    dropped = "dropped"
    sms_stop = "sms_stop"
    manual = "manual"
    invalid = "invalid"


class SubscriptionStatus(StrEnum):
    active = "active"
    trialing = "trialing"
    past_due = "past_due"
    cancelled = "cancelled"
    unpaid = "unpaid"


class BillingCycle(StrEnum):
    monthly = "monthly"
    yearly = "yearly"


# ----------------------------------------------------------------------------- tenancy


class OrganizationType(Base):
    """Church, E-commerce, SaaS, Non-profit: each brings its contact-type templates."""

    __tablename__ = "organization_types"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    contact_type_templates: Mapped[list[ContactTypeTemplate]] = relationship(
        back_populates="organization_type", order_by="ContactTypeTemplate.position"
    )


class ContactTypeTemplate(Base):
    __tablename__ = "contact_type_templates"
    __table_args__ = (UniqueConstraint("organization_type_id", "code"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_type_id: Mapped[int] = mapped_column(ForeignKey("organization_types.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    organization_type: Mapped[OrganizationType] = relationship(back_populates="contact_type_templates")


class Organization(Timestamped, Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_type_id: Mapped[int] = mapped_column(ForeignKey("organization_types.id"))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    domain: Mapped[str | None] = mapped_column(String(253))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    branding: Mapped[dict[str, Any]] = mapped_column(default=dict)
    postal_address: Mapped[str | None] = mapped_column(Text, doc="Printed in every marketing email's footer.")
    settings: Mapped[dict[str, Any]] = mapped_column(
        default=dict, doc="e.g. {'frequency_cap': {'max_messages': 3, 'window_days': 7}}"
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64))
    organization_type: Mapped[OrganizationType] = relationship()


class ContactType(Base):
    """A tenant's own contact types, copied from its organization type's templates on creation."""

    __tablename__ = "contact_types"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)


class User(Timestamped, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, doc="Stored lower-cased.")
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Membership(Timestamped, Base):
    """A user's role in one organization."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))


class ApiKey(Base):
    """Only a hash of the key is kept; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True, doc="Public lookup part, e.g. 'bk_3f9a2c1d'.")
    key_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(_enum(Role))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# ----------------------------------------------------------------------------- audience


class Contact(Timestamped, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("organization_id", "email_normalized"),
        UniqueConstraint("organization_id", "external_id"),
        Index("ix_contacts_org_updated", "organization_id", "updated_at"),
        Index("ix_contacts_org_phone", "organization_id", "phone"),
        Index("ix_contacts_org_id", "organization_id", "id"),  # keyset pages of the contact list
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(128), doc="The tenant's own customer id.")
    email: Mapped[str | None] = mapped_column(String(320), doc="As given, trimmed.")
    email_normalized: Mapped[str | None] = mapped_column(
        String(320), doc="Lower-cased email: the per-tenant identity (unique, case-insensitive)."
    )
    phone: Mapped[str | None] = mapped_column(String(20), doc="E.164.")
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2), doc="ISO 3166-1 alpha-2.")
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    contact_type_id: Mapped[int | None] = mapped_column(ForeignKey("contact_types.id", ondelete="SET NULL"))
    status: Mapped[ContactStatus] = mapped_column(_enum(ContactStatus), default=ContactStatus.active)
    tags: Mapped[list[str]] = mapped_column(default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_transactional: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_promotional: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_newsletter: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(40), doc="signup, import, api, checkout, ...")
    erased_at: Mapped[datetime | None] = mapped_column(doc="GDPR erasure: personal data removed.")
    contact_type: Mapped[ContactType | None] = relationship()


class ContactList(Timestamped, Base):
    """A static list."""

    __tablename__ = "lists"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)


class ListMember(Base):
    __tablename__ = "list_members"
    __table_args__ = (UniqueConstraint("list_id", "contact_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Segment(Timestamped, Base):
    """A dynamic audience: ``criteria`` is validated JSON, compiled to SQL against the marts."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    criteria: Mapped[dict[str, Any]] = mapped_column()


# ----------------------------------------------------------------------------- messaging


class Template(Timestamped, Base):
    """Platform templates have no organization; a tenant's override shares code and language."""

    __tablename__ = "templates"
    __table_args__ = (
        UniqueConstraint("organization_id", "code", "language", "channel"),
        Index("ix_templates_code", "code", "language"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), doc="NULL for a platform template."
    )
    code: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(8), default="en")
    channel: Mapped[Channel] = mapped_column(_enum(Channel), default=Channel.email)
    category: Mapped[EmailCategory] = mapped_column(_enum(EmailCategory), default=EmailCategory.promotional)
    subject: Mapped[str | None] = mapped_column(String(300))
    html_body: Mapped[str | None] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    required_variables: Mapped[list[str]] = mapped_column(default=list)


class Campaign(Timestamped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(
            "(segment_id IS NULL) <> (list_id IS NULL)", name="one_audience"
        ),
        CheckConstraint("holdout_percent >= 0 AND holdout_percent < 100", name="holdout_range"),
        Index("ix_campaigns_org_status", "organization_id", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="RESTRICT"))
    list_id: Mapped[int | None] = mapped_column(ForeignKey("lists.id", ondelete="RESTRICT"))
    template_code: Mapped[str] = mapped_column(String(80))
    channel: Mapped[Channel] = mapped_column(_enum(Channel), default=Channel.email)
    category: Mapped[EmailCategory] = mapped_column(_enum(EmailCategory), default=EmailCategory.promotional)
    status: Mapped[CampaignStatus] = mapped_column(_enum(CampaignStatus), default=CampaignStatus.draft)
    trigger_mode: Mapped[TriggerMode] = mapped_column(_enum(TriggerMode), default=TriggerMode.one_off)
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    variants: Mapped[list[dict[str, Any]]] = mapped_column(
        Json,
        default=list,
        doc="A/B variants: [{'name': 'A', 'weight': 50, 'template_code': ..., 'subject': ...}].",
    )
    holdout_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    automation_steps: Mapped[list[dict[str, Any]]] = mapped_column(
        Json, default=list, doc="Automation mode: [{'step': 1, 'delay_days': 0, 'template_code': ...}]."
    )
    last_run_at: Mapped[datetime | None] = mapped_column(doc="Automation cursor: entrants after this are new.")
    content_variables: Mapped[dict[str, Any]] = mapped_column(
        Json, default=dict, server_default="{}",
        doc="The campaign's own template variables, e.g. {'offer': '20% off', 'cta_url': 'https://...'}.",
    )


class Send(Base):
    """The send ledger: one row per message, written before the provider is called."""

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", "step"),
        Index("ix_sends_org_status", "organization_id", "status"),
        Index("ix_sends_campaign_status", "campaign_id", "status"),
        Index("ix_sends_org_contact_created", "organization_id", "contact_id", "created_at"),
    )
    send_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer, default=0, doc="Automation step; 0 for a one-off campaign.")
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    address: Mapped[str | None] = mapped_column(String(320), doc="Email or E.164 number at send time.")
    variant: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[SendStatus] = mapped_column(_enum(SendStatus), default=SendStatus.pending)
    provider_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    sent_at: Mapped[datetime | None]


class Event(Base):
    """Append-only: tracking hits, webhooks and sends. Provider event ids are unique per provider."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id"),
        Index("ix_events_received", "received_at"),
        Index("ix_events_org_send", "organization_id", "send_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    event_type: Mapped[EventType] = mapped_column(_enum(EventType))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    send_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    contact_id: Mapped[int | None] = mapped_column(BigId)
    channel: Mapped[Channel | None] = mapped_column(_enum(Channel))
    provider: Mapped[str] = mapped_column(String(20), doc="beacon (tracking), sendgrid, twilio, stripe.")
    provider_event_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Suppression(Base):
    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("organization_id", "channel", "address"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    address: Mapped[str] = mapped_column(String(320), doc="Lower-cased email or E.164 number.")
    reason: Mapped[SuppressionReason] = mapped_column(_enum(SuppressionReason))
    source: Mapped[str] = mapped_column(String(40), doc="sendgrid, twilio, unsubscribe_link, api, import ...")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


# ----------------------------------------------------------------------------- billing


class Plan(Base):
    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    monthly_price: Mapped[Decimal] = mapped_column(Money)
    yearly_price: Mapped[Decimal] = mapped_column(Money)
    contact_limit: Mapped[int] = mapped_column(BigInteger)
    email_limit: Mapped[int] = mapped_column(BigInteger, doc="Included emails per month.")
    sms_limit: Mapped[int] = mapped_column(BigInteger)
    whatsapp_limit: Mapped[int] = mapped_column(BigInteger)
    campaign_limit: Mapped[int] = mapped_column(BigInteger)
    email_overage_price: Mapped[Decimal] = mapped_column(Money, doc="Per email over the limit.")
    sms_overage_price: Mapped[Decimal] = mapped_column(Money)
    whatsapp_overage_price: Mapped[Decimal] = mapped_column(Money)
    features: Mapped[list[str]] = mapped_column(default=list)
    stripe_price_id: Mapped[str | None] = mapped_column(String(64))


class Subscription(Timestamped, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_org_period", "organization_id", "current_period_start"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[SubscriptionStatus] = mapped_column(_enum(SubscriptionStatus))
    billing_cycle: Mapped[BillingCycle] = mapped_column(_enum(BillingCycle), default=BillingCycle.monthly)
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]
    cancel_at: Mapped[datetime | None]
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_stripe_event_at: Mapped[datetime | None] = mapped_column(
        doc="Creation time of the newest Stripe event applied: an older one arriving late is not applied."
    )
    plan: Mapped[Plan] = relationship()


class SubscriptionChange(Base):
    """One plan or billing-cycle change of a subscription: the history the billing marts prorate by.

    ``subscriptions`` holds only the current plan; without this row a mid-period change would
    bill the whole period at the new plan.
    """

    __tablename__ = "subscription_changes"
    __table_args__ = (Index("ix_subscription_changes_subscription", "subscription_id", "effective_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    from_plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    to_plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    from_billing_cycle: Mapped[BillingCycle] = mapped_column(_enum(BillingCycle))
    to_billing_cycle: Mapped[BillingCycle] = mapped_column(_enum(BillingCycle))
    effective_at: Mapped[datetime] = mapped_column(doc="When the new plan took effect (UTC).")
    source: Mapped[str] = mapped_column(String(20), doc="api or stripe: who made the change.")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookReceipt(Base):
    """Every verified billing webhook, stored before it is acted on and deduplicated by event id.

    Message events (SendGrid, Twilio, tracking) live in ``events``; this holds the provider events
    that are not about one message (Stripe's subscription and invoice events), for dedupe and for
    reconciling invoices against Beacon's invoice lines.
    """

    __tablename__ = "webhook_receipts"
    __table_args__ = (UniqueConstraint("provider", "event_id"), Index("ix_webhook_receipts_org", "organization_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(80))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class UsagePush(Base):
    """One usage record or invoice object Beacon pushed to Stripe, written before the call.

    ``idempotency_id`` is deterministic (``'<org>-<period>-<metric>-<chunk>'`` for meter events) and
    is sent to Stripe as the meter event ``identifier`` / ``Idempotency-Key``: a re-run retries a
    ``pending`` row with the same id and value, so Stripe counts it once. The finance
    reconciliation compares these rows with the send ledger and the invoice lines.
    """

    __tablename__ = "usage_pushes"
    __table_args__ = (
        UniqueConstraint("idempotency_id"),
        Index("ix_usage_pushes_org_period", "organization_id", "period_label"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    period_label: Mapped[str] = mapped_column(String(7), doc="Local month 'YYYY-MM' of the billing period.")
    period_start: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20), doc="meter_event, invoice, invoice_item.")
    metric: Mapped[str] = mapped_column(String(40), doc="email/sms/whatsapp (meter events), line type (items).")
    chunk: Mapped[int] = mapped_column(Integer, default=0)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal | None] = mapped_column(Money, doc="Invoice items and invoices: exact amount.")
    currency: Mapped[str | None] = mapped_column(String(3))
    idempotency_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(20), default="pending", doc="pending until Stripe answered, then pushed.")
    stripe_object_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    pushed_at: Mapped[datetime | None]
