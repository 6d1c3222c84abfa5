"""Which operational tables are replicated to the warehouse ``raw`` schema, and how.

Mutable tables are merged on their primary key with an ``updated_at`` cursor, so an updated row
replaces its old version; append-only or insert-only tables advance on their id. Tables without
any change column are tiny reference data and are copied in full each run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Disposition = Literal["merge", "append", "replace"]


@dataclass(frozen=True)
class ReplicatedTable:
    name: str
    write_disposition: Disposition
    cursor: str | None = None
    description: str = ""

    @property
    def incremental(self) -> bool:
        return self.cursor is not None


REPLICATED_TABLES: tuple[ReplicatedTable, ...] = (
    ReplicatedTable("organizations", "merge", "updated_at", "Tenants."),
    ReplicatedTable(
        "contact_types", "replace", None, "Each tenant's contact types (no change column: copied in full)."
    ),
    ReplicatedTable("contacts", "merge", "updated_at", "People a tenant can message."),
    ReplicatedTable("lists", "merge", "updated_at", "Static lists."),
    ReplicatedTable("list_members", "merge", "id", "Contacts on static lists (insert-only rows)."),
    ReplicatedTable("segments", "merge", "updated_at", "Dynamic audiences and their criteria."),
    ReplicatedTable("templates", "merge", "updated_at", "Message templates, platform and tenant overrides."),
    ReplicatedTable("campaigns", "merge", "updated_at", "Campaigns: one activation of an audience."),
    ReplicatedTable("sends", "merge", "updated_at", "The send ledger: one row per message (send_id)."),
    ReplicatedTable("events", "append", "id", "Append-only message and tracking events."),
    ReplicatedTable("suppressions", "merge", "id", "Addresses that must not be messaged."),
    ReplicatedTable("plans", "replace", None, "Billing plans (no change column: copied in full)."),
    ReplicatedTable("subscriptions", "merge", "updated_at", "Each tenant's plan subscriptions."),
    ReplicatedTable("subscription_changes", "merge", "id", "Plan and billing-cycle changes (insert-only rows)."),
)

TABLES_BY_NAME = {table.name: table for table in REPLICATED_TABLES}
