"""What "good" means for each raw table, as Great Expectations 1.x expectations.

One suite per raw table. Expectations are declared as data (a factory per table) so the suite
is rebuilt fresh for each validation and documented in one place (docs/data-quality.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import great_expectations as gx
import pycountry

from beacon.schema.models import EventType

# A syntactic check only (the full RFC check ran at import time with email-validator); here we
# catch what would break sends: no '@', whitespace, no dot in the domain.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
EARLIEST = "2000-01-01T00:00:00+00:00"  # nothing Beacon ingests predates this
PROVIDER_EVENT_TYPES = [e.value for e in EventType] + ["deferred", "processed", "dropped", "queued"]
ORDER_STATUSES = ["paid", "refunded", "partially_refunded", "cancelled"]


@cache
def iso_4217() -> list[str]:
    return sorted(c.alpha_3 for c in pycountry.currencies)


@dataclass(frozen=True)
class TableSuite:
    table: str
    columns: tuple[str, ...]  # only these are read: keeps memory bounded on large tables
    expectations: Callable[[str], list[gx.expectations.Expectation]]  # latest allowed timestamp -> expectations
    description: str


def _orders(latest: str) -> list:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToNotBeNull(column="order_id"),
        e.ExpectColumnValuesToNotBeNull(column="organization_id"),
        e.ExpectCompoundColumnsToBeUnique(column_list=["organization_id", "order_id", "updated_at"]),
        e.ExpectColumnValuesToBeBetween(column="total", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="refunded_amount", min_value=0),
        e.ExpectColumnPairValuesAToBeGreaterThanB(column_A="total", column_B="refunded_amount", or_equal=True),
        e.ExpectColumnValuesToBeInSet(column="currency", value_set=iso_4217()),
        e.ExpectColumnValuesToBeInSet(column="status", value_set=ORDER_STATUSES),
        e.ExpectColumnValuesToBeBetween(column="created_at", min_value=EARLIEST, max_value=latest),
        e.ExpectColumnValuesToMatchRegex(column="customer_email", regex=EMAIL_PATTERN, mostly=1.0),
    ]


def _provider_events(latest: str) -> list:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToNotBeNull(column="provider_event_id"),
        e.ExpectCompoundColumnsToBeUnique(column_list=["provider", "provider_event_id"]),
        e.ExpectColumnValuesToBeInSet(column="event_type", value_set=PROVIDER_EVENT_TYPES),
        e.ExpectColumnValuesToBeBetween(column="occurred_at", min_value=EARLIEST, max_value=latest),
        e.ExpectColumnValuesToNotBeNull(column="organization_id"),
    ]


def _events(latest: str) -> list:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToNotBeNull(column="id"),
        e.ExpectColumnValuesToBeUnique(column="id"),
        e.ExpectCompoundColumnsToBeUnique(column_list=["provider", "provider_event_id"]),
        e.ExpectColumnValuesToBeInSet(column="event_type", value_set=[t.value for t in EventType]),
        e.ExpectColumnValuesToBeBetween(column="occurred_at", min_value=EARLIEST, max_value=latest),
        e.ExpectColumnValuesToNotBeNull(column="organization_id"),
    ]


def _contacts(_latest: str) -> list:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToNotBeNull(column="id"),
        e.ExpectColumnValuesToBeUnique(column="id"),
        e.ExpectColumnValuesToNotBeNull(column="organization_id"),
        e.ExpectCompoundColumnsToBeUnique(column_list=["organization_id", "email_normalized"], ignore_row_if="any_value_is_missing"),
        e.ExpectColumnValuesToMatchRegex(column="email_normalized", regex=EMAIL_PATTERN),
        e.ExpectColumnValuesToMatchRegex(column="phone", regex=r"^\+[1-9]\d{6,14}$"),
    ]


def _file_loads(_latest: str) -> list:
    e = gx.expectations
    return [
        # Nothing lost: every row read is loaded, quarantined or a counted duplicate.
        e.ExpectColumnValuesToBeInSet(column="unaccounted_rows", value_set=[0]),
        e.ExpectColumnValuesToBeInSet(column="status", value_set=["loaded", "rejected"]),
    ]


SUITES: dict[str, TableSuite] = {
    suite.table: suite
    for suite in (
        TableSuite("orders", ("order_id", "organization_id", "updated_at", "total", "refunded_amount", "currency",
                              "status", "created_at", "customer_email"), _orders,
                   "Order rows from shop export files."),
        TableSuite("provider_events", ("provider", "provider_event_id", "event_type", "occurred_at", "organization_id"),
                   _provider_events, "SendGrid and Twilio events from export files."),
        TableSuite("events", ("id", "provider", "provider_event_id", "event_type", "occurred_at", "organization_id"),
                   _events, "Tracking and webhook events replicated from the operational DB."),
        TableSuite("contacts", ("id", "organization_id", "email_normalized", "phone"), _contacts,
                   "Contacts replicated from the operational DB."),
        TableSuite("file_loads", ("unaccounted_rows", "status"), _file_loads,
                   "One row per ingested file: read = loaded + quarantined + duplicates."),
    )
}
