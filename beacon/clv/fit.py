"""Maximum-likelihood fits of the BG/NBD and Gamma-Gamma models through pymc-marketing.

Flat priors (``HalfFlat``: every parameter is positive) make the MAP estimate the maximum-
likelihood estimate the papers report, and make the model's log density the log-likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

BG_NBD = "bg_nbd"
GAMMA_GAMMA = "gamma_gamma"
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {BG_NBD: ("r", "alpha", "a", "b"), GAMMA_GAMMA: ("p", "q", "v")}
DEFAULT_MAX_EVALUATIONS = 5000
# Largest accepted |d log-likelihood / d log(parameter)| at the optimum, per customer. At the
# CDNOW optimum it is ~2e-6; an optimiser stopped early is orders of magnitude above.
GRADIENT_TOLERANCE_PER_CUSTOMER = 1e-4


class ClvFitError(RuntimeError):
    """A model could not be fitted to the data (the optimiser failed or the estimate is unusable)."""


@dataclass(frozen=True)
class ModelFit:
    model_name: str
    model: Any  # the fitted pymc-marketing model; predictions are made with it
    parameters: dict[str, float]
    log_likelihood: float
    n_customers: int


def _flat_priors(model_name: str) -> dict[str, Any]:
    from pymc_extras.prior import Prior

    return {name: Prior("HalfFlat") for name in PARAMETER_NAMES[model_name]}


def fit_bg_nbd(rfm: pd.DataFrame, *, max_evaluations: int = DEFAULT_MAX_EVALUATIONS) -> ModelFit:
    """Fit BG/NBD (Fader, Hardie & Lee 2005) to ``customer_id, frequency, recency, T``."""
    from pymc_marketing.clv import BetaGeoModel  # imported here: pymc takes seconds to import

    # Giving both ``a`` and ``b`` priors selects the paper's parametrisation (not phi/kappa).
    model = BetaGeoModel(model_config=_flat_priors(BG_NBD))
    data = rfm[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)
    return _fit_map(BG_NBD, model, data, max_evaluations)


def fit_gamma_gamma(rfm: pd.DataFrame, *, max_evaluations: int = DEFAULT_MAX_EVALUATIONS) -> ModelFit:
    """Fit Gamma-Gamma (Fader & Hardie 2013) to repeat buyers' ``frequency, monetary_value``.

    Only customers with at least one repeat purchase of positive mean value carry information
    about spend; the caller passes those.
    """
    from pymc_marketing.clv import GammaGammaModel

    model = GammaGammaModel(model_config=_flat_priors(GAMMA_GAMMA))
    data = rfm[["customer_id", "frequency", "monetary_value"]].reset_index(drop=True)
    fit = _fit_map(GAMMA_GAMMA, model, data, max_evaluations)
    if fit.parameters["q"] <= 1:
        # E[spend] = p·v/(q-1): with q <= 1 the population mean spend is infinite.
        raise ClvFitError(f"gamma_gamma q={fit.parameters['q']:.3g} <= 1 implies infinite mean spend")
    return fit


def _fit_map(model_name: str, model: Any, data: pd.DataFrame, max_evaluations: int) -> ModelFit:
    try:
        model.fit(data=data, method="map", progressbar=False, maxeval=max_evaluations)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise ClvFitError(f"{model_name} fit raised {type(exc).__name__}: {exc}") from exc
    parameters = {name: float(np.asarray(model.fit_result[name]).squeeze()) for name in PARAMETER_NAMES[model_name]}
    bad = {name: value for name, value in parameters.items() if not (np.isfinite(value) and value > 0)}
    if bad:
        raise ClvFitError(f"{model_name} estimate is not finite and positive: {bad}")
    log_likelihood, max_gradient = _optimum_diagnostics(model, parameters)
    # pm.find_MAP returns the last point silently when it runs out of evaluations, and does not
    # report scipy's convergence flag; the gradient at the returned point says whether it is an optimum.
    if not np.isfinite(log_likelihood) or not max_gradient <= GRADIENT_TOLERANCE_PER_CUSTOMER * len(data):
        raise ClvFitError(
            f"{model_name} did not converge (max |gradient| {max_gradient:.3g} at log-likelihood "
            f"{log_likelihood:.6g}, {len(data)} customers, at most {max_evaluations} evaluations)"
        )
    return ModelFit(model_name, model, parameters, log_likelihood, len(data))


def _optimum_diagnostics(model: Any, parameters: dict[str, float]) -> tuple[float, float]:
    """Log-likelihood and largest gradient (w.r.t. log parameters) at the estimate.

    The gradient is a central difference of the model's own log density, compiled in pytensor's
    FAST_COMPILE mode: one cheap compile and nine evaluations cost a fraction of compiling the
    symbolic gradient again (the MAP fit's compiled functions are not exposed).
    """
    pm_model = model.model
    logp = pm_model.compile_fn(pm_model.logp(jacobian=False), inputs=pm_model.value_vars, mode="FAST_COMPILE")
    # HalfFlat variables are optimised on the log scale (pymc's LogTransform).
    point = {pm_model.rvs_to_values[rv].name: np.log(parameters[rv.name]) for rv in pm_model.free_RVs}
    with np.errstate(all="ignore"):
        log_likelihood = float(logp(point))
        gradient = [
            (float(logp({**point, name: value + _STEP})) - float(logp({**point, name: value - _STEP}))) / (2 * _STEP)
            for name, value in point.items()
        ]
    max_gradient = float(np.max(np.abs(gradient))) if np.all(np.isfinite(gradient)) else float("inf")
    return log_likelihood, max_gradient


_STEP = 1e-5  # on the log scale: a 0.001% change of a parameter
