"""Beacon core: settings, the operational schema, signed tokens, rendering, provider clients.

Imports none of orchestration, ingestion, activation or api; only ``beacon.cli`` sits on top.
"""
