"""Exactly once under SIGKILL: a run killed at random points and started again sends every
eligible recipient exactly one message (counted per send_id at the fake), on both back ends."""

from __future__ import annotations

import os
import random
import signal
import multiprocessing
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from beacon.schema.models import Event, Send
from tests.activation.conftest import sendgrid_messages

def _worker(campaign_id: int, org: int) -> None:
    """The child process: one run_campaign, exit 0 when the campaign is sent."""
    from activation.providers import RetryPolicy
    from activation.run import RunOptions, run_campaign
    from beacon.tenancy import OrgId

    report = run_campaign(campaign_id, OrgId(org), options=RunOptions(
        batch_size=6, max_in_flight=3, request_timeout=1.0, retry=RetryPolicy(8, 0.01, 0.2)))
    os._exit(0 if report.status == "sent" else 3)


def _run_until_done(campaign_id: int, org: int, fake, rng: random.Random, kill_after: list[int]) -> int:
    """Fork a worker (a real separate process, started without re-importing everything) and SIGKILL
    it once the fake has accepted ``kill_after[i]`` messages plus a random few milliseconds, so
    kills land anywhere between claiming, posting and recording; then let one run finish."""
    context = multiprocessing.get_context("fork")
    kills = 0
    for target in [*kill_after, None]:
        proc = context.Process(target=_worker, args=(campaign_id, org))
        proc.start()
        if target is not None:
            deadline = time.monotonic() + 60
            while proc.is_alive() and len(fake.state.sendgrid_messages) < target and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.03))
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.join()
            continue
        proc.join(timeout=120)
        assert proc.exitcode == 0, f"the final run ended with exit code {proc.exitcode}"
    return kills


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_runs_resume_exactly_once(world, fake, seed):
    rng = random.Random(seed)
    ids = world.contacts(120)
    world.contacts(10, start=500, consent_promotional=False)  # excluded ones stay excluded across restarts
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(world.ids), holdout_percent=5)
    if seed == 3:  # and a provider that rate-limits, fails and answers late meanwhile
        for fault in ({"status": 429, "retry_after": 0, "count": 3}, {"status": 500, "count": 2},
                      {"delay_s": 1.3, "count": 2}):
            fake.control("POST", "/_fake/faults", json={"provider": "sendgrid", **fault})
    targets = sorted(rng.sample(range(0, 100), 3))  # the first may hit planning (0 accepted yet)
    kills = _run_until_done(campaign_id, world.org, fake, rng, targets)
    assert kills >= 1

    with world.engine.connect() as conn:
        statuses = Counter(
            (s.value, e) for s, e in conn.execute(select(Send.status, Send.error).where(Send.campaign_id == campaign_id))
        )
        sent_ids = {str(sid) for sid in conn.scalars(select(Send.send_id).where(Send.campaign_id == campaign_id,
                                                                                 Send.status == "sent"))}
        events = conn.scalar(select(func.count()).select_from(Event).where(
            Event.organization_id == world.org, Event.event_type == "sent"))
    assert statuses[("suppressed", "no_consent")] == 10
    held = statuses[("held_out", None)]
    assert len(sent_ids) + held == len(ids)  # zero gaps
    assert not {k for k in statuses if k[0] in ("pending", "sending", "failed")}
    delivered = Counter(m["custom_args"]["send_id"] for m in sendgrid_messages(fake))
    assert set(delivered) == sent_ids  # every sent row reached the provider, nothing else did
    assert max(delivered.values()) == 1  # zero duplicates
    assert events == len(sent_ids)
