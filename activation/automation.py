"""Automations: a campaign whose ``automation_steps`` follow each contact from the day it entered
the audience (welcome series, win-back): step N goes out ``delay_days`` after entry, and a
contact who left the audience gets no further steps.

Entries come in as :class:`Membership` records (``contact_id``, ``entered_at``, ``exited_at``):
:func:`audience_memberships` reads them for the campaign's audience (a segment's stays in the
warehouse's ``segments.segment_memberships``, kept by ``beacon.segments.membership``; a list's
members with ``added_at`` as the entry), or a caller passes its own. A contact is enrolled if it entered after ``campaign.last_run_at`` (the cursor) or
already has a step in the ledger; each step is one ``(campaign, contact, step)`` ledger row, so a
step is never sent twice however often the automation runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select

from activation import ledger
from activation.audience import AudienceUnavailable
from activation.providers import Mailer, Texter
from activation.run import CampaignNotRunnable, RunOptions, RunReport, execute, load_campaign, set_campaign_status
from beacon.schema.db import make_engine
from beacon.schema.models import Campaign, CampaignStatus, ListMember, Send, TriggerMode
from beacon.tenancy import OrgId


@dataclass(frozen=True)
class Membership:
    contact_id: int
    entered_at: datetime
    exited_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    step: int
    delay_days: float
    template_code: str


@dataclass
class AutomationReport:
    campaign_id: int
    enrolled: int = 0
    stopped: int = 0  # enrolled contacts who left the audience before their next step
    steps: dict[int, RunReport] = field(default_factory=dict)


def parse_steps(raw: list[dict] | None) -> list[Step]:
    steps = []
    for item in raw or []:
        try:
            steps.append(Step(int(item["step"]), float(item.get("delay_days", 0)), str(item["template_code"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"automation step needs step, delay_days and template_code: {item!r}") from exc
    if not steps:
        raise ValueError("an automation needs at least one step in automation_steps")
    if len({s.step for s in steps}) != len(steps) or any(s.step < 1 for s in steps):
        raise ValueError("automation step numbers must be unique and start at 1")
    return sorted(steps, key=lambda s: s.step)


def due_steps(
    steps: list[Step],
    memberships: Iterable[Membership],
    *,
    last_run_at: datetime | None,
    enrolled_before: set[int],
    now: datetime,
) -> tuple[dict[int, list[int]], int, int]:
    """step -> contact ids due now; also (enrolled, stopped) counts. Pure, for testing."""
    latest: dict[int, Membership] = {}
    for m in memberships:  # a contact who re-entered is judged by its latest membership
        if m.contact_id not in latest or m.entered_at > latest[m.contact_id].entered_at:
            latest[m.contact_id] = m
    due: dict[int, list[int]] = {s.step: [] for s in steps}
    enrolled = stopped = 0
    for contact_id, m in sorted(latest.items()):
        new = last_run_at is None or _utc(m.entered_at) > _utc(last_run_at)
        if not new and contact_id not in enrolled_before:
            continue  # in the audience before the automation looked: not an entrant
        enrolled += 1
        if m.exited_at is not None and _utc(m.exited_at) <= now:
            stopped += 1
            # the steps due before the exit still count; later ones never go out
        for s in steps:
            due_at = _utc(m.entered_at) + timedelta(days=s.delay_days)
            if due_at > now:
                continue
            if m.exited_at is not None and _utc(m.exited_at) <= due_at:
                continue
            due[s.step].append(contact_id)
    return due, enrolled, stopped


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audience_memberships(campaign: Campaign, *, database_url: str | None = None,
                         warehouse_url: str | None = None) -> list[Membership]:
    """Every stay of a contact in the campaign's audience, scoped to the campaign's organization."""
    org = int(campaign.organization_id)
    if campaign.list_id is not None:
        engine = make_engine(database_url)
        try:
            with engine.connect() as conn:
                m = ListMember.__table__.c
                rows = conn.execute(select(m.contact_id, m.added_at).where(m.organization_id == org, m.list_id == campaign.list_id))
                return [Membership(int(contact_id), _utc(added_at)) for contact_id, added_at in rows]
        finally:
            engine.dispose()
    if campaign.segment_id is None:
        raise CampaignNotRunnable(f"automation {campaign.id} has neither a segment nor a list")
    from beacon.segments.membership import segment_memberships
    from beacon.warehouse import warehouse_engine

    engine = warehouse_engine(warehouse_url)
    m = segment_memberships.c
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(m.contact_id, m.entered_at, m.exited_at).where(m.organization_id == org, m.segment_id == campaign.segment_id)
            ).all()
    except sa.exc.DBAPIError as exc:  # the membership refresh (Dagster asset) has never run on this warehouse
        raise AudienceUnavailable(
            f"segment {campaign.segment_id}: no membership history in the warehouse ({segment_memberships.fullname}); "
            "materialize segments/segment_memberships first"
        ) from exc
    finally:
        engine.dispose()
    return [Membership(int(c), _utc(entered), _utc(exited) if exited else None) for c, entered, exited in rows]


def run_automation(
    campaign_id: int,
    org: OrgId,
    *,
    memberships: Iterable[Membership] | None = None,
    now: datetime | None = None,
    database_url: str | None = None,
    warehouse_url: str | None = None,
    mailer: Mailer | None = None,
    texter: Texter | None = None,
    options: RunOptions | None = None,
) -> AutomationReport:
    """Send every step that is due, then move the cursor (``last_run_at``) to ``now``.
    Without ``memberships`` they are read for the campaign's audience (:func:`audience_memberships`)."""
    now = now or ledger.utcnow()
    options = options or RunOptions()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            campaign, organization = load_campaign(conn, org, campaign_id)
            if campaign.trigger_mode is not TriggerMode.automation:
                raise CampaignNotRunnable(f"campaign {campaign_id} is not an automation")
            if campaign.status is CampaignStatus.cancelled:
                raise CampaignNotRunnable(f"campaign {campaign_id} is cancelled")
            steps = parse_steps(campaign.automation_steps)
            if memberships is None:
                memberships = audience_memberships(campaign, database_url=database_url, warehouse_url=warehouse_url)
            enrolled_before = {
                row[0] for row in conn.execute(select(Send.contact_id).where(Send.campaign_id == campaign_id).distinct())
            }
        due, enrolled, stopped = due_steps(
            steps, memberships, last_run_at=campaign.last_run_at, enrolled_before=enrolled_before, now=now
        )
        report = AutomationReport(campaign_id=campaign_id, enrolled=enrolled, stopped=stopped)
        set_campaign_status(engine, org, campaign_id, CampaignStatus.sending, started_at=campaign.started_at or now)
        for s in steps:
            if not due[s.step]:
                continue
            report.steps[s.step] = execute(
                engine, org, campaign, organization, audience_ids=due[s.step], step=s.step,
                template_code=s.template_code, dry_run=False, mailer=mailer, texter=texter, options=options,
                now=now, manage_status=False,
            )
        set_campaign_status(engine, org, campaign_id, CampaignStatus.sending, last_run_at=now)
        return report
    finally:
        engine.dispose()
