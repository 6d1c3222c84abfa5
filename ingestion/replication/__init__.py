"""Replication of the operational database into the warehouse ``raw`` schema (dlt).

Plain Python: the Dagster assets in ``orchestration`` call :func:`replicate`.
"""

from __future__ import annotations

from ingestion.replication.pipeline import (
    ReplicationResult,
    build_pipeline,
    build_source,
    replicate,
)
from ingestion.replication.tables import REPLICATED_TABLES, TABLES_BY_NAME, ReplicatedTable

__all__ = [
    "REPLICATED_TABLES",
    "TABLES_BY_NAME",
    "ReplicatedTable",
    "ReplicationResult",
    "build_pipeline",
    "build_source",
    "replicate",
]
