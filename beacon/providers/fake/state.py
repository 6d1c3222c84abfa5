"""Everything the fake remembers: accepted messages, Stripe objects, faults and webhook targets."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field


class FakeConfig(BaseModel):
    """Where the fake posts its webhooks (any may be left unset until needed)."""

    sendgrid_event_webhook_url: str | None = None
    twilio_inbound_url: str | None = None
    stripe_webhook_url: str | None = None


class Fault(BaseModel):
    """The next ``count`` matching requests fail with ``status`` (and/or are delayed ``delay_s``)."""

    provider: str = Field(description="sendgrid | twilio | stripe | * (any)")
    status: int | None = Field(None, ge=400, le=599, description="Error status; None with delay_s = slow success.")
    count: int = Field(1, ge=1)
    retry_after: int | None = Field(None, ge=0, description="Seconds, sent as the Retry-After header.")
    delay_s: float = Field(0.0, ge=0, le=120, description="Sleep before answering (client timeouts).")
    path_contains: str | None = Field(None, description="Only requests whose path contains this.")


@dataclass
class FakeState:
    config: FakeConfig = field(default_factory=FakeConfig)
    lock: threading.RLock = field(default_factory=threading.RLock)
    faults: list[Fault] = field(default_factory=list)
    # SendGrid: one record per recipient of every accepted personalization.
    sendgrid_messages: list[dict[str, Any]] = field(default_factory=list)
    sendgrid_requests: int = 0
    # Twilio
    twilio_messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    twilio_opted_out: set[tuple[str, str]] = field(default_factory=set)  # (our number, their number)
    twilio_opted_out_anywhere: set[str] = field(default_factory=set)
    # Stripe: objects by id, in creation order.
    stripe_objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    stripe_meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by identifier
    stripe_idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    stripe_events: list[dict[str, Any]] = field(default_factory=list)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next_number(self) -> int:
        return next(self.counter)

    def reset(self) -> None:
        """Forget everything but the webhook targets."""
        with self.lock:
            config = self.config
            fresh = FakeState(config=config)
            for name in (
                "faults",
                "sendgrid_messages",
                "sendgrid_requests",
                "twilio_messages",
                "twilio_opted_out",
                "twilio_opted_out_anywhere",
                "stripe_objects",
                "stripe_meter_events",
                "stripe_idempotency",
                "stripe_events",
                "counter",
            ):
                setattr(self, name, getattr(fresh, name))

    def take_fault(self, provider: str, path: str) -> Fault | None:
        """Consume one matching fault, if any is armed."""
        with self.lock:
            for fault in self.faults:
                if fault.provider not in (provider, "*"):
                    continue
                if fault.path_contains and fault.path_contains not in path:
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault.model_copy()
        return None
