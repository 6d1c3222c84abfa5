from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy.orm import Session

from api.auth import repository
from api.errors import Unauthorized, Unprocessable
from api.security import issue_access_token, verify_password


def login(session: Session, email: str, password: str, organization_slug: str | None, keys: list[SecretStr]) -> tuple[str, int, int]:
    user = repository.find_user_by_email(session, email)
    if not verify_password(password, user.password_hash if user else None) or user is None or not user.is_active:
        raise Unauthorized("wrong email or password")
    orgs = repository.memberships_of(session, user.id)
    if organization_slug is not None:
        orgs = [o for o in orgs if o[1] == organization_slug]
    if not orgs:
        raise Unauthorized("the user is not a member of that organization")
    if len(orgs) > 1:
        raise Unprocessable("organization_slug: the user belongs to several organizations; say which",
                            details=[{"loc": "body.organization_slug", "message": ", ".join(o[1] for o in orgs)}])
    token, ttl = issue_access_token(user.id, orgs[0][0], keys)
    return token, ttl, orgs[0][0]
