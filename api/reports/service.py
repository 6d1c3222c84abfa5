"""The usage report for the caller's organization, with library errors turned into API errors."""

from __future__ import annotations

from sqlalchemy import Engine

from api.errors import NotFound, Unprocessable
from beacon.finance.marts import MartsNotBuilt
from beacon.finance.report import ReportNotFound, UsageReport, usage_report
from beacon.tenancy import OrgId


def get_usage_report(warehouse: Engine, org: OrgId, period: str | None) -> UsageReport:
    try:
        return usage_report(warehouse, org, period)
    except ValueError as exc:
        raise Unprocessable(str(exc), details=[{"loc": "query.period", "message": str(exc)}]) from exc
    except (ReportNotFound, MartsNotBuilt) as exc:
        raise NotFound(str(exc)) from exc
