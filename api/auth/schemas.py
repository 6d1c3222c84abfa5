from __future__ import annotations

from pydantic import BaseModel, Field


class LoginRequest(BaseModel):
    email: str = Field(examples=["ada@example.org"])
    password: str = Field(min_length=1, examples=["correct horse battery staple"])
    organization_slug: str | None = Field(None, description="Needed only when the user belongs to several organizations.")


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
    organization_id: int
