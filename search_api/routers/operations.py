"""Liveness, readiness and metrics, for the orchestrator and the monitoring."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from search_api.metrics import METRICS_CONTENT_TYPE
from search_api.models import READINESS_RESPONSES, ReadinessOut
from search_api.service import Service, get_service

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadinessOut, responses=READINESS_RESPONSES)
async def readyz(service: Annotated[Service, Depends(get_service)]) -> Response:
    reason = await service.readiness()
    if reason is not None:
        return JSONResponse({"ready": False, "reason": reason}, status_code=503)
    return JSONResponse({"ready": True})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(service: Annotated[Service, Depends(get_service)]) -> Response:
    return Response(service.metrics.render(), media_type=METRICS_CONTENT_TYPE)
