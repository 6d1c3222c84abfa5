"""Predictive customer value for one population of customers (one tenant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from beacon.clv.fit import DEFAULT_MAX_EVALUATIONS, ClvFitError, ModelFit, fit_bg_nbd, fit_gamma_gamma
from beacon.clv.predict import predict_customer_value
from beacon.clv.rfm import (
    ORGANIZATION_COLUMN,
    InvalidClvInput,
    TimeUnit,
    days_per_unit,
    summarize_transactions,
    validate_rfm,
)

DEFAULT_MONTHLY_DISCOUNT_RATE = 0.01
PARAMETER_COLUMNS = ("model", "parameter", "value", "n_customers", "log_likelihood")


@dataclass(frozen=True)
class CustomerValueFit:
    parameters: pd.DataFrame  # PARAMETER_COLUMNS, one row per model parameter
    predictions: pd.DataFrame  # customer_id + PREDICTION_COLUMNS, in input order
    bg_nbd: ModelFit
    gamma_gamma: ModelFit


def spend_buyers(rfm: pd.DataFrame) -> pd.DataFrame:
    """Customers the Gamma-Gamma model is fitted on: a repeat purchase of positive mean value."""
    return rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]


def fit_customer_value_from_rfm(
    rfm: pd.DataFrame,
    *,
    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT_RATE,
    time_unit: TimeUnit = "W",
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
) -> CustomerValueFit:
    """Fit BG/NBD + Gamma-Gamma to an RFM summary and predict every customer's value.

    ``rfm`` has ``customer_id, frequency, recency, T, monetary_value`` with times in
    ``time_unit`` (see ``beacon.clv.rfm``). Raises ``InvalidClvInput`` for bad input and
    ``ClvFitError`` when a model cannot be fitted.
    """
    days_per_unit(time_unit)
    if not 0 <= monthly_discount_rate < 1:
        raise ValueError(f"monthly_discount_rate must be in [0, 1), got {monthly_discount_rate}")
    rfm = validate_rfm(rfm)
    if ORGANIZATION_COLUMN in rfm.columns and rfm[ORGANIZATION_COLUMN].nunique() > 1:
        raise InvalidClvInput(
            "RFM summary spans several organizations; fit each with fit_customer_value_by_organization"
        )
    buyers = spend_buyers(rfm)
    if buyers.empty:
        raise ClvFitError("no customer has a repeat purchase of positive value; spend cannot be modelled")
    bg_nbd = fit_bg_nbd(rfm, max_evaluations=max_evaluations)
    gamma_gamma = fit_gamma_gamma(buyers, max_evaluations=max_evaluations)
    predictions = predict_customer_value(
        bg_nbd, gamma_gamma, rfm, monthly_discount_rate=monthly_discount_rate, time_unit=time_unit
    )
    parameters = pd.DataFrame(
        [
            (fit.model_name, name, value, fit.n_customers, fit.log_likelihood)
            for fit in (bg_nbd, gamma_gamma)
            for name, value in fit.parameters.items()
        ],
        columns=list(PARAMETER_COLUMNS),
    )
    return CustomerValueFit(parameters, predictions, bg_nbd, gamma_gamma)


def fit_customer_value(
    transactions: pd.DataFrame,
    observation_end: date | datetime | str | pd.Timestamp,
    *,
    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT_RATE,
    time_unit: TimeUnit = "W",
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
) -> CustomerValueFit:
    """Summarise ``customer_id, ordered_at, order_value`` up to ``observation_end``, then fit and predict."""
    rfm = summarize_transactions(transactions, observation_end, time_unit=time_unit)
    return fit_customer_value_from_rfm(
        rfm, monthly_discount_rate=monthly_discount_rate, time_unit=time_unit, max_evaluations=max_evaluations
    )
