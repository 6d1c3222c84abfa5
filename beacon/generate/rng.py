"""Seeded randomness: independent, named streams, so adding a stream never shifts another's draws.

Everything random in the generator comes from here (numpy ``Generator(PCG64)``), including UUIDs:
``uuid4()`` reads the OS entropy pool and would break "same seed, same bytes".
"""

from __future__ import annotations

import uuid
import zlib

import numpy as np


def stream(seed: int, *labels: str | int) -> np.random.Generator:
    """A generator for one purpose, e.g. ``stream(seed, "contacts", org_slug)``."""
    key = tuple(label if isinstance(label, int) else zlib.crc32(label.encode()) for label in labels)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def uuids(rng: np.random.Generator, n: int) -> list[uuid.UUID]:
    """``n`` version-4 UUIDs drawn from ``rng``."""
    raw = rng.bytes(16 * n)
    return [uuid.UUID(bytes=raw[i * 16 : (i + 1) * 16], version=4) for i in range(n)]


def hex_ids(rng: np.random.Generator, n: int, length: int = 32) -> list[str]:
    """``n`` random lowercase hex strings (provider message ids, event ids, SIDs)."""
    raw = rng.bytes((length + 1) // 2 * n).hex()
    step = (length + 1) // 2 * 2
    return [raw[i * step : i * step + length] for i in range(n)]


def weighted_choice(rng: np.random.Generator, options: list, weights: list[float], size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(options), size=size, p=p / p.sum())
