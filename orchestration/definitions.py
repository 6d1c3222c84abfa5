"""Beacon's Dagster definitions: one ``Definitions`` assembled from per-domain modules.

Each domain module exposes ``build_defs()``; this file only combines them. Add a domain by
importing its module here (file ingestion, activation, billing ...).
"""

from __future__ import annotations

from dagster import Definitions

from orchestration import activation, clv, contacts_inbox, files, finance, jobs, quality, replication, schedules, segments, warehouse
from orchestration.policies import apply_global_policy

DOMAINS = (replication, files, contacts_inbox, quality, warehouse, clv, segments, jobs, schedules, activation, finance)


def build_definitions() -> Definitions:
    # Global policy (freshness of the marts) applies to every domain's assets alike.
    return apply_global_policy(Definitions.merge(*(domain.build_defs() for domain in DOMAINS)))


defs = build_definitions()
