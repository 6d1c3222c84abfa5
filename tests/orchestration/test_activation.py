"""Activation in Dagster on a real instance (temporary DAGSTER_HOME): the sensor turns queued and due campaigns
into one run request each, the job sends through the fake SendGrid (official SDK over HTTP) and
marks the campaign sent, and a second evaluation asks for nothing. Both operational back ends."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from dagster import DagsterInstance, SkipReason, build_schedule_context, build_sensor_context
from sqlalchemy import select

from beacon.schema.models import Campaign, Send
from orchestration.activation import (
    CAMPAIGN_TAG,
    ORGANIZATION_TAG,
    automations_hourly,
    queued_campaigns_sensor,
    run_automation_job,
    send_campaign,
    send_campaign_op,
)
from orchestration.policies import TRANSIENT_RETRY
from tests.activation.conftest import activation_db, fake, fake_server, sendgrid_messages, world  # noqa: F401 (fixtures)


@pytest.fixture
def instance(tmp_path):
    # a real instance on disk (a temporary DAGSTER_HOME): schedules need its reference, runs are stored
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        yield instance


def _requests_for(result, org) -> list:
    if isinstance(result, SkipReason):
        return []
    return [r for r in result if r.tags[ORGANIZATION_TAG] == str(org)]


def _status(world, campaign_id) -> str:
    with world.engine.connect() as conn:
        return conn.scalar(select(Campaign.status).where(Campaign.id == campaign_id)).value


def test_sensor_launches_each_due_campaign_once_and_the_job_sends_it(world, fake, instance):
    ids = world.contacts(12)
    world.template()
    audience = world.list_of(ids)
    now = datetime.now(UTC)
    queued = world.campaign(list_id=audience, status="queued", scheduled_at=now)
    world.campaign(list_id=audience, status="scheduled", scheduled_at=now + timedelta(days=1))  # not due yet
    world.campaign(list_id=audience, status="draft")

    requests = _requests_for(queued_campaigns_sensor(build_sensor_context(instance=instance)), world.org)
    assert [r.tags[CAMPAIGN_TAG] for r in requests] == [str(queued)]
    request = requests[0]
    assert str(queued) in request.run_key and "queued" in request.run_key
    # evaluated again before the run starts: the same run key, so Dagster launches it once
    again = _requests_for(queued_campaigns_sensor(build_sensor_context(instance=instance)), world.org)
    assert [r.run_key for r in again] == [request.run_key]

    result = send_campaign.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags)
    assert result.success
    assert _status(world, queued) == "sent"
    messages = [m for m in sendgrid_messages(fake) if m["custom_args"]["campaign_id"] == str(queued)]
    assert len(messages) == 12 and len({m["custom_args"]["send_id"] for m in messages}) == 12
    with world.engine.connect() as conn:
        statuses = Counter(s.value for s in conn.scalars(select(Send.status).where(Send.campaign_id == queued)))
    assert statuses == {"sent": 12}

    assert _requests_for(queued_campaigns_sensor(build_sensor_context(instance=instance)), world.org) == []


def test_sensor_skips_a_campaign_whose_run_is_in_progress_and_picks_due_scheduled_ones(world, fake, instance):
    world.template()
    audience = world.list_of(world.contacts(2))
    now = datetime.now(UTC)
    running = world.campaign(list_id=audience, status="sending", scheduled_at=now - timedelta(minutes=5))
    due = world.campaign(list_id=audience, status="scheduled", scheduled_at=now - timedelta(minutes=1))
    config = {"ops": {send_campaign_op.name: {"config": {"organization_id": int(world.org), "campaign_id": running}}}}
    instance.create_run_for_job(send_campaign, run_config=config,
                                tags={ORGANIZATION_TAG: str(world.org), CAMPAIGN_TAG: str(running)})  # not started yet

    requests = _requests_for(queued_campaigns_sensor(build_sensor_context(instance=instance)), world.org)
    assert [r.tags[CAMPAIGN_TAG] for r in requests] == [str(due)]


def test_a_campaign_left_sending_by_a_dead_run_is_resumed(world, fake, instance):
    world.template()
    audience = world.list_of(world.contacts(4))
    stopped = world.campaign(list_id=audience, status="sending", scheduled_at=datetime.now(UTC) - timedelta(hours=1))
    (request,) = _requests_for(queued_campaigns_sensor(build_sensor_context(instance=instance)), world.org)
    assert "sending" in request.run_key
    assert send_campaign.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags).success
    assert _status(world, stopped) == "sent"
    assert len([m for m in sendgrid_messages(fake) if m["custom_args"]["campaign_id"] == str(stopped)]) == 4


def test_automation_schedule_runs_each_switched_on_automation(world, fake, instance):
    ids = world.contacts(3)
    world.template("welcome", subject="Welcome {{ contact.first_name }}")
    automation = world.campaign(
        list_id=world.list_of(ids), template_code="welcome", trigger_mode="automation", status="sending",
        automation_steps=[{"step": 1, "delay_days": 0, "template_code": "welcome"}],
    )
    world.campaign(list_id=world.list_of(ids), template_code="welcome", trigger_mode="automation", status="draft",
                   automation_steps=[{"step": 1, "delay_days": 0, "template_code": "welcome"}])  # not switched on
    tick = datetime.now(UTC).replace(minute=20, second=0, microsecond=0)
    context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
    (request,) = _requests_for(automations_hourly(context), world.org)
    assert request.tags[CAMPAIGN_TAG] == str(automation) and tick.isoformat() in request.run_key

    assert run_automation_job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags).success
    messages = [m for m in sendgrid_messages(fake) if m["custom_args"]["campaign_id"] == str(automation)]
    assert sorted(m["to"][0]["email"] if "to" in m else m["email"] for m in messages) == sorted(
        f"person{i}@example.com" for i in range(3))
    # the next tick: the same entrants already had step 1, nothing more goes out
    later = build_schedule_context(instance=instance, scheduled_execution_time=tick + timedelta(hours=1))
    (next_request,) = _requests_for(automations_hourly(later), world.org)
    assert next_request.run_key != request.run_key
    assert run_automation_job.execute_in_process(run_config=next_request.run_config, instance=instance,
                                                 tags=next_request.tags).success
    assert len([m for m in sendgrid_messages(fake) if m["custom_args"]["campaign_id"] == str(automation)]) == 3


def test_activation_ops_retry_transient_failures():
    assert send_campaign_op.retry_policy == TRANSIENT_RETRY
    assert run_automation_job.graph.node_defs[0].retry_policy == TRANSIENT_RETRY
    schema = send_campaign_op.config_schema.as_field().config_type
    assert {"organization_id", "campaign_id"} <= set(schema.fields)  # what the launchpad asks for


def test_a_campaign_that_cannot_run_fails_once_with_the_reason(world, fake, instance):
    ids = world.contacts(3)
    world.template("promo_deadline", required=["deadline"])
    queued = world.campaign(list_id=world.list_of(ids), template_code="promo_deadline", status="queued",
                            scheduled_at=datetime.now(UTC))
    (request,) = _requests_for(queued_campaigns_sensor(build_sensor_context(instance=instance)), world.org)

    result = send_campaign.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags,
                                              raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1 and "needs deadline" in failures[0].event_specific_data.error.message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"], "a retry would fail the same way"
    assert _status(world, queued) == "failed"  # not left queued for the marketer to wonder about
    assert not [m for m in sendgrid_messages(fake) if m["custom_args"]["campaign_id"] == str(queued)]
