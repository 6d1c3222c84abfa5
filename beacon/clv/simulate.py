"""Synthetic orders drawn from the BG/NBD and Gamma-Gamma generative processes.

For parameter-recovery checks (tests, ``bench/bench_clv.py``) and demo data: customers generated
with known parameters should give those parameters back. Written out here because the
libraries' random generators draw summaries (recency, frequency), not dated orders with values,
and the pipeline starts from orders.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

# Fader, Hardie & Lee's CDNOW estimates (weeks, dollars): a realistic default population.
CDNOW_BG_NBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
DEFAULT_START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def simulate_orders(
    n_customers: int,
    *,
    seed: int,
    bg_nbd: dict[str, float] = CDNOW_BG_NBD,
    gamma_gamma: dict[str, float] = CDNOW_GAMMA_GAMMA,
    acquisition_weeks: float = 12.0,
    observed_weeks: float = 52.0,
    start: datetime = DEFAULT_START,
) -> pd.DataFrame:
    """Orders (``customer_id, ordered_at, order_value``) of ``n_customers`` simulated customers.

    Each customer's first order falls uniformly in the first ``acquisition_weeks``; the
    observation ends ``observed_weeks`` after ``start`` (pass that as ``observation_end``).
    BG/NBD: purchase rate lambda ~ Gamma(r, rate alpha), orders arrive as a Poisson process; after
    each repeat order the customer drops out with probability p ~ Beta(a, b).
    Gamma-Gamma: nu ~ Gamma(q, rate v), each order's value ~ Gamma(p, rate nu).
    """
    if n_customers < 1 or not 0 < acquisition_weeks <= observed_weeks:
        raise ValueError("need n_customers >= 1 and 0 < acquisition_weeks <= observed_weeks")
    rng = np.random.default_rng(seed)
    rate = rng.gamma(bg_nbd["r"], 1.0 / bg_nbd["alpha"], n_customers)
    dropout = rng.beta(bg_nbd["a"], bg_nbd["b"], n_customers)
    spend_rate = rng.gamma(gamma_gamma["q"], 1.0 / gamma_gamma["v"], n_customers)
    first = rng.uniform(0.0, acquisition_weeks, n_customers)

    customers = [np.arange(n_customers)]
    weeks = [first]
    now = first.copy()
    active = np.arange(n_customers)
    while active.size:  # one round = every still-active customer's next repeat order
        now[active] += rng.exponential(1.0 / rate[active])
        active = active[now[active] <= observed_weeks]
        customers.append(active)
        weeks.append(now[active].copy())
        active = active[rng.random(active.size) >= dropout[active]]

    customer = np.concatenate(customers)
    week = np.concatenate(weeks)
    value = rng.gamma(gamma_gamma["p"], 1.0 / spend_rate[customer])
    return pd.DataFrame(
        {
            "customer_id": customer,
            "ordered_at": pd.Timestamp(start) + pd.to_timedelta(week * 7, unit="D"),
            "order_value": np.round(value, 2),
        }
    ).sort_values(["customer_id", "ordered_at"], ignore_index=True)


def observation_end(observed_weeks: float = 52.0, start: datetime = DEFAULT_START) -> pd.Timestamp:
    """The observation end matching ``simulate_orders(..., observed_weeks, start)``."""
    return pd.Timestamp(start) + pd.Timedelta(days=observed_weeks * 7)
