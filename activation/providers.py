"""The two narrow provider interfaces activation needs, and their SDK-backed implementations.

``Mailer.send_batch`` posts one SendGrid v3 ``mail/send`` body (up to 1,000 personalizations);
``Texter.send`` creates one Twilio message. Both translate SDK errors into :class:`TransientError`
(retry: 429, 5xx, timeouts, refused connections) and :class:`PermanentError` (do not retry;
``per_recipient`` names the personalization or the Twilio error code).
"""

from __future__ import annotations

import json
import socket
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

JSON_UTF8 = {"Content-Type": "application/json; charset=utf-8"}
TWILIO_OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient": suppress the number
TWILIO_INVALID_NUMBERS = {21211, 21614, 21612, 21408}


class TransientError(Exception):
    """Worth retrying. ``outcome_unknown``: the request may have been accepted (a timeout)."""

    def __init__(self, message: str, *, retry_after: float | None = None, outcome_unknown: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


class PermanentError(Exception):
    """Retrying will not help. ``personalizations``: indexes SendGrid blamed; ``code``: Twilio's code."""

    def __init__(self, message: str, *, personalizations: dict[int, str] | None = None, code: int | None = None):
        super().__init__(message)
        self.personalizations = personalizations or {}
        self.code = code


class Mailer(Protocol):
    def send_batch(self, body: dict[str, Any]) -> str | None:
        """Post one v3 mail/send body; return the X-Message-Id."""

    def accepted(self, send_ids: list[str]) -> dict[str, str] | None:
        """send_id -> provider message id for send_ids the provider accepted, or None when the
        provider cannot say (real SendGrid has no lookup by custom arg)."""


class Texter(Protocol):
    def send(self, *, to: str, from_: str, body: str, status_callback: str | None) -> str:
        """Create one message; return its SID."""


# ----------------------------------------------------------------------------- retry policy


def _wait_retry_after_or_backoff(initial: float, maximum: float) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return min(float(error.retry_after), maximum)
        return backoff(state)

    return wait


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 30.0

    def retrying(self, before_retry: Callable[[RetryCallState], None] | None = None) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(TransientError),
            wait=_wait_retry_after_or_backoff(self.initial_wait, self.max_wait),
            stop=stop_after_attempt(self.attempts),
            before_sleep=before_retry,
            reraise=True,
        )


# ----------------------------------------------------------------------------- SendGrid


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _blamed_personalizations(body: Any) -> dict[int, str]:
    """SendGrid 400 bodies name fields like ``personalizations.12.to.0.email``."""
    try:
        errors = json.loads(body)["errors"]
    except (ValueError, KeyError, TypeError):
        return {}
    blamed: dict[int, str] = {}
    for error in errors:
        parts = str(error.get("field") or "").split(".")
        if len(parts) > 1 and parts[0] == "personalizations" and parts[1].isdigit():
            blamed[int(parts[1])] = str(error.get("message") or "rejected")
    return blamed


class SendGridMailer:
    """The official SDK's ``client.mail.send.post``; optional lookup via the fake's inspection API."""

    def __init__(self, client: Any, *, timeout: float = 30.0, lookup: Callable[[list[str]], dict[str, str]] | None = None):
        self.client = client
        self.timeout = timeout
        self._lookup = lookup

    def send_batch(self, body: dict[str, Any]) -> str | None:
        from python_http_client import exceptions as http_errors

        try:
            # Serialized here with orjson: the SDK json.dumps()es a dict body (~25 µs per recipient at
            # 1,000 personalizations, measured) but sends a str body as it is when the Content-Type
            # is not the bare 'application/json'; the charset parameter keeps the same media type.
            response = self.client.client.mail.send.post(
                request_body=orjson.dumps(body).decode(), request_headers=JSON_UTF8, timeout=self.timeout)
        except http_errors.HTTPError as exc:
            status = int(getattr(exc, "status_code", 0) or 0)
            detail = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body)
            if status == 429 or status >= 500:
                raise TransientError(f"SendGrid {status}: {detail[:200]}", retry_after=_retry_after(exc.headers)) from exc
            raise PermanentError(f"SendGrid {status}: {detail[:500]}", personalizations=_blamed_personalizations(exc.body)) from exc
        except (TimeoutError, socket.timeout) as exc:
            raise TransientError(f"SendGrid timed out after {self.timeout}s", outcome_unknown=True) from exc
        except urllib.error.URLError as exc:
            unknown = isinstance(exc.reason, (TimeoutError, socket.timeout))
            raise TransientError(f"SendGrid unreachable: {exc.reason}", outcome_unknown=unknown) from exc
        except (ConnectionError, OSError) as exc:  # reset mid-response: the request may have landed
            raise TransientError(f"SendGrid connection error: {exc}", outcome_unknown=True) from exc
        headers = response.headers
        return headers.get("X-Message-Id") if headers is not None else None

    def accepted(self, send_ids: list[str]) -> dict[str, str] | None:
        return self._lookup(send_ids) if self._lookup is not None else None


# ----------------------------------------------------------------------------- Twilio


class TwilioTexter:
    def __init__(self, client: Any):
        self.client = client

    def send(self, *, to: str, from_: str, body: str, status_callback: str | None) -> str:
        import requests
        from twilio.base.exceptions import TwilioRestException

        try:
            message = self.client.messages.create(to=to, from_=from_, body=body, status_callback=status_callback)
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise TransientError(f"Twilio {exc.status}: {exc.msg}") from exc
            raise PermanentError(f"Twilio {exc.status} error {exc.code}: {exc.msg}", code=exc.code) from exc
        except requests.exceptions.Timeout as exc:
            raise TransientError("Twilio timed out", outcome_unknown=True) from exc
        except requests.exceptions.ConnectionError as exc:
            raise TransientError(f"Twilio unreachable: {exc}", outcome_unknown=True) from exc
        return message.sid
