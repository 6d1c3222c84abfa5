"""Per-customer RFM summaries: the input the BG/NBD and Gamma-Gamma models are fitted on.

The summary follows Fader, Hardie & Lee: orders on the same calendar day (UTC) are one
purchase occasion (their values summed); ``frequency`` counts repeat occasions (all but the
first), ``recency`` is the time from the first to the last occasion, ``T`` the time from the
first occasion to the end of the observation period, and ``monetary_value`` the mean value of
the repeat occasions (0 for customers without one). Times are in the model's time unit, weeks
by default, as in the papers.

dbt computes the same summary in the warehouse; ``validate_rfm`` is the contract both paths meet.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

TimeUnit = Literal["D", "W"]
DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0}

TRANSACTION_COLUMNS = ("customer_id", "ordered_at", "order_value")
RFM_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value")
ORGANIZATION_COLUMN = "organization_id"


class InvalidClvInput(ValueError):
    """The transactions or RFM summary handed to the customer-value models are unusable."""


def days_per_unit(time_unit: str) -> float:
    if time_unit not in DAYS_PER_UNIT:
        raise InvalidClvInput(f"time_unit must be one of {sorted(DAYS_PER_UNIT)}, got {time_unit!r}")
    return DAYS_PER_UNIT[time_unit]


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InvalidClvInput(f"{what} is missing column(s) {missing}; it has {list(frame.columns)}")


def _naive_utc(values: pd.Series | pd.Timestamp) -> pd.Series | pd.Timestamp:
    """Convert to UTC and drop the zone: pandas periods (used for day grouping) reject zones."""
    if isinstance(values, pd.Series):
        return values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz is not None else values
    return values.tz_convert("UTC").tz_localize(None) if values.tz is not None else values


def summarize_transactions(
    transactions: pd.DataFrame,
    observation_end: date | datetime | str | pd.Timestamp,
    *,
    time_unit: TimeUnit = "W",
) -> pd.DataFrame:
    """Summarise orders (``customer_id, ordered_at, order_value`` [, ``organization_id``]) to RFM.

    Orders after ``observation_end`` (a day, inclusive) are ignored, which is what a
    calibration/hold-out split needs. With an ``organization_id`` column customers are
    summarised within their organization (the same ``customer_id`` in two tenants is two customers).
    Returns ``[organization_id,] customer_id, frequency, recency, T, monetary_value``.
    """
    from pymc_marketing.clv.utils import rfm_summary  # imported here: pymc takes seconds to import

    _require_columns(transactions, TRANSACTION_COLUMNS, "transactions")
    by_org = ORGANIZATION_COLUMN in transactions.columns
    keys = [ORGANIZATION_COLUMN, "customer_id"] if by_org else ["customer_id"]
    frame = transactions[[*keys, "ordered_at", "order_value"]].copy()
    for column in (*keys, "ordered_at", "order_value"):
        if frame[column].isna().any():
            raise InvalidClvInput(f"transactions.{column} has {int(frame[column].isna().sum())} missing value(s)")
    try:
        frame["ordered_at"] = _naive_utc(pd.to_datetime(frame["ordered_at"], utc=True))
        end = _naive_utc(pd.Timestamp(observation_end))
    except (ValueError, TypeError) as exc:
        raise InvalidClvInput(f"transactions.ordered_at or observation_end is not a timestamp: {exc}") from exc
    frame["order_value"] = pd.to_numeric(frame["order_value"], errors="coerce")
    if frame["order_value"].isna().any():
        raise InvalidClvInput("transactions.order_value must be numeric")
    if (frame["order_value"] < 0).any():
        raise InvalidClvInput(
            "transactions.order_value has negative values; pass net order values (total minus refunds) >= 0"
        )
    frame = frame[frame["ordered_at"].dt.normalize() <= end.normalize()]

    def summarize(orders: pd.DataFrame) -> pd.DataFrame:
        return rfm_summary(
            orders,
            customer_id_col="customer_id",
            datetime_col="ordered_at",
            monetary_value_col="order_value",
            observation_period_end=end,
            time_unit="D",  # day-level purchase occasions, as in the papers
            time_scaler=days_per_unit(time_unit),
        )

    if frame.empty:
        return pd.DataFrame({column: pd.Series(dtype=float) for column in (*keys, *RFM_COLUMNS[1:])})
    if not by_org:
        return summarize(frame)[list(RFM_COLUMNS)]
    parts = [
        summarize(orders.drop(columns=ORGANIZATION_COLUMN)).assign(**{ORGANIZATION_COLUMN: org})
        for org, orders in frame.groupby(ORGANIZATION_COLUMN, sort=True)
    ]
    return pd.concat(parts, ignore_index=True)[[ORGANIZATION_COLUMN, *RFM_COLUMNS]]


def validate_rfm(rfm: pd.DataFrame) -> pd.DataFrame:
    """Check an RFM summary against the model's assumptions; return it with float columns.

    A missing ``monetary_value`` (customers without a repeat purchase) becomes 0.
    """
    _require_columns(rfm, RFM_COLUMNS, "RFM summary")
    keys = [ORGANIZATION_COLUMN, "customer_id"] if ORGANIZATION_COLUMN in rfm.columns else ["customer_id"]
    out = rfm.copy()
    for key in keys:
        if out[key].isna().any():
            raise InvalidClvInput(f"RFM summary has missing {key}")
    duplicated = out.duplicated(keys)
    if duplicated.any():
        raise InvalidClvInput(
            f"RFM summary has {int(duplicated.sum())} duplicate {'/'.join(keys)} row(s), "
            f"e.g. {out.loc[duplicated, keys].iloc[0].tolist()}"
        )
    for column in ("frequency", "recency", "T", "monetary_value"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["monetary_value"] = out["monetary_value"].fillna(0.0)
    for column in ("frequency", "recency", "T"):
        if not np.isfinite(out[column]).all():
            raise InvalidClvInput(f"RFM summary column {column} has missing or non-numeric values")
    problems = {
        "frequency must be a whole number >= 0": (out["frequency"] < 0) | (out["frequency"] % 1 != 0),
        "recency must be >= 0": out["recency"] < 0,
        "recency must not exceed T": out["recency"] > out["T"] + 1e-9,
        "recency must be 0 when frequency is 0": (out["frequency"] == 0) & (out["recency"] > 0),
        "monetary_value must be >= 0": out["monetary_value"] < 0,
    }
    for message, bad in problems.items():
        if bad.any():
            example = out.loc[bad, "customer_id"].iloc[0]
            raise InvalidClvInput(f"RFM summary: {message} ({int(bad.sum())} row(s), e.g. customer_id={example!r})")
    return out
