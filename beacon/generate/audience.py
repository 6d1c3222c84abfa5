"""Contacts of one tenant, generated in chunks of numpy arrays and written through the shared store."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np

from beacon.generate.names import COUNTRIES, EMAIL_DOMAINS, HOME_SHARE, SOURCES, TAGS_BY_TYPE
from beacon.generate.tenants import Tenant

TWO_YEARS = 730 * 86400
STATUSES = ["active", "unsubscribed", "bounced", "complained", "blocked"]
STATUS_WEIGHTS = [0.92, 0.045, 0.025, 0.005, 0.005]


@lru_cache(maxsize=4096)
def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


@dataclass
class AudienceChunk:
    """One chunk of a tenant's contacts: the rows for the store plus the arrays later stages need."""

    rows: list[dict]
    signup: np.ndarray  # unix seconds
    email: list[str | None]
    external_id: list[str | None]
    phone: list[str | None]
    consent_email: np.ndarray
    consent_sms: np.ndarray
    status: np.ndarray  # index into STATUSES
    engagement: np.ndarray  # propensity to open, 0..1
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def signup_times(rng: np.random.Generator, n: int, as_of: datetime) -> np.ndarray:
    """Sign-ups over the two years before as-of, growing towards the present; sorted."""
    ago = (TWO_YEARS * (1 - np.sqrt(rng.random(n)))).astype(np.int64)
    return np.sort(int(as_of.timestamp()) - 1 - ago)


def _countries_for(tenant: Tenant, rng: np.random.Generator, n: int) -> list[str]:
    others = [c for c in COUNTRIES if c != tenant.country]
    home = rng.random(n) < HOME_SHARE
    picks = rng.integers(0, len(others), n)
    return [tenant.country if h else others[p] for h, p in zip(home, picks)]


def _phone(country: str, digits: np.ndarray) -> str:
    spec = COUNTRIES[country]
    first = spec.phone_first[int(digits[0]) % len(spec.phone_first)]
    return spec.phone_prefix + first + "".join(str(int(d)) for d in digits[1 : spec.phone_rest + 1])


def _custom_fields(type_code: str, r: np.ndarray) -> dict:
    if type_code == "ecommerce":
        return {"loyalty_tier": ["bronze", "silver", "gold"][int(r[0] * 3)], "cart_abandoned": bool(r[1] < 0.12),
                "preferred_category": ["apparel", "home", "accessories"][int(r[2] * 3)]}
    if type_code == "saas":
        return {"company": f"Company {int(r[0] * 5000)}", "seats": int(1 + r[1] * 40),
                "plan": ["basic", "pro", "enterprise"][int(r[2] ** 2 * 3)]}
    if type_code == "church":
        return {"campus": ["north", "south", "online"][int(r[0] * 3)], "baptized": bool(r[1] < 0.5)}
    return {"preferred_cause": ["education", "environment", "health"][int(r[0] * 3)], "gift_aid": bool(r[1] < 0.3)}


def contact_type_code(type_code: str, orders: int, alive: bool, r: float) -> str:
    """The contact type follows behaviour where the type has a buying ladder, else a fixed mix."""
    if type_code == "ecommerce":
        if orders == 0:
            return "lead" if r < 0.6 else "prospect"
        if not alive:
            return "churned"
        return "vip_customer" if orders >= 6 else "customer"
    if type_code == "saas":
        if orders == 0:
            return "trial_user" if r < 0.7 else "churned"
        return "enterprise" if r < 0.1 else ("subscriber" if alive else "churned")
    if type_code == "nonprofit":
        if orders > 0:
            return "donor" if r < 0.9 else "board_member"
        return "supporter" if r < 0.7 else "volunteer"
    if orders > 0:
        return "donor" if r < 0.3 else "member"
    return ["new_member", "visitor", "member", "volunteer", "inactive"][int(r * 5)]


def build_chunk(
    tenant: Tenant,
    rng: np.random.Generator,
    signup: np.ndarray,
    start_index: int,
    as_of: datetime,
    orders_per_contact: np.ndarray,
    alive: np.ndarray,
) -> AudienceChunk:
    n = len(signup)
    countries = _countries_for(tenant, rng, n)
    u = rng.random((n, 16))
    phone_digits = rng.integers(0, 10, (n, 10))
    status = np.minimum(np.searchsorted(np.cumsum(STATUS_WEIGHTS), u[:, 1], side="right"), len(STATUSES) - 1)
    has_email = u[:, 2] >= 0.04
    has_phone = (u[:, 3] < 0.45) | ~has_email
    erased = u[:, 4] < 0.002
    consent_email = has_email & (u[:, 5] < 0.82) & ~erased
    consent_sms = has_phone & (u[:, 6] < 0.4) & ~erased
    engagement = rng.beta(1.2, 3.0, n)
    tags_pool = TAGS_BY_TYPE[tenant.type_code]
    tag_counts = rng.integers(0, 4, n)
    tag_picks = rng.integers(0, len(tags_pool), (n, 3))
    updated_lag = (u[:, 7] * 200 * 86400).astype(np.int64)
    as_of_ts = int(as_of.timestamp())
    rows: list[dict] = []
    emails: list[str | None] = []
    external_ids: list[str | None] = []
    phones: list[str | None] = []
    for i in range(n):
        spec = COUNTRIES[countries[i]]
        first = spec.first_names[int(u[i, 8] * len(spec.first_names))]
        last = spec.last_names[int(u[i, 9] * len(spec.last_names))]
        index = start_index + i
        email = None
        if has_email[i]:
            local = f"{ascii_slug(first)}.{ascii_slug(last)}{index}"
            email = f"{local}@{EMAIL_DOMAINS[int(u[i, 10] * len(EMAIL_DOMAINS))]}"
            if u[i, 11] < 0.08:  # people type their address in many ways; identity is lower-cased
                email = f"{first[0].upper()}{email[1:]}" if email[0].isalpha() else email
        phone = _phone(countries[i], phone_digits[i]) if has_phone[i] else None
        # A buyer without an email still needs an identifier the orders can carry.
        needs_id = orders_per_contact[i] > 0 and email is None
        external_id = f"{tenant.slug[:3].upper()}-{index:07d}" if (u[i, 12] < 0.65 or needs_id) else None
        language = spec.language
        if countries[i] == "US" and u[i, 13] < 0.12:
            language = "es"
        created = datetime.fromtimestamp(int(signup[i]), UTC)
        updated = datetime.fromtimestamp(min(as_of_ts - 1, int(signup[i] + updated_lag[i])), UTC)
        city, region = spec.cities[int(u[i, 14] * len(spec.cities))]
        type_code = contact_type_code(tenant.type_code, int(orders_per_contact[i]), bool(alive[i]), float(u[i, 15]))
        tags = sorted({tags_pool[t] for t in tag_picks[i, : tag_counts[i]]})
        row = {
            "external_id": external_id, "email": email, "phone": phone, "first_name": first, "last_name": last,
            "birth_date": date(1950 + int(u[i, 8] * 55), 1 + int(u[i, 9] * 12), 1 + int(u[i, 10] * 28))
            if u[i, 13] < 0.3 else None,
            "gender": [None, None, "female", "male", "non_binary"][int(u[i, 11] * 4.99)],
            "city": city, "region": region, "country": countries[i], "timezone": spec.timezone,
            "language": language, "contact_type_id": tenant.contact_types.get(type_code),
            "status": STATUSES[int(status[i])], "tags": tags,
            "custom_fields": _custom_fields(tenant.type_code, u[i, 12:15]),
            "consent_email": bool(consent_email[i]), "consent_sms": bool(consent_sms[i]),
            "consent_transactional": bool(u[i, 5] < 0.98), "consent_promotional": bool(consent_email[i] and u[i, 6] < 0.7),
            "consent_newsletter": bool(consent_email[i] and u[i, 7] < 0.6),
            "source": SOURCES[int(u[i, 14] * len(SOURCES))], "erased_at": None,
            "created_at": created, "updated_at": updated,
        }
        if erased[i]:  # GDPR erasure: personal data gone, the row stays for counts
            row.update(email=None, phone=None, first_name=None, last_name=None, birth_date=None, external_id=None,
                       city=None, region=None, erased_at=updated)
            email = phone = external_id = None
        rows.append(row)
        emails.append(email)
        external_ids.append(external_id)
        phones.append(phone)
    return AudienceChunk(rows, signup, emails, external_ids, phones, consent_email, consent_sms, status, engagement)
