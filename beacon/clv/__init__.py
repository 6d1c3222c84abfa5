"""Predictive customer value: BG/NBD purchase counts and Gamma-Gamma order values (pymc-marketing).

Plain functions, no Dagster and no warehouse access: the pipeline reads the RFM summary that dbt
builds, calls ``fit_customer_value_by_organization`` and writes the two tables back. pymc is
imported only when a model is fitted, so importing this package stays cheap.
See docs/customer-value.md.
"""

from beacon.clv.fit import BG_NBD, GAMMA_GAMMA, ClvFitError, ModelFit, fit_bg_nbd, fit_gamma_gamma
from beacon.clv.predict import PREDICTION_COLUMNS, predict_customer_value
from beacon.clv.rfm import InvalidClvInput, summarize_transactions, validate_rfm
from beacon.clv.tenants import (
    FITTED,
    PARAMETER_TABLE_COLUMNS,
    PREDICTION_TABLE_COLUMNS,
    TOO_SMALL,
    CustomerValueTables,
    fit_customer_value_by_organization,
)
from beacon.clv.value import CustomerValueFit, fit_customer_value, fit_customer_value_from_rfm

__all__ = [
    "BG_NBD",
    "FITTED",
    "GAMMA_GAMMA",
    "PARAMETER_TABLE_COLUMNS",
    "PREDICTION_COLUMNS",
    "PREDICTION_TABLE_COLUMNS",
    "TOO_SMALL",
    "ClvFitError",
    "CustomerValueFit",
    "CustomerValueTables",
    "InvalidClvInput",
    "ModelFit",
    "fit_bg_nbd",
    "fit_customer_value",
    "fit_customer_value_by_organization",
    "fit_customer_value_from_rfm",
    "fit_gamma_gamma",
    "predict_customer_value",
    "summarize_transactions",
    "validate_rfm",
]
