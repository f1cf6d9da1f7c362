"""``POST /v1/existence-checks``: does an unmatched record exist for this person?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from search_api.models import EXISTENCE_CHECK_RESPONSES, ExistenceCheckIn, ExistenceCheckOut
from search_api.service import ApiResult, Service, client_key, get_service

router = APIRouter()


@router.post(
    "/v1/existence-checks",
    response_model=ExistenceCheckOut,
    responses=EXISTENCE_CHECK_RESPONSES,
)
async def existence_check(
    body: ExistenceCheckIn, request: Request, service: Annotated[Service, Depends(get_service)]
) -> Response:
    """Whether a matching unmatched record exists, plus a reference number.

    Partner offices send ``Authorization: Bearer <partner key>``: the check is then counted
    under their channel and office and against the office's own limit. No header: the public
    web channel, limited per client address. Any other header: 401."""
    partner = service.authenticate_partner(request.headers.get("authorization"))
    if partner is False:
        return ApiResult(
            401,
            {"error": "unauthorized", "message": "A valid partner key is required."},
            {"WWW-Authenticate": "Bearer"},
        ).response()
    result = await service.check(
        body,
        client_key(request, service.trusted_proxies),
        request.state.request_id,
        partner=partner,
    )
    return result.response()
