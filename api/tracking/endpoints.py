"""Public links in messages: open pixel, click redirect, unsubscribe (RFC 8058 one-click) and preferences.

No authentication: the signed token is the credential. A forged or altered token is a 404 with no
redirect. Every 2xx/302 is sent after the event row is committed (the session dependency commits
before the response goes out; the open pixel and click redirect commit their own unit of work).
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import SessionDep, SettingsDep
from api.errors import NotFound
from api.tracking import pages, service
from beacon.tokens import TokenKind, UnsafeDestination, check_destination

# Spelled out as JSON: with ``model`` FastAPI would file the error under the HTML pages' text/html.
NOT_FOUND = {"description": "Unknown or forged link",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
router = APIRouter(tags=["tracking"], responses={404: NOT_FOUND})

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0", "Pragma": "no-cache", "Expires": "0"}


def _client(request: Request) -> tuple[str, str | None]:
    return request.headers.get("user-agent", ""), request.client.host if request.client else None


def _commit_hit(session_factory, record, *args) -> None:
    """One unit of work for a hit: record, commit, close; the response waits for the commit."""
    with session_factory() as session:
        record(session, *args)
        session.commit()


# Genuine hits on these two are answered by api/tracking/fastpath.py (group commit, below the router);
# these routes document them and answer what it passes on (bad tokens, unknown sends: 404).
# The two hot paths (every open and click of every message) skip the dependency-injected session:
# each sync dependency is a thread-pool hop, and measured (bench/bench_tracking.py) the hops and a
# per-hit compiled statement cost more than the database work. Here: token checked on the event loop,
# then one hop that inserts and commits before the response is sent, as everywhere else.
@router.get("/t/o/{token}.gif", response_class=Response, summary="Open pixel (1x1 GIF)",
            responses={200: {"content": {"image/gif": {}}}})
async def open_pixel(token: str, request: Request) -> Response:
    claims = service.verify_link(token, TokenKind.open, request.app.state.settings.signing_keys)
    await run_in_threadpool(_commit_hit, request.app.state.session_factory, service.record_open, claims.send_id,
                            *_client(request))
    return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)


@router.get("/t/c/{token}", response_class=RedirectResponse, status_code=302, summary="Click redirect")
async def click(token: str, request: Request) -> Response:
    claims = service.verify_link(token, TokenKind.click, request.app.state.settings.signing_keys)
    try:
        url = check_destination(claims.url or "")  # checked at signing too; never trust one check
    except UnsafeDestination:
        raise NotFound("link not found") from None
    await run_in_threadpool(_commit_hit, request.app.state.session_factory, service.record_click, claims.send_id, url,
                            *_client(request))
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


@router.get("/u/{token}", response_class=HTMLResponse, summary="Unsubscribe page (asks to confirm; changes nothing)")
def unsubscribe_page(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    _, delivery = service.read_token(session, token, TokenKind.unsubscribe, settings.signing_keys)
    return HTMLResponse(pages.confirm_unsubscribe(request.url.path, delivery.address), headers=NO_CACHE)


@router.post("/u/{token}", response_class=HTMLResponse,
             summary="Unsubscribe (RFC 8058 one-click: no auth, no cookies, no redirect, idempotent)")
def unsubscribe(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    _, delivery = service.read_token(session, token, TokenKind.unsubscribe, settings.signing_keys)
    service.unsubscribe(session, delivery, method="one_click")
    return HTMLResponse(pages.unsubscribed(), headers=NO_CACHE)


@router.get("/preferences/{token}", response_class=HTMLResponse, summary="Email preferences page")
def preferences_page(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    _, delivery = service.read_token(session, token, TokenKind.preferences, settings.signing_keys)
    current = service.preferences(session, delivery)
    if current is None:
        raise NotFound("link not found")
    return HTMLResponse(pages.preferences_form(request.url.path, current), headers=NO_CACHE)


@router.post("/preferences/{token}", response_class=HTMLResponse, summary="Save email preferences (form post)")
def save_preferences(token: str, session: SessionDep, settings: SettingsDep,
                     promotional: Annotated[str | None, Form()] = None,
                     newsletter: Annotated[str | None, Form()] = None) -> HTMLResponse:
    _, delivery = service.read_token(session, token, TokenKind.preferences, settings.signing_keys)
    if service.preferences(session, delivery) is None:
        raise NotFound("link not found")
    chosen = {"promotional": promotional, "newsletter": newsletter}
    wanted = {c for c, v in chosen.items() if v in {"on", "true", "1", "yes"}}
    return HTMLResponse(pages.preferences_saved(service.save_preferences(session, delivery, wanted)), headers=NO_CACHE)
