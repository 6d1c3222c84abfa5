"""The ceiling for the tracking benchmark: a bare ASGI app answering like the tracking links do.

``/t/o/...`` returns the same 1x1 GIF with the same no-cache headers, ``/t/c/...`` the same 302,
anything else 200 (for the readiness probe). No framework, no database: what one uvicorn worker
can serve at most on this machine, so the real endpoints' figures have something to be set beside.
"""

from __future__ import annotations

import base64

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = [(b"cache-control", b"no-store, no-cache, must-revalidate, private, max-age=0"), (b"pragma", b"no-cache"),
            (b"expires", b"0")]
DESTINATION = b"https://shop.example.com/spring?utm_source=beacon"


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan: nothing to set up
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if path.startswith("/t/o/"):
        status, headers, body = 200, [(b"content-type", b"image/gif"), *NO_CACHE], PIXEL
    elif path.startswith("/t/c/"):
        status, headers, body = 302, [(b"location", DESTINATION), *NO_CACHE], b""
    else:
        status, headers, body = 200, [(b"content-type", b"text/plain")], b"ok"
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
