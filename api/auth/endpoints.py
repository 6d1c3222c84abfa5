from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import service
from api.auth.schemas import AccessToken, LoginRequest
from api.deps import CurrentPrincipal, SessionDep, SettingsDep
from api.errors import ERROR_RESPONSES, RateLimited

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/login", response_model=AccessToken, summary="Exchange email + password for a short-lived token")
def login(body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep) -> AccessToken:
    # Password guessing draws on a bucket per email address, apart from any tenant's API budget.
    if request.app.state.rate_limiter.acquire(("login", body.email.strip().lower())):
        raise RateLimited("too many login attempts for this email; try again later", headers={"Retry-After": "60"})
    token, ttl, org_id = service.login(session, body.email, body.password, body.organization_slug, settings.signing_keys)
    return AccessToken(access_token=token, expires_in=ttl, organization_id=org_id)


@router.get("/me", summary="Who the credentials belong to")
def me(principal: CurrentPrincipal) -> dict:
    return {"organization_id": principal.org, "role": principal.role.value,
            "user_id": principal.user_id, "api_key_id": principal.api_key_id}
