from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import Manager, WarehouseDep
from api.errors import ERROR_RESPONSES
from api.reports import service
from api.reports.schemas import UsageReportOut
from beacon.finance.export import report_csv

router = APIRouter(prefix="/reports", tags=["reports"], responses=ERROR_RESPONSES)
CSV = "text/csv"


@router.get(
    "/usage",
    response_model=UsageReportOut,
    summary="Usage against the plan, overage and invoice lines of a billing period (manager)",
    responses={200: {"content": {CSV: {}}, "description": "JSON, or CSV with `format=csv` / `Accept: text/csv`"}},
)
def usage_report(
    request: Request,
    principal: Manager,
    warehouse: WarehouseDep,
    period: Annotated[str | None, Query(examples=["2026-11"], description="Local month YYYY-MM; default: the latest")] = None,
    format: Annotated[Literal["json", "csv"] | None, Query(description="Overrides the Accept header")] = None,
):
    report = service.get_usage_report(warehouse, principal.org, period)
    wants_csv = format == "csv" or (format is None and CSV in request.headers.get("accept", ""))
    if wants_csv:
        filename = f"usage-{report.organization_id}-{report.period_label}.csv"
        return Response(report_csv(report), media_type=f"{CSV}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return report.as_dict()
