"""Customer value fitted per organization, as tidy tables ready for the warehouse.

Each tenant gets its own models: purchase rhythms and basket sizes differ too much between a
church, a shop and a SaaS business to pool them. A tenant that is too small, or whose fit fails,
gets a status on its customers' rows instead of stopping the other tenants.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from beacon.clv.fit import DEFAULT_MAX_EVALUATIONS, ClvFitError
from beacon.clv.predict import PREDICTION_COLUMNS
from beacon.clv.rfm import ORGANIZATION_COLUMN, RFM_COLUMNS, InvalidClvInput, TimeUnit, validate_rfm
from beacon.clv.value import DEFAULT_MONTHLY_DISCOUNT_RATE, PARAMETER_COLUMNS, fit_customer_value_from_rfm

log = logging.getLogger(__name__)

FITTED = "fitted"
TOO_SMALL = "too_small"
FAILED_PREFIX = "failed: "
PREDICTION_TABLE_COLUMNS = (ORGANIZATION_COLUMN, "customer_id", *PREDICTION_COLUMNS, "model_status", "fitted_at")
PARAMETER_TABLE_COLUMNS = (ORGANIZATION_COLUMN, *PARAMETER_COLUMNS)
DEFAULT_MIN_CUSTOMERS = 100
DEFAULT_MIN_REPEAT_BUYERS = 30


@dataclass(frozen=True)
class CustomerValueTables:
    predictions: pd.DataFrame  # PREDICTION_TABLE_COLUMNS, one row per customer
    parameters: pd.DataFrame  # PARAMETER_TABLE_COLUMNS, one row per parameter of each fitted tenant

    def statuses(self) -> pd.Series:
        """model_status per organization_id."""
        return self.predictions.groupby(ORGANIZATION_COLUMN, sort=True)["model_status"].first()


def fit_customer_value_by_organization(
    rfm: pd.DataFrame,
    *,
    fitted_at: datetime,
    min_customers: int = DEFAULT_MIN_CUSTOMERS,
    min_repeat_buyers: int = DEFAULT_MIN_REPEAT_BUYERS,
    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT_RATE,
    time_unit: TimeUnit = "W",
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
) -> CustomerValueTables:
    """Fit and predict each organization in an RFM summary with an ``organization_id`` column.

    A tenant with fewer than ``min_customers`` customers or fewer than ``min_repeat_buyers``
    customers with a repeat purchase is ``too_small``; a fit that raises or does not converge is
    ``failed: <reason>``. Their customers' rows carry the status and empty predictions.
    ``fitted_at`` (timezone-aware) is stamped on every row; nothing here reads the clock.
    """
    if ORGANIZATION_COLUMN not in rfm.columns:
        raise InvalidClvInput(f"RFM summary needs an {ORGANIZATION_COLUMN} column to fit per organization")
    if fitted_at.tzinfo is None:
        raise InvalidClvInput("fitted_at must be timezone-aware (it is stored as a UTC timestamp)")
    if min_customers < 1 or min_repeat_buyers < 1:
        raise ValueError("min_customers and min_repeat_buyers must be at least 1")
    rfm = validate_rfm(rfm)
    prediction_parts: list[pd.DataFrame] = []
    parameter_parts: list[pd.DataFrame] = []
    for org, customers in rfm.groupby(ORGANIZATION_COLUMN, sort=True):
        customers = customers.reset_index(drop=True)
        repeat_buyers = int((customers["frequency"] > 0).sum())
        if len(customers) < min_customers or repeat_buyers < min_repeat_buyers:
            log.info("customer value: organization %s too small (%d customers, %d repeat buyers)",
                     org, len(customers), repeat_buyers)
            prediction_parts.append(_unpredicted(customers, TOO_SMALL))
            continue
        try:
            fit = fit_customer_value_from_rfm(
                customers[list(RFM_COLUMNS)],
                monthly_discount_rate=monthly_discount_rate,
                time_unit=time_unit,
                max_evaluations=max_evaluations,
            )
        except ClvFitError as exc:
            log.warning("customer value: organization %s failed: %s", org, exc)
            prediction_parts.append(_unpredicted(customers, f"{FAILED_PREFIX}{exc}"))
            continue
        except Exception as exc:  # one tenant's unexpected failure must not stop the others
            log.exception("customer value: organization %s failed unexpectedly", org)
            prediction_parts.append(_unpredicted(customers, f"{FAILED_PREFIX}{type(exc).__name__}: {exc}"))
            continue
        prediction_parts.append(
            fit.predictions.assign(**{ORGANIZATION_COLUMN: org, "model_status": FITTED})
        )
        parameter_parts.append(fit.parameters.assign(**{ORGANIZATION_COLUMN: org}))
    fitted_at_utc = pd.Timestamp(fitted_at).tz_convert("UTC")
    predictions = _concat(prediction_parts, PREDICTION_TABLE_COLUMNS[:-1]).assign(fitted_at=fitted_at_utc)
    predictions["fitted_at"] = pd.to_datetime(predictions["fitted_at"], utc=True)
    parameters = _concat(parameter_parts, PARAMETER_TABLE_COLUMNS)
    return CustomerValueTables(predictions[list(PREDICTION_TABLE_COLUMNS)], parameters)


def _unpredicted(customers: pd.DataFrame, status: str) -> pd.DataFrame:
    rows = customers[[ORGANIZATION_COLUMN, "customer_id"]].copy()
    for column in PREDICTION_COLUMNS:
        rows[column] = np.nan
    rows["model_status"] = status
    return rows


def _concat(parts: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    return pd.concat([part[list(columns)] for part in parts], ignore_index=True)
