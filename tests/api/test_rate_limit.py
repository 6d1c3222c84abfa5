"""Per-tenant token buckets: one tenant at its limit gets 429 + Retry-After; another is unaffected."""

from __future__ import annotations

from api.ratelimit import TokenBucketLimiter
from beacon.schema.models import Role


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_tenant_at_its_limit_does_not_affect_another(app, client, tenant_a, tenant_b):
    clock = ManualClock()
    app.state.rate_limiter = TokenBucketLimiter(capacity=3, refill_per_second=0.5, clock=clock)
    for _ in range(3):
        assert client.get("/v1/contacts", headers=tenant_a.headers()).status_code == 200
    limited = client.get("/v1/contacts", headers=tenant_a.headers())
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["Retry-After"] == "2"
    for _ in range(3):
        assert client.get("/v1/contacts", headers=tenant_b.headers()).status_code == 200, "B has its own bucket"
    # Keys of one tenant share its bucket.
    assert client.get("/v1/contacts", headers=tenant_a.headers(Role.viewer)).status_code == 429
    clock.now += 2
    assert client.get("/v1/contacts", headers=tenant_a.headers()).status_code == 200, "refilled after Retry-After"


def test_bucket_refill_is_capped_at_capacity():
    clock = ManualClock()
    limiter = TokenBucketLimiter(capacity=2, refill_per_second=1, clock=clock)
    clock.now = 1_000
    assert [limiter.acquire("t") for _ in range(3)][:2] == [0.0, 0.0]
    assert limiter.acquire("t") > 0


def test_login_attempts_are_limited_per_email(app, client, tenant_a):
    app.state.rate_limiter = TokenBucketLimiter(capacity=2, refill_per_second=0.01, clock=ManualClock())
    for _ in range(2):
        assert client.post("/v1/auth/login", json={"email": "admin@alpha.example", "password": "guess"}).status_code == 401
    blocked = client.post("/v1/auth/login", json={"email": "Admin@Alpha.example", "password": "correct horse battery"})
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]
    assert client.get("/v1/contacts", headers=tenant_a.headers()).status_code == 200, "API keys use the tenant's own bucket"
