"""File ingestion: orders files and provider event exports into the warehouse ``raw`` schema.

Plain Python (no Dagster): the orchestration layer calls these functions per file or per inbox.
"""

from __future__ import annotations

from ingestion.files.accounting import AccountingProblem, check_file_loads
from ingestion.files.inbox import load_inbox, organization_ids
from ingestion.files.loader import ORDERS, SENDGRID, TWILIO, FileLoadResult, FileStatus, load_file

__all__ = [
    "ORDERS",
    "SENDGRID",
    "TWILIO",
    "AccountingProblem",
    "FileLoadResult",
    "FileStatus",
    "check_file_loads",
    "load_file",
    "load_inbox",
    "organization_ids",
]
