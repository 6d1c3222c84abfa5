"""Global operating policy: retries for transient failures, freshness of the marts people read,
and the executor the warehouse can take.

``orchestration/definitions.py`` applies :func:`apply_global_policy` to the merged definitions, so
every domain gets the same policy without each module repeating it.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import (
    Backoff,
    Definitions,
    ExecutorDefinition,
    FreshnessPolicy,
    Jitter,
    RetryPolicy,
    in_process_executor,
    multi_or_in_process_executor,
)

from beacon.settings import WarehouseKind, get_settings

# A warehouse or provider hiccup (connection reset, lock timeout, 5xx) usually clears within
# minutes: three tries at ~30 s, ~60 s, ~120 s; jitter keeps parallel steps from retrying in step.
TRANSIENT_RETRY = RetryPolicy(max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)

# The marts are rebuilt nightly (schedules.NIGHTLY_BUILD_CRON): a mart older than a day plus the
# build's own duration is late (warn), and one that missed a whole night has failed.
MARTS_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=26))

# The marts users read: analysts (notebooks), the API's previews and reports, finance.
USER_FACING_SELECTION = "group:marts"


def warehouse_executor() -> ExecutorDefinition:
    """Steps in one process on DuckDB, in parallel processes on PostgreSQL.

    A DuckDB file admits one writing process: launched from the UI with the multiprocess executor,
    the ingestion job's parallel check steps failed on "Could not set lock on file" (seen in
    tests/ui). PostgreSQL takes concurrent writers, so steps run side by side there.
    """
    if get_settings().warehouse_kind is WarehouseKind.duckdb:
        return in_process_executor
    return multi_or_in_process_executor  # Dagster's default: multiprocess unless a run asks for in_process


def apply_global_policy(defs: Definitions) -> Definitions:
    """The marts' freshness policy on every asset in the ``marts`` group, whoever defines it, and
    the warehouse's executor as the default of every job that does not choose its own."""
    with_freshness = defs.map_resolved_asset_specs(
        func=lambda spec: spec.replace_attributes(freshness_policy=MARTS_FRESHNESS),
        selection=USER_FACING_SELECTION,
    )
    return Definitions.merge(with_freshness, Definitions(executor=warehouse_executor()))
