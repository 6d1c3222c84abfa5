"""Finance surfaces over the billing marts: the usage report (JSON, CSV, Parquet, chart), the
Stripe usage sync, and the reconciliation of ledger, provider, Stripe and invoice lines.

Plain library (no Dagster, no FastAPI): ``orchestration/finance.py`` and ``api/reports`` call it.
Contracts: docs/finance.md (this package) and docs/billing.md (the marts it reads).
"""
