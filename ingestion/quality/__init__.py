"""Data-quality suites (Great Expectations 1.x) over the warehouse ``raw`` tables.

Plain Python: ``orchestration`` runs :func:`validate_table` as blocking asset checks, so a failed
suite stops the dbt models, activation and billing downstream.
"""

from ingestion.quality.suites import SUITES, TableSuite
from ingestion.quality.validate import QualityResult, validate_table

__all__ = ["SUITES", "QualityResult", "TableSuite", "validate_table"]
