"""Secrets: API keys, password hashes and short-lived login tokens (JWT)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import SecretStr

from beacon.tokens import key_id

API_KEY_PREFIX = "bk"
ACCESS_TOKEN_TTL = timedelta(minutes=15)
_passwords = PasswordHasher()


@dataclass(frozen=True)
class NewApiKey:
    prefix: str  # public, stored in clear, used to find the row: "bk_3f9a2c1d"
    key: str  # the whole key, shown once: "bk_3f9a2c1d_<secret>"
    key_hash: str


def new_api_key() -> NewApiKey:
    prefix = f"{API_KEY_PREFIX}_{secrets.token_hex(4)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(prefix, key, hash_api_key(key))


def hash_api_key(key: str) -> str:
    # The secret part is 256 random bits, so a fast keyed hash is enough: a slow password hash
    # (argon2) protects low-entropy secrets and would cost ~50 ms on every API call. The fixed
    # HMAC key only separates this use of SHA-256 from others.
    return hmac.new(b"beacon-api-key-v1", key.encode(), hashlib.sha256).hexdigest()


def split_api_key(key: str) -> str | None:
    """The prefix of a well-formed key (``bk_<8 hex>_<secret>``), else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 8 or not parts[2]:
        return None
    return f"{parts[0]}_{parts[1]}"


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), key_hash)


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        _passwords.hash(password)  # same cost whether or not the user exists
        return False
    try:
        return _passwords.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _jwt_key(key: SecretStr) -> bytes:
    # Derived, so a login token can never be replayed as a tracking token or the other way round.
    return hmac.new(key.get_secret_value().encode(), b"beacon-jwt-v1", hashlib.sha256).digest()


def issue_access_token(user_id: int, organization_id: int, keys: list[SecretStr], now: datetime | None = None) -> tuple[str, int]:
    now = now or datetime.now(UTC)
    claims = {"sub": str(user_id), "org": organization_id, "iat": now, "exp": now + ACCESS_TOKEN_TTL, "typ": "access"}
    token = jwt.encode(claims, _jwt_key(keys[0]), algorithm="HS256", headers={"kid": key_id(keys[0])})
    return token, int(ACCESS_TOKEN_TTL.total_seconds())


def read_access_token(token: str, keys: list[SecretStr]) -> tuple[int, int] | None:
    """(user_id, organization_id) of a valid, unexpired token; None otherwise."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = next((k for k in keys if key_id(k) == kid), None)
        if key is None:
            return None
        claims = jwt.decode(token, _jwt_key(key), algorithms=["HS256"], options={"require": ["exp", "sub", "org"]})
        if claims.get("typ") != "access":
            return None
        return int(claims["sub"]), int(claims["org"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
