"""Orders files (CSV, NDJSON, Parquet) -> ``raw.orders``: columns, rules and the typed SELECT."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from ingestion.files.currencies import currency_table
from ingestion.files.readers import ColumnSpec
from ingestion.files.validate import (
    Rule,
    invalid_amount,
    bad_date,
    case_sql,
    missing,
    negative,
    quoted,
    too_large,
)

STATUSES = ("paid", "refunded", "partially_refunded", "cancelled")
FIELDS = (
    "order_id", "organization", "customer_email", "customer_external_id", "created_at", "updated_at",
    "currency", "subtotal", "discount", "tax", "shipping", "total", "refunded_amount", "status", "lines",
)  # fmt: skip
REQUIRED = ("order_id", "organization", "created_at", "currency", "total", "status")
AMOUNTS = ("subtotal", "discount", "tax", "shipping", "total", "refunded_amount")


def _recognise(name: str) -> str | None:
    key = name.strip().lower()
    return key if key in FIELDS else None


SPEC = ColumnSpec(fields=FIELDS, required=REQUIRED, recognise=_recognise)


def rules(expected_org: str | None) -> list[Rule]:
    found = [
        Rule(" AND ".join(f'"{f}" IS NULL' for f in FIELDS), "empty_row", "'the row has no values'"),
        *(too_large(f) for f in FIELDS),
        *(missing(f) for f in REQUIRED),
        Rule(
            "customer_email IS NULL AND customer_external_id IS NULL",
            "missing_customer",
            "'one of customer_email or customer_external_id is required'",
        ),
        Rule("organization_id IS NULL", "unknown_organization", f"'organization ' || {quoted('organization')} || ' is not a known organization slug'"),
    ]
    if expected_org is not None:
        expected_org = expected_org.replace("'", "''")
        found.append(
            Rule(
                f"organization <> '{expected_org}'",
                "organization_mismatch",
                f"'row is for ' || {quoted('organization')} || ' but the file is in the inbox of {expected_org}'",
            )
        )
    found += [bad_date("created_at"), bad_date("updated_at")]
    found += [invalid_amount(a) for a in AMOUNTS]
    found += [negative(a) for a in AMOUNTS]
    found += [
        Rule(
            "TRY_CAST(refunded_amount AS DECIMAL(14, 4)) > TRY_CAST(total AS DECIMAL(14, 4))",
            "refund_exceeds_total",
            "'refunded_amount ' || refunded_amount || ' exceeds total ' || total",
        ),
        Rule("currency NOT IN (SELECT code FROM _beacon_currencies)", "unknown_currency", f"'currency ' || {quoted('currency')} || ' is not an ISO 4217 code'"),
        Rule(
            f"status NOT IN ({', '.join(repr(s) for s in STATUSES)})",
            "unknown_status",
            f"'status ' || {quoted('status')} || ' is not one of {', '.join(STATUSES)}'",
        ),
        Rule(
            "lines IS NOT NULL AND (NOT json_valid(lines) OR json_type(lines::JSON) <> 'ARRAY')",
            "bad_lines",
            "'lines is not a JSON array of order lines'",
        ),
    ]
    return found


def select_sql(expected_org: str | None) -> str:
    reason, message = case_sql(rules(expected_org))
    # Values arrive trimmed (the reader does it); empty means absent.
    cleaned = ",\n".join(
        f"NULLIF(\"{f}\", '') AS \"{f}\""
        if f not in ("currency", "status")
        else f"{'upper' if f == 'currency' else 'lower'}(NULLIF(\"{f}\", '')) AS \"{f}\""
        for f in FIELDS
    )
    return f"""
WITH cleaned AS (SELECT {cleaned}, _line, _row FROM _beacon_input),
joined AS (SELECT c.*, o.organization_id FROM cleaned c LEFT JOIN _beacon_organizations o ON o.slug = c.organization),
checked AS (SELECT *, {reason} AS _reason FROM joined)
SELECT
    order_id, organization, organization_id, customer_email, customer_external_id,
    TRY_CAST(created_at AS TIMESTAMPTZ) AS created_at,
    TRY_CAST(coalesce(updated_at, created_at) AS TIMESTAMPTZ) AS updated_at,
    currency,
    TRY_CAST(subtotal AS DECIMAL(14, 4)) AS subtotal,
    TRY_CAST(discount AS DECIMAL(14, 4)) AS discount,
    TRY_CAST(tax AS DECIMAL(14, 4)) AS tax,
    TRY_CAST(shipping AS DECIMAL(14, 4)) AS shipping,
    TRY_CAST(total AS DECIMAL(14, 4)) AS total,
    coalesce(TRY_CAST(refunded_amount AS DECIMAL(14, 4)), 0) AS refunded_amount,
    status, lines, _line AS source_line, _row, _reason,
    CASE WHEN _reason IS NOT NULL THEN {message} END AS _message  -- built for bad rows only
FROM checked
"""


TARGET_COLUMNS = (
    "order_id", "organization", "organization_id", "customer_email", "customer_external_id", "created_at",
    "updated_at", "currency", "subtotal", "discount", "tax", "shipping", "total", "refunded_amount", "status",
    "lines", "source_line",
)  # fmt: skip


def lookups(organizations: Mapping[str, int]) -> dict[str, pa.Table]:
    return {
        "_beacon_organizations": pa.table(
            {"slug": list(organizations), "organization_id": pa.array(list(organizations.values()), pa.int64())}
        ),
        "_beacon_currencies": currency_table(),
    }
