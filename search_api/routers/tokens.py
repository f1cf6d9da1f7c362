"""``GET /v1/reference-tokens/{token}``: pension-office staff resolve a reference number (or a
v1.0 sealed token) to its records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from search_api.models import TOKEN_RESOLUTION_RESPONSES, TokenResolutionOut
from search_api.service import Service, get_service

router = APIRouter()


@router.get(
    "/v1/reference-tokens/{token}",
    response_model=TokenResolutionOut,
    responses=TOKEN_RESOLUTION_RESPONSES,
)
async def resolve_token(
    token: str, request: Request, service: Annotated[Service, Depends(get_service)]
) -> Response:
    """For pension-office staff: the candidate records and the submitted check.

    ``token`` is the reference number as printed (``ABC-DEF-GHJ-KMN-PQR-STU``), typed in any
    case, with or without hyphens or spaces; a v1.0 sealed token is still accepted."""
    result = await service.resolve_token(
        token, request.headers.get("authorization", ""), request.state.request_id
    )
    return result.response()
