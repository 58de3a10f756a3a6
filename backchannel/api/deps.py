"""Request dependencies: the Core, and the authenticated Requester."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backchannel.errors import BackchannelError
from backchannel.services import accounts
from backchannel.services.core import Core, Requester

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/sessions.")


async def get_core(request: Request) -> Core:
    # async: a plain `def` dependency would cost a thread hop per request
    core: Core = request.app.state.core
    return core


async def get_requester(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Requester:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise BackchannelError("unauthenticated", "Send `Authorization: Bearer <token>`.")
    core: Core = request.app.state.core
    return await accounts.authenticate(core, credentials.credentials)


CoreDep = Annotated[Core, Depends(get_core)]
RequesterDep = Annotated[Requester, Depends(get_requester)]
