"""Contact files dropped in ``$BEACON_HOME/inbox/<org>/contacts/`` become contact imports.

One dynamic partition per file (``<org_slug>/<file name>``), so the UI shows each file's import
and its report; a sensor adds the partition and launches its run when a file appears. The run
key is the file's key + size + mtime: the same file launches one run, a replaced file another.
An imported file leaves the inbox (``done/`` or ``rejected/``, see ``ingestion.contact_import.inbox``),
so a later evaluation finds nothing to do.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations.

from dagster import (
    AssetExecutionContext,
    DefaultSensorStatus,
    Definitions,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)

from beacon.settings import get_settings
from ingestion.contact_import.inbox import import_inbox_file, pending_contact_files
from orchestration.replication import CONTACT_FILES_KEY, OWNER

GROUP = "imports"
CONTACT_FILES = DynamicPartitionsDefinition(name="contact_inbox_files")
CONTACT_IMPORT_JOB = "import_contact_files"


def _inbox():
    return get_settings().home / "inbox"


@asset(
    key=CONTACT_FILES_KEY,
    partitions_def=CONTACT_FILES,
    group_name=GROUP,
    owners=[OWNER],
    kinds={"python"},
    description="One contacts file (CSV/XLSX) from an organization's inbox, imported into the operational DB's "
    "contacts (merge rule, bad rows quarantined); the file then moves to done/ or rejected/ with its report.",
)
def contact_files(context: AssetExecutionContext) -> MaterializeResult:
    outcome = import_inbox_file(
        _inbox(), context.partition_key, on_progress=lambda rows: context.log.info(f"{context.partition_key}: {rows:,} rows read")
    )
    report = outcome.report
    context.log.info(f"{context.partition_key}: {report.status}; report at {outcome.report_path}")
    return MaterializeResult(
        metadata={
            "status": report.status,
            "reason": report.reason or "",
            **{name: getattr(report, name) for name in ("read", "inserted", "updated", "unchanged", "merged_in_file", "quarantined")},
            "quarantine_reasons": MetadataValue.json(report.quarantine_reasons),
            "moved_to": MetadataValue.path(str(outcome.moved_to)),
            "report": MetadataValue.path(str(outcome.report_path)),
        }
    )


import_contact_files = define_asset_job(
    CONTACT_IMPORT_JOB,
    selection=[CONTACT_FILES_KEY],
    partitions_def=CONTACT_FILES,
    description="Import one contacts file from the inbox (launched by contact_inbox_sensor).",
)


@sensor(
    job=import_contact_files,
    minimum_interval_seconds=30,
    # On by default: it only acts on a file someone dropped, which is the request to import it.
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches an import for each new file in $BEACON_HOME/inbox/<org>/contacts/.",
)
def contact_inbox_sensor(context: SensorEvaluationContext):
    waiting = pending_contact_files(_inbox())
    if not waiting:
        return SkipReason("no contacts file waiting in the inbox")
    new_keys = [f.key for f in waiting if not context.instance.has_dynamic_partition(CONTACT_FILES.name, f.key)]
    return SensorResult(
        run_requests=[RunRequest(run_key=f.fingerprint, partition_key=f.key) for f in waiting],
        dynamic_partitions_requests=[CONTACT_FILES.build_add_request(new_keys)] if new_keys else [],
    )


def build_defs() -> Definitions:
    return Definitions(assets=[contact_files], jobs=[import_contact_files], sensors=[contact_inbox_sensor])
