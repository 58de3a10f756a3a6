"""The business inbox's reports: metrics per group, a time series, volume by hour of the
week, the same rows as CSV, and the CSAT survey's settings."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json
from backchannel.services import reports

router = APIRouter(prefix="/api/v1", tags=["business"])
R = "/businesses/{handle}/reports"

From = Query(None, alias="from", max_length=40, description="A date or instant (inclusive).")
To = Query(None, max_length=40, description="A date or instant (exclusive); default now.")
HoursFlag = Query(False, description="Count only time within business hours.")
Grouping = Literal["business", "agent", "team", "label"]
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}}


@router.get(R, response_model=s.BusinessReportOut)
async def report(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    start: str | None = From,
    to: str | None = To,
    group_by: Grouping = "business",
    business_hours: bool = HoursFlag,
) -> Response:
    """Metrics of [from, to) in total and per group (owners, admins and viewers)."""
    result = await reports.report(
        core, me, handle, start=start, end=to, group_by=group_by, business_hours=business_hours
    )
    return json(result)


@router.get(R + ".csv", response_class=Response, responses=CSV)  # type: ignore[arg-type]
async def report_csv(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    start: str | None = From,
    to: str | None = To,
    group_by: Grouping = "business",
    business_hours: bool = HoursFlag,
) -> Response:
    """The same rows as CSV, the total first."""
    result = await reports.report(
        core,
        me,
        handle,
        start=start,
        end=to,
        group_by=group_by,
        business_hours=business_hours,
        export=True,
    )
    name = f"report-{result['from'][:10]}-{result['to'][:10]}.csv"
    return Response(
        reports.to_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get(R + "/series", response_model=s.BusinessReportSeriesOut)
async def series(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    start: str | None = From,
    to: str | None = To,
    interval: Literal["day", "week"] = "day",
    business_hours: bool = HoursFlag,
) -> Response:
    """The metrics of each day or week, for charts."""
    result = await reports.series(
        core, me, handle, start=start, end=to, interval=interval, business_hours=business_hours
    )
    return json(result)


@router.get(R + "/volume", response_model=s.BusinessReportVolumeOut)
async def volume(
    handle: str, core: CoreDep, me: RequesterDep, start: str | None = From, to: str | None = To
) -> Response:
    """Conversations opened in each hour of the week, in the business's time zone."""
    return json(await reports.volume_by_hour(core, me, handle, start=start, end=to))


@router.get(R + "/settings", response_model=s.BusinessReportSettingsOut)
async def settings(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await reports.get_settings(core, me, handle))


@router.patch(R + "/settings", response_model=s.BusinessReportSettingsOut)
async def update_settings(
    handle: str, body: s.BusinessReportSettingsPatch, core: CoreDep, me: RequesterDep
) -> Response:
    """Turn the CSAT survey on or off, or change its texts (owners, admins)."""
    changes = body.model_dump(include=body.model_fields_set)
    return json(await reports.update_settings(core, me, handle, changes))
