"""Contact file headers: common spellings mapped to Beacon's fields, ignoring case, spaces and punctuation."""

from __future__ import annotations

import re

FIELDS = (
    "email", "phone", "first_name", "last_name", "external_id", "country", "city", "tags", "contact_type",
    "consent_email", "consent_sms",
)  # fmt: skip

_ALIASES = {
    "email": ("email", "e-mail", "email address", "e-mail address", "mail"),
    "phone": ("phone", "mobile", "phone number", "mobile number", "cell", "telephone"),
    "first_name": ("first name", "firstname", "given name", "forename"),
    "last_name": ("last name", "lastname", "surname", "family name"),
    "external_id": ("customer id", "external id", "customer number", "externalid"),
    "country": ("country", "country code"),
    "city": ("city", "town"),
    "tags": ("tags", "tag", "labels"),
    "contact_type": ("contact type", "type"),
    "consent_email": ("consent email", "email consent", "email opt in", "accepts email"),
    "consent_sms": ("consent sms", "sms consent", "sms opt in", "accepts sms"),
}


def squash(header: str) -> str:
    """'E-mail Address ' -> 'emailaddress': the comparison key for headers."""
    return re.sub(r"[^0-9a-z]", "", header.strip().lower())


ALIASES: dict[str, str] = {squash(alias): field for field, aliases in _ALIASES.items() for alias in aliases}
ALIASES.update({squash(f): f for f in FIELDS})


def recognise(header: str) -> str | None:
    """The Beacon field a header names, or None (the column then goes to custom_fields)."""
    return ALIASES.get(squash(header))
