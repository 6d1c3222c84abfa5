"""Per-sender token buckets for SMS (carriers throttle each long code, by default 1 message/s).

Hand-written: the bucket is a dozen lines and must be shared by the worker threads of one run;
a rate-limiting library (pyrate-limiter, limits) would add a dependency for no extra behaviour.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked; :meth:`acquire` blocks until one is free."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate, self.burst = float(rate), float(burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)


class SenderPool:
    """One bucket per sender number; recipients stick to one sender (stable hash of the address)."""

    def __init__(self, senders: list[str], rate_per_sender: float, burst: float = 1.0):
        if not senders:
            raise ValueError("no SMS sender numbers configured (organization setting 'sms_senders')")
        self.senders = list(senders)
        self.buckets = {s: TokenBucket(rate_per_sender, burst) for s in self.senders}

    def sender_for(self, contact_id: int) -> str:
        return self.senders[contact_id % len(self.senders)]
