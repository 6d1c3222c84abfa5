"""Exclusion rules and the deterministic holdout / A/B assignment (pure functions)."""

from __future__ import annotations

from collections import Counter

import pytest

from activation.decide import Assigner, Exclusion, Recipient, exclusion_for, parse_variants
from beacon.schema.models import Channel, EmailCategory

CONSENTS = {"email": True, "sms": True, "transactional": True, "promotional": True, "newsletter": True}


def recipient(contact_id=1, address="a@example.com", status="active", erased=False, **consents):
    return Recipient(contact_id, address, status, "en", {**CONSENTS, **consents}, erased, {})


def decide(r, *, category=EmailCategory.promotional, suppressed=(), capped=(), seen=None):
    return exclusion_for(r, channel=Channel.email, category=category, suppressed=set(suppressed), capped=set(capped),
                         seen_addresses=seen)


@pytest.mark.parametrize(
    ("r", "kwargs", "expected"),
    [
        (recipient(), {}, None),
        (recipient(status="unsubscribed"), {}, Exclusion.inactive),
        (recipient(erased=True), {}, Exclusion.erased),
        (recipient(address=None), {}, Exclusion.no_address),
        (recipient(), {"suppressed": ["a@example.com"]}, Exclusion.suppressed),
        (recipient(email=False), {}, Exclusion.no_consent),
        (recipient(promotional=False), {}, Exclusion.no_consent),
        (recipient(newsletter=False), {}, None),  # promotional mail does not need newsletter consent
        (recipient(newsletter=False), {"category": EmailCategory.newsletter}, Exclusion.no_consent),
        (recipient(), {"capped": [1]}, Exclusion.frequency_cap),
        # transactional mail is exempt from marketing consent and from the frequency cap
        (recipient(email=False, promotional=False), {"category": EmailCategory.transactional}, None),
        (recipient(), {"category": EmailCategory.transactional, "capped": [1]}, None),
        (recipient(transactional=False), {"category": EmailCategory.transactional}, Exclusion.no_consent),
        # suppression wins over a transactional exemption
        (recipient(), {"category": EmailCategory.transactional, "suppressed": ["a@example.com"]}, Exclusion.suppressed),
    ],
)
def test_exclusion_rules(r, kwargs, expected):
    assert decide(r, **kwargs) == expected


def test_duplicate_addresses_are_excluded_once_seen():
    seen: set[str] = set()
    assert decide(recipient(1), seen=seen) is None
    assert decide(recipient(2), seen=seen) is Exclusion.duplicate_address


def test_assignment_is_deterministic_and_matches_weights():
    variants = parse_variants([{"name": "A", "weight": 70}, {"name": "B", "weight": 30}])
    first = Assigner(7, 10, variants)
    again = Assigner(7, 10, variants)
    arms = Counter()
    for contact_id in range(20_000):
        outcome = first.assign(contact_id)
        assert outcome == again.assign(contact_id)
        arms["holdout" if outcome[0] else outcome[1]] += 1
    assert 1_800 < arms["holdout"] < 2_200  # 10 % of 20,000
    treated = arms["A"] + arms["B"]
    assert 0.67 < arms["A"] / treated < 0.73
    # another campaign shuffles contacts differently
    other = Assigner(8, 10, variants)
    assert sum(first.assign(c) != other.assign(c) for c in range(1_000)) > 300


def test_bad_variants_are_refused():
    with pytest.raises(ValueError, match="needs a 'name'"):
        parse_variants([{"weight": 1}])
    with pytest.raises(ValueError, match="non-positive weight"):
        parse_variants([{"name": "A", "weight": 0}])
    with pytest.raises(ValueError, match="unique"):
        parse_variants([{"name": "A"}, {"name": "A"}])
