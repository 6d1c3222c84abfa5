"""Activation in Dagster: a job that sends (or resumes) one campaign, a sensor that launches it for
every queued or due scheduled campaign, and an hourly schedule that runs the automations.

The sending itself is ``activation/`` (plain Python). What this module adds is when, and how often:

- ``send_campaign`` (job, launchable from the launchpad with ``organization_id`` + ``campaign_id``):
  ``activation.run.run_campaign``. A run that ends ``failed`` (provider outage after the client's own
  retries) raises, so the op's retry policy tries again later; each try resumes from the ledger.
- ``queued_campaigns_sensor``: ``activation.queue.due_campaign_runs``; one run request per campaign
  with a run key of (campaign, status, due since), so Dagster launches it once; a campaign that
  already has a run in progress is skipped (one run per campaign at a time: docs/activation.md).
- ``automations_hourly``: one ``run_automation`` run per switched-on automation campaign, keyed by
  the tick, so each tick runs each automation once.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations.

from dagster import (
    Config,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    schedule,
    sensor,
)
from pydantic import Field

from orchestration.policies import TRANSIENT_RETRY

CAMPAIGN_TAG = "beacon/campaign"
ORGANIZATION_TAG = "beacon/organization"
ACTIVE_RUN_STATUSES = [
    DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
SENSOR_INTERVAL_SECONDS = 30
AUTOMATION_CRON = "20 * * * *"


class CampaignRunConfig(Config):
    organization_id: int = Field(description="The tenant that owns the campaign.")
    campaign_id: int = Field(description="The campaign to send (or resume).")


def _report_metadata(report) -> dict:
    return {
        "status": report.status, "targeted": report.targeted, "eligible": report.eligible, "sent": report.sent,
        "failed": report.failed, "held_out": report.held_out, "reconciled": report.reconciled,
        "excluded": MetadataValue.json(report.excluded), "seconds": MetadataValue.json(report.seconds),
    }


@op(retry_policy=TRANSIENT_RETRY, tags={"kind": "activation"})
def send_campaign_op(context: OpExecutionContext, config: CampaignRunConfig):
    """Send (or resume) one one-off campaign through SendGrid/Twilio (the local fakes without credentials)."""
    from activation.run import CampaignNotRunnable, run_campaign
    from beacon.tenancy import OrgId

    try:
        report = run_campaign(config.campaign_id, OrgId(config.organization_id))
    except CampaignNotRunnable as exc:  # a retry would fail the same way: say why, once
        raise Failure(description=str(exc), allow_retries=False) from exc
    metadata = _report_metadata(report)
    if report.status == "failed":
        # The ledger keeps what was sent; the retry (op retry policy) resumes with the rest.
        raise Failure(description=f"campaign {config.campaign_id}: {'; '.join(report.errors[:3])}", metadata=metadata)
    context.log.info(f"campaign {config.campaign_id}: {report.status}, sent {report.sent} of {report.eligible} eligible")
    return Output(report.status, metadata=metadata)


@op(retry_policy=TRANSIENT_RETRY, tags={"kind": "activation"})
def run_automation_op(context: OpExecutionContext, config: CampaignRunConfig) -> None:
    """Send every automation step that is due to the campaign's audience entrants, then move its cursor."""
    from activation.automation import run_automation
    from beacon.tenancy import OrgId

    report = run_automation(config.campaign_id, OrgId(config.organization_id))
    failed = [step for step, r in report.steps.items() if r.status == "failed"]
    context.log.info(f"automation {config.campaign_id}: enrolled {report.enrolled}, stopped {report.stopped}, "
                     f"sent {sum(r.sent for r in report.steps.values())} over steps {sorted(report.steps)}")
    if failed:
        raise Failure(description=f"automation {config.campaign_id}: steps {failed} failed",
                      metadata={"errors": MetadataValue.json([e for s in failed for e in report.steps[s].errors[:3]])})


@job(tags={"beacon/domain": "activation"}, description="Send (or resume) one campaign: audience, exclusions, ledger, batched provider sends.")
def send_campaign():
    send_campaign_op()


@job(tags={"beacon/domain": "activation"}, description="Run one automation campaign's due steps.")
def run_automation_job():
    run_automation_op()


def _run_config(op_name: str, org: int, campaign_id: int) -> dict:
    return {"ops": {op_name: {"config": {"organization_id": int(org), "campaign_id": int(campaign_id)}}}}


def _tags(org: int, campaign_id: int) -> dict[str, str]:
    return {ORGANIZATION_TAG: str(org), CAMPAIGN_TAG: str(campaign_id)}


def _has_active_run(instance, campaign_id: int) -> bool:
    runs = instance.get_runs(
        filters=RunsFilter(tags={CAMPAIGN_TAG: str(campaign_id)}, statuses=ACTIVE_RUN_STATUSES), limit=1
    )
    return bool(runs)


@sensor(job=send_campaign, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS, default_status=DefaultSensorStatus.STOPPED,
        description="Launches one send_campaign run per queued or due scheduled campaign (and resumes one a stopped run left sending).")
def queued_campaigns_sensor(context: SensorEvaluationContext):
    from activation.queue import due_campaign_runs

    requests, busy = [], 0
    for due in due_campaign_runs():
        if _has_active_run(context.instance, due.campaign_id):
            busy += 1  # its run is still going; a second one would treat the first one's batches as interrupted
            continue
        requests.append(RunRequest(
            run_key=due.attempt_key, run_config=_run_config(send_campaign_op.name, due.org, due.campaign_id),
            tags=_tags(due.org, due.campaign_id),
        ))
    if not requests:
        return SkipReason(f"no campaign due ({busy} still running)")
    return requests


@schedule(job=run_automation_job, cron_schedule=AUTOMATION_CRON, execution_timezone="UTC",
          default_status=DefaultScheduleStatus.STOPPED,
          description="Hourly: one run per switched-on automation campaign (steps are due by their delay_days).")
def automations_hourly(context: ScheduleEvaluationContext):
    from activation.queue import active_automations

    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
    requests = [
        RunRequest(run_key=f"automation-{org}-{campaign_id}-{tick}",
                   run_config=_run_config(run_automation_op.name, org, campaign_id), tags=_tags(org, campaign_id))
        for org, campaign_id in active_automations()
        if not _has_active_run(context.instance, campaign_id)
    ]
    return requests or SkipReason("no automation switched on")


def build_defs() -> Definitions:
    return Definitions(jobs=[send_campaign, run_automation_job], sensors=[queued_campaigns_sensor], schedules=[automations_hourly])
