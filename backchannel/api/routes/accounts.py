"""Accounts, sessions (devices) and the requester's own profile."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.client_ip import ClientIpDep, limit_key
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json, no_content
from backchannel.ratelimit import enforce
from backchannel.services import accounts
from backchannel.services.core import Core

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/accounts", status_code=201, response_model=s.AuthOut)
async def register(body: s.AccountIn, core: CoreDep, ip: ClientIpDep) -> Response:
    """Create an account; the reply carries a bearer token for this device."""
    if core.settings.rate_limits:
        await _limit_registration(core, ip)
    user, token = await accounts.register(
        core,
        handle=body.handle,
        password=body.password,
        display_name=body.display_name,
        device_name=body.device_name,
        birth_date=body.birth_date,
    )
    return json({"token": token, "user": user}, 201)


@router.post("/sessions", status_code=201, response_model=s.AuthOut)
async def login(body: s.SessionIn, core: CoreDep, ip: ClientIpDep) -> Response:
    """Log in on a device: a new session and its bearer token."""
    if core.settings.rate_limits:
        await _limit_login(core, ip, body.handle)
    user, token = await accounts.login(
        core, handle=body.handle, password=body.password, device_name=body.device_name
    )
    return json({"token": token, "user": user}, 201)


async def _limit_registration(core: Core, ip: str) -> None:
    """Per client IP, before any password hashing (refusing a flood must be cheap).
    Every attempt let through counts, whether or not it then creates an account (a taken
    handle, a weak password)."""
    await enforce(
        core.limiter,
        f"accounts:ip:{limit_key(ip)}",
        limit=core.settings.limit_accounts_per_ip_per_hour,
        window_seconds=3600,
        what="accounts created from your network",
    )


async def _limit_login(core: Core, ip: str, handle: str) -> None:
    """Every attempt counts, successful or not (counting only failures would need a
    check before and a hit after, which a burst of parallel guesses slips through), per
    client IP and per handle (against guesses spread over many addresses). Before the
    password is checked. An attempt refused per IP does not count against the handle."""
    await enforce(
        core.limiter,
        f"logins:ip:{limit_key(ip)}",
        limit=core.settings.limit_logins_per_ip_per_minute,
        window_seconds=60,
        what="login attempts from your network",
    )
    await enforce(
        core.limiter,
        f"logins:handle:{handle.strip().lower()}",
        limit=core.settings.limit_logins_per_handle_per_minute,
        window_seconds=60,
        what="login attempts for this handle",
    )


@router.get("/sessions", response_model=s.SessionList)
async def list_sessions(core: CoreDep, me: RequesterDep) -> Response:
    """Your devices, most recently used first."""
    return json({"items": await accounts.list_sessions(core, me)})


@router.delete("/sessions/current", status_code=204)
async def logout(core: CoreDep, me: RequesterDep) -> Response:
    """Log out this device: its token stops working."""
    await accounts.logout(core, me)
    return no_content()


@router.delete("/sessions/{session_id}", status_code=204)
async def revoke_session(session_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """Revoke one of your devices."""
    await accounts.revoke_session(core, me, session_id)
    return no_content()


@router.get("/me", response_model=s.ProfileOut)
async def get_me(core: CoreDep, me: RequesterDep) -> Response:
    return json(await accounts.get_me(core, me))


@router.patch("/me", response_model=s.ProfileOut)
async def update_me(body: s.MePatch, core: CoreDep, me: RequesterDep) -> Response:
    """Change your display name and bio."""
    return json(await accounts.update_me(core, me, display_name=body.display_name, bio=body.bio))


@router.get("/me/settings", response_model=s.SettingsOut)
async def get_settings(core: CoreDep, me: RequesterDep) -> Response:
    """Your settings."""
    return json(await accounts.get_settings(core, me))


@router.patch("/me/settings", response_model=s.SettingsOut)
async def update_settings(body: s.SettingsPatch, core: CoreDep, me: RequesterDep) -> Response:
    """Change your settings (only the fields you send)."""
    return json(
        await accounts.update_settings(
            core,
            me,
            read_receipts=body.read_receipts,
            activity_status=body.activity_status,
            dm_inbox=body.dm_inbox,
            dm_requests=body.dm_requests,
            birth_date=body.birth_date,
        )
    )


@router.put("/me/password", status_code=204)
async def change_password(body: s.PasswordChangeIn, core: CoreDep, me: RequesterDep) -> Response:
    """Change your password; every other device is logged out."""
    await accounts.change_password(
        core, me, current_password=body.current_password, new_password=body.new_password
    )
    return no_content()


@router.post("/me/deactivate", status_code=204)
async def deactivate(body: s.DeactivateIn, core: CoreDep, me: RequesterDep) -> Response:
    """Deactivate your account: profile erased, devices logged out, groups left.
    Your messages remain, shown as from a deleted user."""
    await accounts.deactivate(core, me, password=body.password)
    return no_content()
