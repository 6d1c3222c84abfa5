"""The HTTP client the fake posts webhooks with."""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def _ssl_context() -> ssl.SSLContext:
    # Building a default context costs ~0.1 s; webhook emission creates a client per call.
    return ssl.create_default_context()


def webhook_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30, verify=_ssl_context())
