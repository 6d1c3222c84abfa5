"""The API application: ``create_app(settings)`` assembles the routers and applies global policy."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.api_keys.endpoints import router as api_keys_router
from api.auth.endpoints import router as auth_router
from api.billing.endpoints import router as billing_router
from api.campaigns.endpoints import router as campaigns_router
from api.contacts.endpoints import router as contacts_router
from api.errors import install_error_handlers
from api.lists.endpoints import router as lists_router
from api.organizations.endpoints import router as organizations_router
from api.ratelimit import TokenBucketLimiter
from api.reports.endpoints import router as reports_router
from api.segments.endpoints import router as segments_router
from api.suppressions.endpoints import router as suppressions_router
from api.templates.endpoints import router as templates_router
from api.tracking.endpoints import router as tracking_router
from api.tracking.fastpath import TrackingFastPath
from api.users.endpoints import router as users_router
from api.webhooks.endpoints import router as webhooks_router
from beacon.schema.db import make_engine, session_factory
from beacon.settings import Settings, get_settings

# Authenticated resources, under /v1; public links and webhooks keep short, stable root paths.
RESOURCE_ROUTERS = [auth_router, organizations_router, users_router, api_keys_router, contacts_router, lists_router,
                    segments_router, templates_router, campaigns_router, suppressions_router, billing_router,
                    reports_router]
PUBLIC_ROUTERS = [tracking_router, webhooks_router]
API_PREFIX = "/v1"

DESCRIPTION = """Beacon's HTTP API: contacts, lists, segments, templates and campaigns per organization,
plus tracking links, one-click unsubscribe and provider webhooks.

Authenticate with `Authorization: Bearer <API key or login token>` (or `X-API-Key`).
Every error is `{"error": {"code", "message", "details"}}`; every list is cursor-paginated."""


class BeaconAPI(FastAPI):
    """FastAPI with the tracking fast path (api/tracking/fastpath.py) in front of everything else.

    The open pixel and click redirect are answered before FastAPI's own call (its telemetry check reads
    the environment on every request) and its middleware stack (error, telemetry and body-limit layers,
    each wrapping ``send``); every other request, and every hit the fast path passes on, goes through
    FastAPI as usual, and the tracking routes stay for the docs. So FastAPI's native OpenTelemetry, when
    configured, sees no tracking hits; the events table counts them.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fast_path = TrackingFastPath(super().__call__, beacon=self)

    async def __call__(self, scope, receive, send) -> None:
        await self.fast_path(scope, receive, send)


@asynccontextmanager
async def _lifespan(app: BeaconAPI) -> AsyncIterator[None]:
    if getattr(app.state, "own_process", False):
        # What start-up loaded (modules, the app and its routes: ~160k tracked objects) lives as long as the
        # process, yet every full collection walked it: under tracking load one ran every ~25k hits and held
        # the loop ~100 ms, the p99 at half load of any 3 s run it fell in (23-371 ms, bench/bench_tracking.py).
        # Frozen, a full collection scans only what requests made. Only in a process of its own: in a test
        # run, garbage cycles of earlier apps frozen with it would never be collected.
        gc.collect()
        gc.freeze()
    yield
    await app.fast_path.aclose()


def serve_app() -> FastAPI:
    """The app as ``beacon api`` serves it, in a process of its own (uvicorn's factory, once per worker)."""
    app = create_app()
    app.state.own_process = True
    return app


def create_app(settings: Settings | None = None, *, rate_limiter: TokenBucketLimiter | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = BeaconAPI(title="Beacon API", version="1.0", description=DESCRIPTION, docs_url="/docs", redoc_url="/redoc",
                  openapi_url="/openapi.json", lifespan=_lifespan)
    app.state.settings = settings
    engine = make_engine(settings.operational_url)
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.rate_limiter = rate_limiter or TokenBucketLimiter()
    install_error_handlers(app)
    for router in RESOURCE_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)

    @app.get("/health", tags=["health"], summary="Liveness")
    def health() -> dict:
        return {"status": "ok"}

    return app
