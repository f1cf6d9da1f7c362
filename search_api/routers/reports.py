"""``GET /v1/reports/campaign``: the campaign's daily counts per channel (and office), for staff."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from search_api.models import ErrorOut
from search_api.report import campaign_report
from search_api.service import ApiResult, Service, get_service

ROUTES: Final[tuple[str, ...]] = ("/v1/reports/campaign",)
"""Route templates of this router, for the metrics' fixed route label set."""
MAX_DAYS: Final = 366

router = APIRouter()


@router.get(
    "/v1/reports/campaign",
    responses={
        401: {"model": ErrorOut, "description": "No or wrong staff key"},
        422: {"model": ErrorOut, "description": "Dates that do not make a range"},
        503: {"model": ErrorOut, "description": "The report index is unavailable"},
    },
)
async def campaign(
    request: Request,
    service: Annotated[Service, Depends(get_service)],
    first: Annotated[dt.date, Query(alias="from", description="First day (Japan time)")],
    last: Annotated[dt.date, Query(alias="to", description="Last day, inclusive")],
    by: Annotated[Literal["channel", "office"], Query()] = "channel",
) -> Response:
    """Counts per day and channel (``by=channel``) or per day, channel and office: checks,
    found, not_found, unavailable, invalid, rate_limited, numbers issued and resolved, and the
    median days from issue to first resolution. Counts only; this process's latest counts are
    flushed first, other processes' within ``MOCHINUSHI_REPORT_FLUSH_SECONDS``."""
    if not service.staff_key_valid(request.headers.get("authorization", "")):
        return ApiResult(
            401,
            {"error": "unauthorized", "message": "A valid staff key is required."},
            {"WWW-Authenticate": "Bearer"},
        ).response()
    if last < first or (last - first).days >= MAX_DAYS:
        return ApiResult(
            422,
            {
                "error": "invalid_input",
                "message": f"'to' must not be before 'from', and at most {MAX_DAYS} days after.",
            },
        ).response()
    try:
        if service.report is not None:
            await service.report.flush()
        rows = await campaign_report(service.client, service.settings.report_index, first, last, by)
    except Exception:
        return ApiResult(
            503,
            {
                "error": "report_unavailable",
                "message": "The campaign report is temporarily unavailable.",
            },
            {"Retry-After": "5"},
        ).response()
    # Only the rows: the answer repeats nothing of the request (the API's rule for every
    # operation, checked by the schemathesis tests).
    return ApiResult(200, {"rows": [row.as_dict() for row in rows]}).response()
