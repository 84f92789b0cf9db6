"""The scipy clearance fitter and root finders Lutetia used before the numpy ones: a reference.

Until :mod:`lutetia.protection.solvers` replaced them (``scipy.optimize`` alone took 0.4 s
to import, most of ``lutetia release``'s time), the bi-exponential clearance fit was
``scipy.optimize.curve_fit`` with bounds (trust-region reflective) on log Ḣ from nine
starting points, and the discharge times came from ``scipy.optimize.brentq`` with
``xtol=1e-9``. They are kept here, unchanged, only so that the tests compare the numpy code
with an implementation that shares none of its optimiser code (tests/test_solvers.py).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from lutetia.protection.clearance import MAX_INITIAL_USV_H


def reference_bi(
    points: list[tuple[float, float]], lambda_phys: float
) -> tuple[tuple[float, float, float, float], float] | None:
    """The former ``clearance._bi``: (Ḣ₀, f, T½ fast, T½ slow) of the best start and its SSR."""
    import numpy as np
    from scipy.optimize import OptimizeWarning, curve_fit

    xs = np.array([h for h, _ in points])
    ys = np.log(np.array([r for _, r in points]))

    def model(t: Any, log_a: float, f: float, l1: float, extra: float) -> Any:
        l2 = lambda_phys + extra  # the slow component is bounded below by decay
        return log_a + np.log(f * np.exp(-(l2 + l1) * t) + (1 - f) * np.exp(-l2 * t))

    bounds = ([-50.0, 1e-6, 1e-6, 0.0], [math.log(MAX_INITIAL_USV_H), 1 - 1e-6, 50.0, 5.0])
    best: tuple[float, Any] | None = None
    starts = [
        (float(ys[0]) + 0.5, f0, math.log(2) / fast_h, 0.005)
        for f0 in (0.3, 0.6, 0.9)
        for fast_h in (2.0, 10.0, 30.0)
    ]
    for start in starts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                with np.errstate(all="ignore"):
                    params, _ = curve_fit(model, xs, ys, p0=start, bounds=bounds, maxfev=20000)
                    ssr = float(np.sum((model(xs, *params) - ys) ** 2))
        except (RuntimeError, ValueError):
            continue
        if math.isfinite(ssr) and (best is None or ssr < best[0]):
            best = (ssr, params)
    if best is None:
        return None
    ssr, params = best
    log_a, f, l1, extra = (float(p) for p in params)
    slow = lambda_phys + extra
    fast = slow + l1
    return (math.exp(log_a), f, math.log(2) / fast, math.log(2) / slow), ssr


def reference_crossing(value: Callable[[float], float], level: float) -> float:
    """The former root finder of ``time_to_rate_h``/``time_to_integral_h`` (value(0) > level)."""
    from scipy.optimize import brentq

    high = 24.0
    while value(high) > level:
        high *= 2
    root: float = brentq(lambda t: value(t) - level, 0.0, high, xtol=1e-9)
    return root


def reference_distinct(
    parameters: tuple[float, float, float, float], ssr: float, mono_ssr: float
) -> bool:
    """Whether ``fit_models`` called the former fit distinct: both phases over 1 %, half-lives
    more than 20 % apart, and an SSR below 0.99 times the mono-exponential's."""
    _, fraction, fast_h, slow_h = parameters
    return min(fraction, 1 - fraction) > 0.01 and slow_h / fast_h >= 1.2 and ssr < mono_ssr * 0.99
