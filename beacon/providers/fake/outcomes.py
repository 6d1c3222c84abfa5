"""Deterministic delivery outcomes: the same ``send_id`` always meets the same fate.

Rates are plausible for marketing mail/SMS. A recipient address can force an outcome for tests
and demos with a plus tag (``ann+bounce@example.com``, ``+soft``, ``+spam``, ``+unsub``, ``+click``,
``+open``, ``+machine``, ``+dup``); phone numbers ending in ``0003`` are undeliverable and ``0008``
fail at the carrier.
"""

from __future__ import annotations

import base64
import hashlib
import random
from typing import Any

SENDGRID_EVENT_NAMES = ("processed", "delivered", "open", "click", "bounce", "spamreport", "unsubscribe")
_USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
)


def seeded_random(seed: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:8], "big"))


def _event_id(sg_message_id: str, name: str) -> str:
    digest = hashlib.sha256(f"{sg_message_id}/{name}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _forced(email: str) -> set[str]:
    local = email.split("@", 1)[0].lower()
    return set(local.split("+")[1:])


def sendgrid_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The Event Webhook objects SendGrid would post for one accepted recipient, in time order."""
    seed = str(message["custom_args"].get("send_id") or message["sg_message_id"])
    rng = seeded_random(seed)
    tags = _forced(message["email"])
    at = int(message["accepted_at"])
    base = {"email": message["email"], "sg_message_id": message["sg_message_id"], **message["custom_args"]}
    events: list[dict[str, Any]] = []

    def add(name: str, delay: int, key: str | None = None, **extra: Any) -> dict[str, Any]:
        event = {
            **base,
            "event": name,
            "timestamp": at + delay,
            "sg_event_id": _event_id(message["sg_message_id"], key or name),
            **extra,
        }
        events.append(event)
        return event

    # An address that forces an outcome gets no random ones on top.
    chance = (lambda: 1.0) if tags else rng.random
    add("processed", 0, smtp_id=f"<{message['sg_message_id']}@ismtpd.fake>")
    roll = chance()
    if "bounce" in tags or roll < 0.02:
        add(
            "bounce",
            5,
            type="bounce",
            status="5.1.1",
            reason="550 5.1.1 The email account that you tried to reach does not exist.",
        )
        return events
    if "soft" in tags or roll < 0.05:
        add(
            "bounce",
            5,
            type="blocked",
            status="4.2.2",
            reason="452 4.2.2 The recipient's inbox is out of storage space.",
        )
        return events
    delivered = add("delivered", 3, response="250 2.0.0 OK", ip="149.72.0.1")
    if "dup" in tags or chance() < 0.02:
        events.append(dict(delivered))  # SendGrid delivers at least once: same sg_event_id again
    if "spam" in tags or chance() < 0.005:
        add("spamreport", 600)
        return events
    machine = "machine" in tags or chance() < 0.2
    if machine:
        add("open", 60, key="open-machine", sg_machine_open=True, useragent="Mozilla/5.0", ip="17.58.0.1")
    opens = bool(tags & {"open", "click"}) or chance() < 0.35
    if opens:
        agent = rng.choice(_USER_AGENTS)
        add("open", 300 + rng.randrange(3600), sg_machine_open=False, useragent=agent, ip="203.0.113.7")
        if "click" in tags or chance() < 0.3:
            url = message["links"][0] if message["links"] else "https://example.com/"
            add("click", 4000 + rng.randrange(600), url=url, useragent=agent, ip="203.0.113.7")
    if "unsub" in tags or chance() < 0.01:
        add("unsubscribe", 5000)
    return events


def twilio_statuses(message: dict[str, Any]) -> list[tuple[str, int | None]]:
    """The (MessageStatus, ErrorCode) callbacks Twilio posts for one message, in order."""
    to = message["to"]
    roll = seeded_random(message["seed"]).random()
    if to.endswith("0008") or (not to.endswith("0003") and roll < 0.02):
        outcome = [("failed", 30008)]
    elif to.endswith("0003") or roll < 0.05:
        outcome = [("sent", None), ("undelivered", 30003 if to.endswith("0003") else 30005)]
    else:
        outcome = [("sent", None), ("delivered", None)]
    return [("queued", None), *outcome]
