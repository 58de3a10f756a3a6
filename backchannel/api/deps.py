"""Request dependencies: the Core, and the authenticated Requester."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backchannel.domain import webhooks as webhook_rules
from backchannel.errors import BackchannelError
from backchannel.services import accounts, business_tokens
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
    if credentials.credentials.startswith(webhook_rules.TOKEN_PREFIX):
        return await _business_token(request, core, credentials.credentials)
    return await accounts.authenticate(core, credentials.credentials)


async def _business_token(request: Request, core: Core, token: str) -> Requester:
    """A business API token: valid, and on one of its own business's routes."""
    requester = await business_tokens.authenticate_token(core, token)
    route = getattr(request.scope.get("route"), "path", None)
    if not webhook_rules.token_may_use(route, request.path_params.get("handle"), requester.handle):
        raise BackchannelError(
            "token_scope", "This API token works only on its business's /businesses/… routes."
        )
    return requester


CoreDep = Annotated[Core, Depends(get_core)]
RequesterDep = Annotated[Requester, Depends(get_requester)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def bearer_or_signed(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    check: Callable[[int, int, str], int],
    not_found: str,
) -> int:
    """Who is asking for a download: the bearer token's user, or the one a signed link
    (`u`, `exp`, `sig`) was made for, as `check(user, expires, signature)` answers (it raises
    for a link that is not good). A link whose numbers do not parse gets `not_found`, the
    object's own code, like any other bad link."""
    core: Core = request.app.state.core
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return (await accounts.authenticate(core, credentials.credentials)).user_id
    query = request.query_params
    if not {"u", "exp", "sig"} <= query.keys():
        raise BackchannelError("unauthenticated", "Send a bearer token or use a signed link.")
    try:
        user, expires = int(query["u"]), int(query["exp"])
    except ValueError:
        raise BackchannelError(not_found) from None
    return check(user, expires, query["sig"])
