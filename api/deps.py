"""Dependencies as ``Annotated`` aliases: ``SessionDep``, ``SettingsDep``, ``CurrentPrincipal``, role guards.

The session dependency owns the unit of work: it commits after the endpoint returns and before
the response is sent (``scope="function"``), and rolls back on any error. Services never commit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.auth import repository as auth_repo
from api.errors import Forbidden, RateLimited, Unauthorized
from api.security import api_key_matches, read_access_token, split_api_key
from beacon.schema.models import Role
from beacon.settings import Settings
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine

ROLE_RANK = {Role.viewer: 0, Role.marketer: 1, Role.manager: 2, Role.admin: 3}


def get_session(request: Request) -> Iterator[Session]:
    session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_warehouse(settings: SettingsDep) -> Iterator[Engine]:
    """The warehouse (marts) for read-only queries, opened per request and closed after.

    Per request because an embedded DuckDB file admits one writing process: holding it open in
    the API would lock the pipeline out. Queries must filter on the principal's organization.
    """
    engine = warehouse_engine(settings.warehouse)
    try:
        yield engine
    finally:
        engine.dispose()


WarehouseDep = Annotated[Engine, Depends(get_warehouse)]


@dataclass(frozen=True)
class Principal:
    """Who is calling and for which organization: the only source of an API request's ``OrgId``."""

    org: OrgId
    role: Role
    user_id: int | None = None
    api_key_id: int | None = None

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


_bearer = HTTPBearer(auto_error=False, description="A login token (JWT) or an API key `bk_...`.")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key `bk_...`.")


def _authenticate(session: Session, settings: Settings, credential: str) -> Principal:
    if credential.startswith("bk_"):
        prefix = split_api_key(credential)
        key = auth_repo.find_api_key(session, prefix) if prefix else None
        if key is None or key.revoked_at is not None or not api_key_matches(credential, key.key_hash):
            raise Unauthorized("invalid or revoked API key")
        now = datetime.now(UTC)
        last = key.last_used_at
        # At most one write a minute per key: a busy integration should not update a row per request.
        if last is None or now - (last if last.tzinfo else last.replace(tzinfo=UTC)) > timedelta(minutes=1):
            auth_repo.touch_api_key(session, key.id, now)
        return Principal(org=OrgId(key.organization_id), role=Role(key.role), api_key_id=key.id)
    claims = read_access_token(credential, settings.signing_keys)
    if claims is None:
        raise Unauthorized("invalid or expired access token")
    user_id, org_id = claims
    role = auth_repo.active_membership_role(session, user_id, org_id)
    if role is None:
        raise Unauthorized("the user is no longer a member of this organization")
    return Principal(org=OrgId(org_id), role=Role(role), user_id=user_id)


def get_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    credential = api_key or (bearer.credentials if bearer else None)
    if not credential:
        raise Unauthorized("send `Authorization: Bearer <token or API key>` or `X-API-Key`",
                           headers={"WWW-Authenticate": "Bearer"})
    principal = _authenticate(session, settings, credential)
    wait = request.app.state.rate_limiter.acquire(principal.org)
    if wait:
        retry = "3600" if math.isinf(wait) else str(max(1, math.ceil(wait)))
        raise RateLimited("too many requests for this organization", headers={"Retry-After": retry})
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(role: Role):
    def guard(principal: CurrentPrincipal) -> Principal:
        if not principal.at_least(role):
            raise Forbidden(f"this needs the {role.value} role or higher (you are {principal.role.value})")
        return principal

    guard.__name__ = f"require_{role.value}"
    return guard


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Marketer = Annotated[Principal, Depends(require(Role.marketer))]
Manager = Annotated[Principal, Depends(require(Role.manager))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
