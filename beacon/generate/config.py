"""What to generate: scale presets, overrides, the seed and the as-of date."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Scale:
    """Targets for one preset; the generator lands near them (orders and events are stochastic)."""

    tenants_per_type: int
    contacts: int
    orders: int
    events: int
    campaigns_per_tenant: int


SCALES: dict[str, Scale] = {
    "tiny": Scale(tenants_per_type=2, contacts=800, orders=1_400, events=4_000, campaigns_per_tenant=3),
    "small": Scale(tenants_per_type=3, contacts=20_000, orders=40_000, events=120_000, campaigns_per_tenant=5),
    "demo": Scale(tenants_per_type=4, contacts=100_000, orders=250_000, events=1_200_000, campaigns_per_tenant=8),
    "bench": Scale(tenants_per_type=5, contacts=1_000_000, orders=5_000_000, events=20_000_000, campaigns_per_tenant=12),
}


@dataclass(frozen=True)
class GenerateConfig:
    database_url: str
    out: Path
    seed: int = 42
    scale: str = "tiny"
    as_of: datetime = DEFAULT_AS_OF
    contacts: int | None = None
    orders: int | None = None
    events: int | None = None
    chunk_size: int = 50_000

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}: expected one of {sorted(SCALES)}")
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must carry a UTC offset")
        for name in ("contacts", "orders", "events"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"--{name} must be >= 0, got {value}")

    @property
    def targets(self) -> Scale:
        preset = SCALES[self.scale]
        return replace(
            preset,
            contacts=preset.contacts if self.contacts is None else self.contacts,
            orders=preset.orders if self.orders is None else self.orders,
            events=preset.events if self.events is None else self.events,
        )

    @property
    def inbox(self) -> Path:
        return self.out / "inbox"
