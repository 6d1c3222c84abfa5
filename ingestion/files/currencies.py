"""ISO 4217 currency codes, from pycountry (Debian's iso-codes data), not a hand-kept list."""

from __future__ import annotations

from functools import cache

import pyarrow as pa


@cache
def iso4217_codes() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


def currency_table() -> pa.Table:
    return pa.table({"code": sorted(iso4217_codes())})
