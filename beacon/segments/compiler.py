"""Compile segment criteria (validated JSON) into one portable SQLAlchemy Core query.

Safety by construction: a field resolves only through ``FIELDS`` (an allow-list mapping names
to columns or bridge tables), an operator only through ``_COMPARISONS``/the per-kind handlers,
and every value is a bound parameter. The same query runs on DuckDB (duckdb_engine) and
PostgreSQL because tags, custom fields and lists are bridge tables (EXISTS subqueries) rather
than dialect-specific JSON or array operators.

The marts it reads (built by dbt; columns documented in docs/marts.md):
- ``marts.dim_contacts``: one row per contact with the profile fields below;
- ``marts.bridge_contact_tags`` (organization_id, contact_id, tag);
- ``marts.bridge_contact_custom_fields`` (organization_id, contact_id, field_key, value_text, value_number);
- ``marts.bridge_list_members`` (organization_id, list_id, contact_id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from beacon.tenancy import OrgId

MARTS = "marts"

contacts = sa.table(
    "dim_contacts",
    *(
        sa.column(name, type_)
        for name, type_ in {
            "organization_id": sa.BigInteger(),
            "contact_id": sa.BigInteger(),
            "email": sa.String(),
            "first_name": sa.String(),
            "last_name": sa.String(),
            "lifecycle_stage": sa.String(),
            "contact_type_code": sa.String(),
            "contact_status": sa.String(),
            "country_code": sa.String(),
            "city": sa.String(),
            "region": sa.String(),
            "orders_count": sa.Integer(),
            "net_revenue": sa.Numeric(),
            "predicted_clv_12m": sa.Numeric(),
            "probability_alive": sa.Float(),
            "last_order_at": sa.DateTime(timezone=True),
            "last_engaged_at": sa.DateTime(timezone=True),
        }.items()
    ),
    schema=MARTS,
)
contact_tags = sa.table(
    "bridge_contact_tags",
    sa.column("organization_id", sa.BigInteger()),
    sa.column("contact_id", sa.BigInteger()),
    sa.column("tag", sa.String()),
    schema=MARTS,
)
contact_custom_fields = sa.table(
    "bridge_contact_custom_fields",
    sa.column("organization_id", sa.BigInteger()),
    sa.column("contact_id", sa.BigInteger()),
    sa.column("field_key", sa.String()),
    sa.column("value_text", sa.String()),
    sa.column("value_number", sa.Float()),
    schema=MARTS,
)
list_members = sa.table(
    "bridge_list_members",
    sa.column("organization_id", sa.BigInteger()),
    sa.column("list_id", sa.BigInteger()),
    sa.column("contact_id", sa.BigInteger()),
    schema=MARTS,
)


class CriteriaError(ValueError):
    """Criteria that cannot be compiled; ``path`` names the offending node, e.g. ``all[1].field``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# Field kinds decide which operators apply and how values are bound.
TEXT, NUMBER, DAYS, TAGS, CUSTOM, LIST = "text", "number", "days", "tags", "custom", "list"

FIELDS: dict[str, tuple[str, str | None]] = {
    # criteria field: (kind, dim_contacts column)
    "lifecycle_stage": (TEXT, "lifecycle_stage"),
    "contact_type": (TEXT, "contact_type_code"),
    "status": (TEXT, "contact_status"),
    "country": (TEXT, "country_code"),
    "city": (TEXT, "city"),
    "region": (TEXT, "region"),
    "orders_count": (NUMBER, "orders_count"),
    "net_revenue": (NUMBER, "net_revenue"),
    "predicted_clv_12m": (NUMBER, "predicted_clv_12m"),
    "probability_alive": (NUMBER, "probability_alive"),
    "last_order_days": (DAYS, "last_order_at"),
    "engaged_days": (DAYS, "last_engaged_at"),
    "tags": (TAGS, None),
    "list_id": (LIST, None),
}
CUSTOM_PREFIX = "custom."

_COMPARISONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": lambda c, v: c == v,
    "ne": lambda c, v: c != v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
}
OPERATORS_BY_KIND: dict[str, set[str]] = {
    TEXT: {"eq", "ne", "in", "not_in", "is_null", "is_not_null", "contains"},
    NUMBER: {"eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "is_null", "is_not_null"},
    DAYS: {"lt", "lte", "gt", "gte", "between", "is_null", "is_not_null"},
    TAGS: {"has_any", "has_all", "has_none"},
    CUSTOM: {"eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "contains", "is_null", "is_not_null"},
    LIST: {"in", "not_in"},
}
MAX_DEPTH = 8
MAX_LIST_VALUES = 1000


@dataclass(frozen=True)
class CompiledSegment:
    """The WHERE clause of a segment, scoped to one organization, over ``marts.dim_contacts``."""

    where: ColumnElement[bool]

    def members(self, *columns: sa.ColumnElement) -> sa.Select:
        return sa.select(*(columns or (contacts.c.contact_id,))).where(self.where)

    def count(self) -> sa.Select:
        return sa.select(sa.func.count()).select_from(contacts).where(self.where)

    def sample(self, limit: int = 20) -> sa.Select:
        cols = [contacts.c[name] for name in ("contact_id", "email", "first_name", "last_name", "lifecycle_stage", "country_code")]
        return sa.select(*cols).where(self.where).order_by(contacts.c.contact_id).limit(limit)


def compile_segment(criteria: Mapping[str, Any], org: OrgId, *, as_of: datetime) -> CompiledSegment:
    """Criteria → a tenant-scoped WHERE clause. ``as_of`` anchors the "within N days" fields."""
    where = sa.and_(contacts.c.organization_id == sa.bindparam("org", org, type_=sa.BigInteger()),
                    _node(criteria, "", org, as_of, 0))
    return CompiledSegment(where=where)


def _node(node: Any, path: str, org: OrgId, as_of: datetime, depth: int) -> ColumnElement[bool]:
    if depth > MAX_DEPTH:
        raise CriteriaError(path, f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(node, Mapping):
        raise CriteriaError(path, "expected an object")
    keys = set(node)
    for combinator, join in (("all", sa.and_), ("any", sa.or_)):
        if keys == {combinator}:
            children = node[combinator]
            if not isinstance(children, list) or not children:
                raise CriteriaError(_join(path, combinator), "expected a non-empty list")
            return join(*(_node(c, f"{_join(path, combinator)}[{i}]", org, as_of, depth + 1) for i, c in enumerate(children)))
    if keys == {"not"}:
        return sa.not_(_node(node["not"], _join(path, "not"), org, as_of, depth + 1))
    if "field" in keys and "op" in keys and keys <= {"field", "op", "value"}:
        return _condition(node, path, org, as_of)
    raise CriteriaError(path, "expected one of {all}, {any}, {not} or a condition {field, op, value}")


def _condition(node: Mapping[str, Any], path: str, org: OrgId, as_of: datetime) -> ColumnElement[bool]:
    field, op, value = node["field"], node["op"], node.get("value")
    if not isinstance(field, str):
        raise CriteriaError(_join(path, "field"), "expected a string")
    if field.startswith(CUSTOM_PREFIX) and len(field) > len(CUSTOM_PREFIX):
        kind, column = CUSTOM, None
    elif field in FIELDS:
        kind, column = FIELDS[field]
    else:
        raise CriteriaError(_join(path, "field"), f"unknown field {field!r}")
    if op not in OPERATORS_BY_KIND[kind]:
        allowed = ", ".join(sorted(OPERATORS_BY_KIND[kind]))
        raise CriteriaError(_join(path, "op"), f"operator {op!r} does not apply to {field!r} (allowed: {allowed})")
    value_path = _join(path, "value")
    if kind == TAGS:
        return _tags(op, _string_list(value, value_path), org)
    if kind == LIST:
        ids = [_integer(v, f"{value_path}[{i}]") for i, v in enumerate(_list(value, value_path))]
        member = sa.exists().where(
            list_members.c.organization_id == org,
            list_members.c.contact_id == contacts.c.contact_id,
            list_members.c.list_id.in_(ids),
        )
        return member if op == "in" else ~member
    if kind == CUSTOM:
        return _custom(field.removeprefix(CUSTOM_PREFIX), op, value, value_path, org)
    col = contacts.c[column]
    if op == "is_null":
        return col.is_(None)
    if op == "is_not_null":
        return col.is_not(None)
    if kind == DAYS:
        return _days(col, op, value, value_path, as_of)
    coerce = _number if kind == NUMBER else _string
    return _compare(col, op, value, value_path, coerce)


def _compare(col, op: str, value: Any, path: str, coerce: Callable[[Any, str], Any]) -> ColumnElement[bool]:
    if op in _COMPARISONS:
        return _COMPARISONS[op](col, coerce(value, path))
    if op in {"in", "not_in"}:
        values = [coerce(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path))]
        return col.in_(values) if op == "in" else col.not_in(values)
    if op == "between":
        low, high = _pair(value, path, coerce)
        return col.between(low, high)
    if op == "contains":
        return col.contains(_string(value, path), autoescape=True)
    raise CriteriaError(path, f"unsupported operator {op!r}")  # unreachable: checked against the allow-list


def _days(col, op: str, value: Any, path: str, as_of: datetime) -> ColumnElement[bool]:
    """"Days since X" compared with N. No X at all counts as infinitely long ago."""

    def cutoff(days: Any, where: str) -> datetime:
        return as_of - timedelta(days=_number(days, where))

    if op == "between":
        low, high = _pair(value, path, _number)
        return col.between(cutoff(high, path), cutoff(low, path))
    threshold = cutoff(value, path)
    if op in {"lt", "lte"}:  # recent: within N days
        return col > threshold if op == "lt" else col >= threshold
    older = col < threshold if op == "gt" else col <= threshold
    return sa.or_(older, col.is_(None))


def _tags(op: str, tags: list[str], org: OrgId) -> ColumnElement[bool]:
    def has(tag_filter: ColumnElement[bool]) -> sa.Exists:
        return sa.exists().where(
            contact_tags.c.organization_id == org,
            contact_tags.c.contact_id == contacts.c.contact_id,
            tag_filter,
        )

    if op == "has_any":
        return has(contact_tags.c.tag.in_(tags))
    if op == "has_none":
        return ~has(contact_tags.c.tag.in_(tags))
    return sa.and_(*(has(contact_tags.c.tag == tag) for tag in tags))


def _custom(key: str, op: str, value: Any, path: str, org: OrgId) -> ColumnElement[bool]:
    scoped = (
        contact_custom_fields.c.organization_id == org,
        contact_custom_fields.c.contact_id == contacts.c.contact_id,
        contact_custom_fields.c.field_key == key,
    )
    if op == "is_null":
        return ~sa.exists().where(*scoped)
    if op == "is_not_null":
        return sa.exists().where(*scoped)
    sample = value[0] if op in {"in", "not_in", "between"} and isinstance(value, list) and value else value
    numeric = isinstance(sample, (int, float)) and not isinstance(sample, bool)
    if op in {"lt", "lte", "gt", "gte", "between"} and not numeric:
        raise CriteriaError(path, f"operator {op!r} on a custom field needs a number")
    col = contact_custom_fields.c.value_number if numeric else contact_custom_fields.c.value_text
    coerce = _number if numeric else _string
    return sa.exists().where(*scoped, _compare(col, op, value, path, coerce))


# ----------------------------------------------------------------------------- value checks


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _list(value: Any, path: str) -> list:
    if not isinstance(value, list) or not value:
        raise CriteriaError(path, "expected a non-empty list")
    if len(value) > MAX_LIST_VALUES:
        raise CriteriaError(path, f"at most {MAX_LIST_VALUES} values")
    return value


def _pair(value: Any, path: str, coerce: Callable[[Any, str], Any]) -> tuple[Any, Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise CriteriaError(path, "expected [low, high]")
    low, high = coerce(value[0], f"{path}[0]"), coerce(value[1], f"{path}[1]")
    if low > high:
        raise CriteriaError(path, "low is greater than high")
    return low, high


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise CriteriaError(path, "expected a string")
    return value


def _string_list(value: Any, path: str) -> list[str]:
    return [_string(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path))]


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CriteriaError(path, "expected a number")
    return value


def _integer(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CriteriaError(path, "expected an integer id")
    return value
