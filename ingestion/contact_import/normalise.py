"""Imported rows -> the values Beacon stores, or the reason each cannot be imported.

Libraries do the judging: ``email-validator`` (syntax only, no DNS), ``phonenumbers`` (E.164,
with the row's or the organization's country as the default region), ``pycountry`` (country
names or codes -> ISO 3166-1 alpha-2).

:func:`normalise_batch` works a batch at a time: trimming, emptiness and length rules run as
Arrow kernels over whole columns, and the library checks run once per distinct value (emails'
domains, countries, phone numbers with their region, contact types, consents, tag lists), so the
per-row Python work is building the output dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
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


# Phones repeat across imports and formats ("(201) 555-0100", "201-555-0100"); 1M entries of
# (raw, region) -> E.164 are ~200 MB at most, and parsing one costs ~100 µs.
@lru_cache(maxsize=1 << 20)
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


@lru_cache(maxsize=65_536)
def _tags(value: str) -> list[str]:
    """Shared list per distinct cell: callers never mutate it (the merge builds new lists)."""
    return split_tags(value)


def split_tags(value: str | None) -> list[str]:
    if not value:
        return []
    seen: dict[str, None] = {}
    for tag in re.split(r"[;,]", value):
        if tag.strip():
            seen.setdefault(tag.strip(), None)
    return list(seen)


def _blank_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _rows(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))


def normalise_batch(table: pa.Table, fields: tuple[str, ...], ctx: Context) -> list[dict | RowProblem]:
    """:func:`normalise` for every row of ``table`` (columns ``fields`` and ``extra:<header>``),
    with the same first-failing rule per row."""
    n = table.num_rows
    values = {f: _blank_to_null(table[f].cast(pa.string())) for f in fields}
    raw_extras = {c[6:]: table[c].cast(pa.string()) for c in table.column_names if c.startswith("extra:")}
    extras = {name: _blank_to_null(column) for name, column in raw_extras.items()}
    problems: list[RowProblem | None] = [None] * n

    def flag(mask, problem: Callable[[int], RowProblem]) -> None:
        for i in _rows(mask):
            if problems[i] is None:
                problems[i] = problem(int(i))

    empty = pa.chunked_array([pa.array(np.ones(n, dtype=bool))]) if n else pa.chunked_array([], pa.bool_())
    for column in (*values.values(), *extras.values()):
        empty = pc.and_(empty, pc.is_null(column))
    flag(empty, lambda i: RowProblem("empty_row", "the row has no values"))
    for name, column in (*values.items(), *raw_extras.items()):
        lengths = pc.utf8_length(column)
        if (pc.max(lengths).as_py() or 0) > MAX_FIELD_CHARS:
            sizes = lengths.to_pylist()
            flag(pc.greater(lengths, MAX_FIELD_CHARS),
                 lambda i, name=name, sizes=sizes: RowProblem(f"field_too_large:{name}", f"{name} is {sizes[i]} characters (limit {MAX_FIELD_CHARS})"))  # fmt: skip
    for name, limit in MAX_LENGTHS.items():
        lengths = pc.utf8_length(values[name])
        sizes = lengths.to_pylist()
        flag(pc.greater(lengths, limit),
             lambda i, name=name, limit=limit, sizes=sizes: RowProblem(f"field_too_long:{name}", f"{name} is {sizes[i]} characters (limit {limit})"))  # fmt: skip
    flag(pc.and_(pc.is_null(values["email"]), pc.is_null(values["external_id"])),
         lambda i: RowProblem("missing_identifier", "a contact needs an email or an external id"))  # fmt: skip

    col = {f: values[f].to_pylist() for f in fields}
    emails, countries, phones, types = col["email"], col["country"], col["phone"], col["contact_type"]
    country_codes: list[str | None] = [None] * n
    type_ids: list[int | None] = [None] * n
    phone_numbers: list[str | None] = [None] * n
    consents = {name: [None] * n for name in ("consent_email", "consent_sms")}
    known_types: dict[str, int] = {}
    for i in range(n):
        if problems[i] is not None:
            continue
        try:
            if emails[i] and (problem := email_problem(emails[i])):
                raise RowProblem("invalid_email", f"email {emails[i]!r}: {problem}")
            if countries[i]:
                country_codes[i] = country_code(countries[i])
                if country_codes[i] is None:
                    raise RowProblem("unknown_country", f"country {countries[i]!r} is not an ISO 3166 country name or code")
            if phones[i]:
                phone_numbers[i] = e164(phones[i], country_codes[i] or ctx.default_region)
            if types[i]:
                if types[i] not in known_types:
                    known_types[types[i]] = _contact_type_id(types[i], ctx)
                type_ids[i] = known_types[types[i]]
            for name, parsed in consents.items():
                parsed[i] = parse_bool(name, col[name][i])
        except RowProblem as problem:
            problems[i] = problem

    extra_cols = [(name, column.to_pylist()) for name, column in extras.items()]
    tags = col["tags"]
    out: list[dict | RowProblem] = []
    for i in range(n):
        if problems[i] is not None:
            out.append(problems[i])
            continue
        out.append(
            {
                "external_id": col["external_id"][i], "first_name": col["first_name"][i], "last_name": col["last_name"][i],
                "city": col["city"][i], "email": emails[i], "country": country_codes[i], "phone": phone_numbers[i],
                "contact_type_id": type_ids[i], "consent_email": consents["consent_email"][i],
                "consent_sms": consents["consent_sms"][i], "tags": _tags(tags[i]) if tags[i] else [],
                "custom_fields": {name: cells[i] for name, cells in extra_cols if cells[i] is not None},
            }
        )  # fmt: skip
    return out


def _contact_type_id(value: str, ctx: Context) -> int:
    code = contact_type_code(value)
    if code not in ctx.contact_types:
        raise RowProblem("unknown_contact_type", f"contact type {value!r} is not one of {', '.join(ctx.contact_types)}")
    return ctx.contact_types[code]
