"""``POST /v1/existence-checks``: does an unmatched record exist for this person?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from search_api.models import EXISTENCE_CHECK_RESPONSES, ExistenceCheckIn, ExistenceCheckOut
from search_api.service import Service, client_key, get_service

router = APIRouter()


@router.post(
    "/v1/existence-checks",
    response_model=ExistenceCheckOut,
    responses=EXISTENCE_CHECK_RESPONSES,
)
async def existence_check(
    body: ExistenceCheckIn, request: Request, service: Annotated[Service, Depends(get_service)]
) -> Response:
    """Whether a matching unmatched record exists, plus an opaque reference token."""
    result = await service.check(body, client_key(request), request.state.request_id)
    return result.response()
