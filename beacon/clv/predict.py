"""Per-customer predictions from fitted BG/NBD and Gamma-Gamma models."""

from __future__ import annotations

import pandas as pd

from beacon.clv.fit import ModelFit
from beacon.clv.rfm import days_per_unit

PREDICTION_COLUMNS = (
    "probability_alive",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "expected_avg_order_value",
    "predicted_clv_12m",
)
CLV_HORIZON_MONTHS = 12


def _per_customer(values, customer_ids: pd.Series) -> pd.Series:
    """A pymc-marketing result (chain, draw, customer_id) as a Series in ``customer_ids`` order."""
    squeezed = values.mean([dim for dim in ("chain", "draw") if dim in values.dims])
    return squeezed.to_series().reindex(customer_ids.to_numpy())


def predict_customer_value(
    bg_nbd: ModelFit,
    gamma_gamma: ModelFit,
    rfm: pd.DataFrame,
    *,
    monthly_discount_rate: float,
    time_unit: str,
) -> pd.DataFrame:
    """Return ``customer_id`` and PREDICTION_COLUMNS for every customer in ``rfm``.

    Horizons are calendar days converted to the model's time unit. The 12-month CLV is
    pymc-marketing's ``customer_lifetime_value``: expected purchases month by month times the
    Gamma-Gamma expected order value, each month discounted by ``(1 + monthly_discount_rate)^m``.
    """
    from pymc_marketing.clv.utils import customer_lifetime_value

    unit_days = days_per_unit(time_unit)
    data = rfm[["customer_id", "frequency", "recency", "T", "monetary_value"]].reset_index(drop=True)
    ids = data["customer_id"]
    purchases = data[["customer_id", "frequency", "recency", "T"]]
    transactions = bg_nbd.model
    order_value = _per_customer(gamma_gamma.model.expected_customer_spend(data=data), ids)
    clv = customer_lifetime_value(
        transactions,
        purchases.assign(future_spend=order_value.to_numpy()),
        future_t=CLV_HORIZON_MONTHS,
        discount_rate=monthly_discount_rate,
        time_unit=time_unit,
    )
    predictions = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "probability_alive": _per_customer(transactions.expected_probability_alive(data=purchases), ids).to_numpy(),
            "expected_purchases_90d": _per_customer(
                transactions.expected_purchases(data=purchases, future_t=90 / unit_days), ids
            ).to_numpy(),
            "expected_purchases_365d": _per_customer(
                transactions.expected_purchases(data=purchases, future_t=365 / unit_days), ids
            ).to_numpy(),
            "expected_avg_order_value": order_value.to_numpy(),
            "predicted_clv_12m": _per_customer(clv, ids).to_numpy(),
        }
    )
    return predictions
