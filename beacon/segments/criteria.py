"""The segment-criteria grammar, validated with pydantic.

A node is ``{"all": [node, ...]}``, ``{"any": [node, ...]}``, ``{"not": node}`` or a condition
``{"field": F, "op": OP, "value": V}``. Fields come from an allow-list (plus ``custom.<key>``),
and each field accepts only the operators and value shapes that make sense for it, so a saved
segment always compiles. Problems are reported with a path into the document, e.g.
``criteria.all[1].field: unknown field 'ltv2'``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

MAX_DEPTH = 12
MAX_CONDITIONS = 200


class Op(StrEnum):
    eq = "eq"
    ne = "ne"
    lt = "lt"
    lte = "lte"
    gt = "gt"
    gte = "gte"
    in_ = "in"
    not_in = "not_in"
    between = "between"
    is_null = "is_null"
    is_not_null = "is_not_null"
    has_any = "has_any"
    has_all = "has_all"
    has_none = "has_none"
    contains = "contains"


class FieldKind(StrEnum):
    text = "text"
    number = "number"
    tags = "tags"
    ids = "ids"
    any = "any"  # custom.<key>: the tenant's own data, typed by the value given


NULL_OPS = {Op.is_null, Op.is_not_null}
LIST_OPS = {Op.in_, Op.not_in}
ORDER_OPS = {Op.lt, Op.lte, Op.gt, Op.gte}
TAG_OPS = {Op.has_any, Op.has_all, Op.has_none}

OPS_BY_KIND: dict[FieldKind, set[Op]] = {
    FieldKind.text: {Op.eq, Op.ne, Op.contains} | LIST_OPS | NULL_OPS,
    FieldKind.number: {Op.eq, Op.ne, Op.between} | ORDER_OPS | LIST_OPS | NULL_OPS,
    FieldKind.tags: TAG_OPS,
    FieldKind.ids: set(LIST_OPS),
    FieldKind.any: {Op.eq, Op.ne, Op.contains, Op.between} | ORDER_OPS | LIST_OPS | NULL_OPS,
}

FIELDS: dict[str, FieldKind] = {
    "lifecycle_stage": FieldKind.text,
    "contact_type": FieldKind.text,
    "tags": FieldKind.tags,
    "orders_count": FieldKind.number,
    "net_revenue": FieldKind.number,
    "predicted_clv_12m": FieldKind.number,
    "probability_alive": FieldKind.number,
    "last_order_days": FieldKind.number,
    "engaged_days": FieldKind.number,
    "country": FieldKind.text,
    "city": FieldKind.text,
    "status": FieldKind.text,
    "list_id": FieldKind.ids,
}
CUSTOM_KEY = re.compile(r"^custom\.[A-Za-z0-9_]{1,64}$")
STATUSES = {"active", "unsubscribed", "bounced", "complained", "blocked"}


def field_kind(name: str) -> FieldKind | None:
    if name in FIELDS:
        return FIELDS[name]
    return FieldKind.any if CUSTOM_KEY.match(name) else None


def _fail(kind: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    op: Op
    value: Any = None

    @model_validator(mode="before")
    @classmethod
    def _known_field(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("field"), str) and field_kind(data["field"]) is None:
            raise _fail("unknown_field", "unknown field '{field}' (allowed: {allowed}, custom.<key>)",
                        field=data["field"], allowed=", ".join(FIELDS))
        return data

    @model_validator(mode="after")
    def _value_fits(self) -> Condition:
        kind = field_kind(self.field)
        assert kind is not None
        if self.op not in OPS_BY_KIND[kind]:
            raise _fail("bad_op", "operator '{op}' does not apply to field '{field}' (allowed: {allowed})",
                        op=self.op.value, field=self.field, allowed=", ".join(sorted(o.value for o in OPS_BY_KIND[kind])))
        value, op = self.value, self.op
        if op in NULL_OPS:
            if value is not None:
                raise _fail("bad_value", "'{op}' takes no value", op=op.value)
            return self
        if op in LIST_OPS | TAG_OPS:
            if not isinstance(value, list) or not value:
                raise _fail("bad_value", "'{op}' needs a non-empty list", op=op.value)
            if kind is FieldKind.ids and not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise _fail("bad_value", "list ids must be integers")
            if not all(_is_scalar(v) for v in value):
                raise _fail("bad_value", "list items must be strings or numbers")
            if kind is FieldKind.tags and not all(isinstance(v, str) for v in value):
                raise _fail("bad_value", "tags must be strings")
            items = value
        elif op is Op.between:
            if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
                raise _fail("bad_value", "'between' needs [low, high] numbers")
            if value[0] > value[1]:
                raise _fail("bad_value", "'between' low {low} is above high {high}", low=value[0], high=value[1])
            items = value
        elif op in ORDER_OPS:
            if not (_is_number(value) or (kind is FieldKind.any and isinstance(value, str))):
                raise _fail("bad_value", "'{op}' needs a number", op=op.value)
            items = [value]
        elif op is Op.contains:
            if not isinstance(value, str) or not value:
                raise _fail("bad_value", "'contains' needs a non-empty string")
            items = [value]
        else:  # eq, ne
            if not _is_scalar(value):
                raise _fail("bad_value", "'{op}' needs a string or number", op=op.value)
            items = [value]
        if kind is FieldKind.number and not all(_is_number(v) for v in items):
            raise _fail("bad_value", "field '{field}' is numeric", field=self.field)
        if kind is FieldKind.text and not all(isinstance(v, str) for v in items):
            raise _fail("bad_value", "field '{field}' takes text", field=self.field)
        if self.field == "status" and not set(items) <= STATUSES:
            raise _fail("bad_value", "unknown status {bad} (allowed: {allowed})",
                        bad=sorted(set(items) - STATUSES), allowed=", ".join(sorted(STATUSES)))
        return self


class AllOf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    all: list[Node] = Field(min_length=1)


class AnyOf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    any: list[Node] = Field(min_length=1)


class Not(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    not_: Node = Field(alias="not")


NODE_TAGS = ("all", "any", "not", "condition")


def _node_tag(data: Any) -> str | None:
    if isinstance(data, BaseModel):
        return {AllOf: "all", AnyOf: "any", Not: "not", Condition: "condition"}.get(type(data))
    if not isinstance(data, dict):
        return None
    for key in ("all", "any", "not"):
        if key in data:
            return key
    return "condition" if "field" in data or "op" in data else None


Node = Annotated[
    Union[
        Annotated[AllOf, Tag("all")],
        Annotated[AnyOf, Tag("any")],
        Annotated[Not, Tag("not")],
        Annotated[Condition, Tag("condition")],
    ],
    Discriminator(
        _node_tag,
        custom_error_type="invalid_node",
        custom_error_message="expected {'all': [...]}, {'any': [...]}, {'not': {...}} or {'field', 'op', 'value'}",
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()
_NODE = TypeAdapter(Node)


class CriteriaError(ValueError):
    """Invalid criteria; ``problems`` are ``"<path>: <message>"`` strings, the first is the message."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if len(problems) == 1 else f"{problems[0]} (and {len(problems) - 1} more)")
        self.problems = problems


# Condition-level checks run on the whole condition; point the path at the key at fault.
_ERROR_KEY = {"unknown_field": ".field", "bad_op": ".op", "bad_value": ".value"}


def _path(loc: tuple[int | str, ...], root: str) -> str:
    # pydantic's loc interleaves union tags with keys: ('all', 'all', 1, 'condition', 'field');
    # drop the tag that follows every node position so the path reads like the document.
    path, expect_tag = root, True
    for part in loc:
        if expect_tag and part in NODE_TAGS:
            expect_tag = False
            continue
        expect_tag = False
        if isinstance(part, int):
            path += f"[{part}]"
            expect_tag = True
        else:
            path += f".{part}"
            expect_tag = part == "not"
    return path


def _walk(node: Any, depth: int, path: str, counter: list[int]) -> None:
    if depth > MAX_DEPTH:
        raise CriteriaError([f"{path}: nested deeper than {MAX_DEPTH} levels"])
    if isinstance(node, Condition):
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise CriteriaError([f"{path}: more than {MAX_CONDITIONS} conditions"])
    elif isinstance(node, Not):
        _walk(node.not_, depth + 1, f"{path}.not", counter)
    else:
        key = "all" if isinstance(node, AllOf) else "any"
        for i, child in enumerate(getattr(node, key)):
            _walk(child, depth + 1, f"{path}.{key}[{i}]", counter)


def parse_criteria(data: Any, *, root: str = "criteria") -> AllOf | AnyOf | Not | Condition:
    """Validate a criteria document; raise :class:`CriteriaError` naming every problem found."""
    try:
        node = _NODE.validate_python(data)
    except ValidationError as exc:
        problems = [
            f"{_path(err['loc'], root)}{_ERROR_KEY.get(err['type'], '')}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise CriteriaError(problems) from None
    _walk(node, 1, root, [0])
    return node


def dump_criteria(node: AllOf | AnyOf | Not | Condition) -> dict[str, Any]:
    """The canonical JSON form stored in ``segments.criteria``."""
    return _NODE.dump_python(node, by_alias=True, mode="json", exclude_none=False)
