"""Contact import: a CSV or XLSX file -> the organization's contacts in the operational DB.

One function, :func:`import_contacts`, used by the ``beacon import-contacts`` command, the API's
upload endpoint and the pipeline alike. It takes the file's bytes (or a file object or path),
its name, the tenant and a session; the caller's unit of work commits. Rows that cannot be
imported are returned in the report and written to the warehouse's ``raw.quarantine``.
"""

from __future__ import annotations

from ingestion.contact_import.importer import ImportReport, import_contacts

__all__ = ["ImportReport", "import_contacts"]
