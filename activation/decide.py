"""Who gets a message: exclusion rules and the deterministic holdout / A/B assignment.

Pure functions over plain values, so the rules are testable without a database and the same
contact lands in the same arm on every run and every partition (activation fans out by audience
partition: the assignment depends only on ``(campaign_id, contact_id)``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from beacon.schema.models import Channel, ContactStatus, EmailCategory


class Exclusion(StrEnum):
    """Why a targeted contact gets no message; stored in ``sends.error`` of a suppressed row."""

    suppressed = "suppressed"  # the address is on the organization's suppression list
    suppressed_mid_run = "suppressed_mid_run"  # suppressed after planning, before its batch went out
    inactive = "inactive"  # contact status is not active (unsubscribed, bounced, ...)
    erased = "erased"  # GDPR erasure: no personal data left to send to
    no_consent = "no_consent"  # no consent for the channel or for the email category
    no_address = "no_address"  # no email / phone for the channel
    duplicate_address = "duplicate_address"  # another contact in the audience has the same address
    frequency_cap = "frequency_cap"  # too many messages in the organization's cap window


@dataclass(frozen=True, slots=True)
class Recipient:
    contact_id: int
    address: str | None
    status: str
    language: str
    consents: dict[str, bool]
    erased: bool
    fields: dict[str, Any]  # personalisation data (names, city, custom fields ...)


def address_for(channel: Channel, email: str | None, phone: str | None) -> str | None:
    """The normalised address a channel sends to (suppressions store the same form)."""
    if channel is Channel.email:
        return email.strip().lower() if email and email.strip() else None
    return phone.strip() if phone and phone.strip() else None


def consent_ok(channel: Channel, category: EmailCategory, consents: dict[str, bool]) -> bool:
    """Transactional messages need only ``consent_transactional`` (they are exempt from marketing
    consent); promotional and newsletter messages need the channel's consent and the category's."""
    if category is _TRANSACTIONAL:
        return consents.get("transactional", True)
    return bool(consents.get(_VALUE[channel])) and bool(consents.get(_VALUE[category]))


def exclusion_for(
    recipient: Recipient,
    *,
    channel: Channel,
    category: EmailCategory,
    suppressed: set[str],
    capped: set[int],
    seen_addresses: set[str] | None,
) -> Exclusion | None:
    """``seen_addresses`` (None to skip) catches two contacts sharing a phone number; email
    addresses are unique per organization already."""
    if recipient.erased:
        return _ERASED
    if recipient.status != _ACTIVE:
        return _INACTIVE
    if recipient.address is None:
        return _NO_ADDRESS
    if recipient.address in suppressed:
        return _SUPPRESSED
    if not consent_ok(channel, category, recipient.consents):
        return _NO_CONSENT
    if category is not _TRANSACTIONAL and recipient.contact_id in capped:
        return _FREQUENCY_CAP
    if seen_addresses is not None:
        if recipient.address in seen_addresses:
            return _DUPLICATE_ADDRESS
        seen_addresses.add(recipient.address)
    return None


# Enum members looked up once: in Python 3.11 each ``Enum.member`` access is a descriptor call, and
# these rules run once per recipient (measured: ~100k such lookups were 7% of planning's CPU at 20k).
_ERASED, _INACTIVE, _NO_ADDRESS, _SUPPRESSED, _NO_CONSENT, _FREQUENCY_CAP, _DUPLICATE_ADDRESS = (
    Exclusion.erased, Exclusion.inactive, Exclusion.no_address, Exclusion.suppressed, Exclusion.no_consent,
    Exclusion.frequency_cap, Exclusion.duplicate_address,
)
_ACTIVE = ContactStatus.active.value
_TRANSACTIONAL = EmailCategory.transactional
_VALUE = {member: member.value for enum in (Channel, EmailCategory) for member in enum}


def _uniforms(campaign_id: int, contact_id: int) -> tuple[float, float]:
    """Two independent uniforms in [0, 1) from sha256(campaign_id:contact_id)."""
    digest = hashlib.sha256(f"{campaign_id}:{contact_id}".encode()).digest()
    return (
        int.from_bytes(digest[:8], "big") / 2**64,
        int.from_bytes(digest[8:16], "big") / 2**64,
    )


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: float
    template_code: str | None = None
    subject: str | None = None


def parse_variants(raw: list[dict[str, Any]] | None) -> list[Variant]:
    """Campaign ``variants`` JSON to :class:`Variant` objects; empty means one implicit arm."""
    variants = []
    for position, item in enumerate(raw or []):
        if not isinstance(item, dict) or not item.get("name"):
            raise ValueError(f"campaign variant #{position} needs a 'name': {item!r}")
        weight = float(item.get("weight", 1))
        if weight <= 0:
            raise ValueError(f"campaign variant {item['name']!r} has a non-positive weight {weight}")
        variants.append(Variant(item["name"], weight, item.get("template_code"), item.get("subject")))
    if len({v.name for v in variants}) != len(variants):
        raise ValueError("campaign variant names must be unique")
    return variants


class Assigner:
    """Holdout first (``holdout_percent``), then a variant by cumulative weight."""

    def __init__(self, campaign_id: int, holdout_percent: Decimal | float, variants: list[Variant]):
        self.campaign_id = campaign_id
        self.holdout = float(holdout_percent) / 100.0
        self.variants = variants
        total = sum(v.weight for v in variants)
        running = 0.0
        self._bounds = []
        for variant in variants:
            running += variant.weight / total
            self._bounds.append(running)

    def assign(self, contact_id: int) -> tuple[bool, str | None]:
        """(held_out, variant name or None)."""
        u_holdout, u_variant = _uniforms(self.campaign_id, contact_id)
        if u_holdout < self.holdout:
            return True, None
        if not self.variants:
            return False, None
        for variant, bound in zip(self.variants, self._bounds):
            if u_variant < bound:
                return False, variant.name
        return False, self.variants[-1].name
