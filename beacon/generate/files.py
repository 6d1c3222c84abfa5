"""Contact import files (CSV and XLSX with the header variants people really send), written reproducibly."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

# The same fields under the header spellings the contract maps (case/space/punctuation-insensitive).
HEADER_VARIANTS = [
    {"email": "Email", "phone": "Phone", "first_name": "First Name", "last_name": "Last Name",
     "external_id": "Customer ID", "country": "Country", "city": "City", "tags": "Tags",
     "contact_type": "Contact Type", "consent_email": "Consent Email", "consent_sms": "Consent SMS"},
    {"email": "E-mail", "phone": "Mobile", "first_name": "FirstName", "last_name": "Surname",
     "external_id": "External ID", "country": "country", "city": "city", "tags": "tags",
     "contact_type": "contact_type", "consent_email": "consent_email", "consent_sms": "consent_sms"},
    {"email": "Email Address", "phone": "Phone Number", "first_name": "Given Name", "last_name": "Last Name",
     "external_id": "Customer ID", "country": "COUNTRY", "city": "City", "tags": "Tags",
     "contact_type": "Contact type", "consent_email": "Consent_Email", "consent_sms": "Consent_SMS"},
]
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def contact_import_rows(rows: list[dict], type_codes: dict[int, str], variant: int, rng_values) -> tuple[list[str], list[list]]:
    """Header and cells for an import file built from generated contact rows (plus one custom column)."""
    names = HEADER_VARIANTS[variant % len(HEADER_VARIANTS)]
    header = list(names.values()) + ["Favourite Product"]
    yes_no = (["yes", "no"], ["true", "false"], ["1", "0"])[variant % 3]
    separator = ";" if variant % 2 else ","
    cells = []
    for row, r in zip(rows, rng_values):
        cells.append([
            row["email"] or "", row["phone"] or "", row["first_name"] or "", row["last_name"] or "",
            row["external_id"] or "", row["country"] or "", row["city"] or "", separator.join(row["tags"]),
            type_codes.get(row["contact_type_id"], ""), yes_no[0] if row["consent_email"] else yes_no[1],
            yes_no[0] if row["consent_sms"] else yes_no[1], ["mug", "hoodie", "socks", ""][int(r * 4)],
        ])
    return header, cells


def write_csv(path: Path, header: list[str], cells: list[list], *, encoding: str = "utf-8", delimiter: str = ",") -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(cells)


def write_xlsx(path: Path, header: list[str], cells: list[list], *, as_of: datetime) -> None:
    """An XLSX whose bytes depend only on its content.

    openpyxl stamps the save time into docProps/core.xml and every zip entry; both are pinned here
    (to as-of and a fixed zip date) so the same seed gives the same file.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Contacts"
    sheet.append(header)
    for row in cells:
        sheet.append(row)
    stamp = as_of.replace(tzinfo=None)
    workbook.properties.created = stamp
    buffer = io.BytesIO()
    workbook.save(buffer)
    iso = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = re.sub(r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rf"\g<1>{iso}\g<2>", data.decode())
                data = text.encode()
            target.writestr(zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME), data, zipfile.ZIP_DEFLATED)
