"""Request dependencies: the Core, and the authenticated Requester."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backchannel.errors import BackchannelError
from backchannel.services import accounts
from backchannel.services.core import Core, Requester

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/sessions.")


def get_core(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


async def get_requester(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Requester:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise BackchannelError("unauthenticated", "Send `Authorization: Bearer <token>`.")
    return await accounts.authenticate(get_core(request), credentials.credentials)


CoreDep = Annotated[Core, Depends(get_core)]
RequesterDep = Annotated[Requester, Depends(get_requester)]
