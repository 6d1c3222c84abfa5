"""One imported row -> the values Beacon stores, or the reason it cannot be imported.

Libraries do the judging: ``email-validator`` (syntax only, no DNS), ``phonenumbers`` (E.164,
with the row's or the organization's country as the default region), ``pycountry`` (country
names or codes -> ISO 3166-1 alpha-2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from beacon.schema.seed_data import contact_type_code
from ingestion.files.validate import MAX_FIELD_CHARS

TRUE = {"yes", "y", "true", "t", "1", "on"}
FALSE = {"no", "n", "false", "f", "0", "off"}
# Column widths of the contacts table: longer values are quarantined, never truncated.
MAX_LENGTHS = {"email": 320, "external_id": 128, "first_name": 100, "last_name": 100, "city": 100}


class RowProblem(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Context:
    """What normalisation needs to know about the organization."""

    default_region: str | None
    contact_types: dict[str, int]  # code -> id


# An ASCII dot-atom local part (RFC 5322) needs no further checks; anything else (quoted,
# internationalised, odd) goes through email-validator whole.
_SIMPLE_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=65_536)
def _domain_problem(domain: str) -> str | None:
    try:
        validate_email(f"a@{domain}", check_deliverability=False)
        return None
    except EmailNotValidError as exc:
        return str(exc)


def email_problem(email: str) -> str | None:
    """email-validator's verdict; domains are validated once each (the slow part, cached)."""
    local, at, domain = email.rpartition("@")
    if at and len(local) <= 64 and _SIMPLE_LOCAL.fullmatch(local):
        return _domain_problem(domain)
    try:
        validate_email(email, check_deliverability=False)
        return None
    except EmailNotValidError as exc:
        return str(exc)


@lru_cache(maxsize=65_536)
def e164(raw: str, region: str | None) -> str:
    """The number in E.164, or RowProblem (cached: imports repeat formats and numbers)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise RowProblem("invalid_phone", f"phone {raw!r}: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise RowProblem("invalid_phone", f"phone {raw!r} is not a valid number for region {region or '(none: needs +country code)'}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=512)
def country_code(value: str) -> str | None:
    import pycountry

    try:
        return pycountry.countries.lookup(value).alpha_2
    except LookupError:
        return None


def parse_bool(field: str, value: str | None) -> bool | None:
    if value is None:
        return None
    key = value.strip().lower()
    if key in TRUE:
        return True
    if key in FALSE:
        return False
    raise RowProblem(f"invalid_consent:{field}", f"{field} {value!r} is not yes/no/true/false/1/0")


def split_tags(value: str | None) -> list[str]:
    if not value:
        return []
    seen: dict[str, None] = {}
    for tag in re.split(r"[;,]", value):
        if tag.strip():
            seen.setdefault(tag.strip(), None)
    return list(seen)


def normalise(values: dict[str, str | None], extras: dict[str, str | None], ctx: Context) -> dict:
    """Clean one row; raises :class:`RowProblem` naming the first problem found."""
    v = {k: (s.strip() or None) if isinstance(s, str) else s for k, s in values.items()}
    if not any(v.values()) and not any((s or "").strip() for s in extras.values()):
        raise RowProblem("empty_row", "the row has no values")
    for field, value in (*v.items(), *extras.items()):
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise RowProblem(f"field_too_large:{field}", f"{field} is {len(value)} characters (limit {MAX_FIELD_CHARS})")
    for field, limit in MAX_LENGTHS.items():
        if v.get(field) and len(v[field]) > limit:
            raise RowProblem(f"field_too_long:{field}", f"{field} is {len(v[field])} characters (limit {limit})")
    if not v.get("email") and not v.get("external_id"):
        raise RowProblem("missing_identifier", "a contact needs an email or an external id")
    out: dict = {"external_id": v.get("external_id"), "first_name": v.get("first_name"), "last_name": v.get("last_name"), "city": v.get("city")}
    email = v.get("email")
    if email:
        problem = email_problem(email)
        if problem:
            raise RowProblem("invalid_email", f"email {email!r}: {problem}")
    out["email"] = email
    country = None
    if v.get("country"):
        country = country_code(v["country"])
        if country is None:
            raise RowProblem("unknown_country", f"country {v['country']!r} is not an ISO 3166 country name or code")
    out["country"] = country
    out["phone"] = None
    if v.get("phone"):
        out["phone"] = e164(v["phone"], country or ctx.default_region)
    out["contact_type_id"] = None
    if v.get("contact_type"):
        code = contact_type_code(v["contact_type"])
        if code not in ctx.contact_types:
            raise RowProblem(
                "unknown_contact_type", f"contact type {v['contact_type']!r} is not one of {', '.join(ctx.contact_types)}"
            )
        out["contact_type_id"] = ctx.contact_types[code]
    out["consent_email"] = parse_bool("consent_email", v.get("consent_email"))
    out["consent_sms"] = parse_bool("consent_sms", v.get("consent_sms"))
    out["tags"] = split_tags(v.get("tags"))
    out["custom_fields"] = {k: s.strip() for k, s in extras.items() if isinstance(s, str) and s.strip()}
    return out
