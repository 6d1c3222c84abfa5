"""Per-tenant token buckets, in process.

Each organization has its own bucket, so one tenant at its limit never slows another. In-process
state suits one replica; with several replicas each enforces the limit separately (the effective
limit is per replica), and a shared store (Redis) would take this class's place.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class TokenBucketLimiter:
    capacity: int = 120  # burst
    refill_per_second: float = 20.0
    clock: callable = time.monotonic
    _buckets: dict[object, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, key: object) -> float:
        """Take one token for ``key``; return 0 if allowed, else the seconds until one is available."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.refill_per_second)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.refill_per_second if self.refill_per_second > 0 else math.inf
