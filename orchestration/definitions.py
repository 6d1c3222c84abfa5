"""Beacon's Dagster definitions: one ``Definitions`` assembled from per-domain modules.

Each domain module exposes ``build_defs()``; this file only combines them. Add a domain by
importing its module here (file ingestion, activation, billing ...).
"""

from __future__ import annotations

from dagster import Definitions

from orchestration import files, jobs, quality, replication, warehouse

DOMAINS = (replication, files, quality, warehouse, jobs)


def build_definitions() -> Definitions:
    return Definitions.merge(*(domain.build_defs() for domain in DOMAINS))


defs = build_definitions()
