"""Automations: steps follow each entrant by their delays; leaving the audience stops the series."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from activation.automation import Membership, Step, due_steps, parse_steps, run_automation
from activation.providers import RetryPolicy
from activation.run import RunOptions
from beacon.schema.models import Campaign, Send
from tests.activation.conftest import sendgrid_messages

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEPS = [Step(1, 0, "welcome"), Step(2, 3, "tips")]


def test_due_steps_follow_delays_and_exits():
    members = [
        Membership(1, T0),  # entered long ago: both steps due
        Membership(2, T0 + timedelta(days=9)),  # entered yesterday: only step 1
        Membership(3, T0, exited_at=T0 + timedelta(days=1)),  # left before step 2 was due
        Membership(4, T0 - timedelta(days=30)),  # in the audience before the cursor, never enrolled
    ]
    now = T0 + timedelta(days=10)
    due, enrolled, stopped = due_steps(STEPS, members, last_run_at=T0 - timedelta(days=1), enrolled_before=set(), now=now)
    assert due == {1: [1, 2, 3], 2: [1]}
    assert (enrolled, stopped) == (3, 1)


def test_bad_steps_are_refused():
    with pytest.raises(ValueError, match="at least one step"):
        parse_steps([])
    with pytest.raises(ValueError, match="template_code"):
        parse_steps([{"step": 1}])


def test_automation_runs_each_step_once(world, fake):
    ids = world.contacts(3)
    world.template("welcome", subject="Welcome {{ contact.first_name }}")
    world.template("tips", subject="Tips for {{ contact.first_name }}")
    campaign_id = world.campaign(
        list_id=world.list_of([]), template_code="welcome", trigger_mode="automation",
        automation_steps=[{"step": 1, "delay_days": 0, "template_code": "welcome"},
                          {"step": 2, "delay_days": 3, "template_code": "tips"}],
        last_run_at=T0 - timedelta(hours=1),
    )
    options = RunOptions(retry=RetryPolicy(3, 0.01, 0.05))
    members = [Membership(ids[0], T0), Membership(ids[1], T0), Membership(ids[2], T0, exited_at=T0 + timedelta(days=2))]
    first = run_automation(campaign_id, world.org, memberships=members, now=T0 + timedelta(days=1), options=options)
    assert first.enrolled == 3 and first.steps[1].sent == 3 and 2 not in first.steps
    # later: step 2 for those still in the audience; step 1 is not repeated
    second = run_automation(campaign_id, world.org, memberships=members, now=T0 + timedelta(days=4), options=options)
    assert 1 not in second.steps or second.steps[1].sent == 0
    assert second.steps[2].sent == 2 and second.stopped == 1
    third = run_automation(campaign_id, world.org, memberships=members, now=T0 + timedelta(days=5), options=options)
    assert all(r.sent == 0 for r in third.steps.values())
    subjects = Counter(m["subject"].split()[0] for m in sendgrid_messages(fake))
    assert subjects == {"Welcome": 3, "Tips": 2}
    with world.engine.connect() as conn:
        steps = Counter(conn.scalars(select(Send.step).where(Send.campaign_id == campaign_id)))
        cursor = conn.scalar(select(Campaign.last_run_at).where(Campaign.id == campaign_id))
    assert steps == {1: 3, 2: 2}
    assert cursor.replace(tzinfo=UTC) == T0 + timedelta(days=5)
