"""The segment-criteria grammar: valid documents round-trip; invalid ones name the path and the problem."""

from __future__ import annotations

import pytest

from beacon.segments.criteria import MAX_DEPTH, CriteriaError, dump_criteria, parse_criteria

VALID = [
    {"field": "country", "op": "eq", "value": "US"},
    {"all": [{"field": "net_revenue", "op": "gte", "value": 500}, {"field": "tags", "op": "has_any", "value": ["vip"]}]},
    {"any": [{"field": "status", "op": "in", "value": ["active"]}, {"not": {"field": "city", "op": "is_null"}}]},
    {"field": "last_order_days", "op": "between", "value": [30, 90]},
    {"field": "list_id", "op": "in", "value": [1, 2]},
    {"field": "custom.favourite_colour", "op": "contains", "value": "blu"},
    {"field": "probability_alive", "op": "lt", "value": 0.3},
]


@pytest.mark.parametrize("criteria", VALID)
def test_valid_criteria_round_trip(criteria):
    dumped = dump_criteria(parse_criteria(criteria))
    assert dump_criteria(parse_criteria(dumped)) == dumped


@pytest.mark.parametrize(
    ("criteria", "problem"),
    [
        ({"all": [{"field": "country", "op": "eq", "value": "US"}, {"field": "ltv2", "op": "gt", "value": 1}]},
         "criteria.all[1].field: unknown field 'ltv2'"),
        ({"not": {"any": [{"field": "tags", "op": "has_any", "value": []}]}}, "criteria.not.any[0].value: 'has_any' needs a non-empty list"),
        ({"field": "country", "op": "gt", "value": 1}, "criteria.op: operator 'gt' does not apply to field 'country'"),
        ({"field": "net_revenue", "op": "between", "value": [9, 1]}, "criteria.value: 'between' low 9 is above high 1"),
        ({"field": "net_revenue", "op": "eq", "value": "lots"}, "criteria.value: field 'net_revenue' is numeric"),
        ({"field": "status", "op": "eq", "value": "happy"}, "criteria.value: unknown status ['happy']"),
        ({"field": "city", "op": "is_null", "value": "x"}, "criteria.value: 'is_null' takes no value"),
        ({"field": "list_id", "op": "in", "value": ["a"]}, "criteria.value: list ids must be integers"),
        ({"field": "custom.bad key", "op": "eq", "value": 1}, "criteria.field: unknown field 'custom.bad key'"),
        ({"all": []}, "criteria.all: List should have at least 1 item"),
        ({"field": "city", "op": "like", "value": "x"}, "criteria.op: Input should be"),
        ({"field": "city", "op": "eq", "value": "x", "extra": 1}, "criteria.extra: Extra inputs are not permitted"),
        ({"everything": True}, "criteria: expected {'all': [...]}"),
        ([1, 2], "criteria: expected {'all': [...]}"),
    ],
)
def test_invalid_criteria_name_the_problem(criteria, problem):
    with pytest.raises(CriteriaError) as caught:
        parse_criteria(criteria)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_depth_is_bounded():
    node: dict = {"field": "city", "op": "eq", "value": "x"}
    for _ in range(MAX_DEPTH + 1):
        node = {"not": node}
    with pytest.raises(CriteriaError, match="nested deeper"):
        parse_criteria(node)
