"""Nothing lost: every ``raw.file_loads`` row must agree with the rows actually in the warehouse."""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.files.warehouse_io import open_writer

TARGET_TABLE = {"orders": "orders", "sendgrid_events": "provider_events", "twilio_events": "provider_events"}


@dataclass(frozen=True)
class AccountingProblem:
    file_path: str
    problem: str


def check_file_loads(warehouse_url: str) -> list[AccountingProblem]:
    """Return every file whose counts do not add up (an empty list means nothing was lost).

    Checks, per file: read = loaded + quarantined + duplicate; the target table holds exactly
    ``rows_loaded`` rows from it; ``raw.quarantine`` holds exactly ``rows_quarantined`` row-level
    entries for it; a rejected file has no loaded rows and one file-level quarantine entry.
    """
    problems: list[AccountingProblem] = []
    with open_writer(warehouse_url) as w:
        loads = w.fetchall(
            "SELECT source, file_path, file_sha256, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate "
            "FROM raw.file_loads"
        )
        landed = {}
        for table in sorted(set(TARGET_TABLE.values())):
            for path, sha, n in w.fetchall(f"SELECT source_file, file_sha256, count(*) FROM raw.{table} GROUP BY 1, 2"):
                landed[(table, path, sha)] = n
        quarantined = {
            (path, sha, file_level): n
            for path, sha, file_level, n in w.fetchall(
                "SELECT source_file, file_sha256, line_number IS NULL AND reason NOT LIKE 'malformed_row:%', "
                "count(*) FROM raw.quarantine GROUP BY 1, 2, 3"
            )
        }
    for source, path, sha, status, read, loaded, bad, dup in loads:
        def fail(message: str) -> None:
            problems.append(AccountingProblem(path, message))

        if read != loaded + bad + dup:
            fail(f"rows_read {read} != loaded {loaded} + quarantined {bad} + duplicate {dup}")
        in_table = landed.get((TARGET_TABLE.get(source, ""), path, sha), 0)
        if in_table != loaded:
            fail(f"file_loads says {loaded} rows loaded but the table holds {in_table}")
        row_level = quarantined.get((path, sha, False), 0)
        if row_level != bad:
            fail(f"file_loads says {bad} rows quarantined but raw.quarantine holds {row_level}")
        file_level = quarantined.get((path, sha, True), 0)
        if status == "rejected" and (file_level != 1 or loaded):
            fail(f"rejected file should have one file-level quarantine entry and no rows (has {file_level}, {loaded})")
        if status == "loaded" and file_level:
            fail("a loaded file has a file-level quarantine entry")
    return problems
