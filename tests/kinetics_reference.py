"""The scalar TAC fitter Lutetia used before the batched engine: an independent reference.

Until the batched engine (:mod:`lutetia.dosimetry.batch`) replaced it, this was
``lutetia.dosimetry.kinetics.fit_model``/``select_model``: scipy ``curve_fit``
(MINPACK Levenberg–Marquardt, or the bounded trust-region reflective method when
a bound is active), analytic Jacobians, starting values by curve peeling, the
same models, bounds, AICc rule and GUM uncertainty. It is kept here, unchanged,
only so that the tests compare the engine with an implementation that shares
none of its optimiser code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from lutetia.dosimetry.kinetics import (
    AICC_PREFERENCE,
    MAX_LAMBDA_PER_H,
    MODELS,
    PARAMETER_COUNT,
    Fit,
    ModelName,
    TimeActivity,
    aicc,
    reliability_warnings,
)
from lutetia.dosimetry.plausibility import require_finite
from lutetia.errors import BadInputError
from lutetia.nuclides import decay_constant_per_h, nuclide


def _lambda_phys() -> float:
    return decay_constant_per_h(nuclide("Lu-177").half_life_h)


def _exp_sum(t: Any, amplitudes: Sequence[float], lambdas: Sequence[float]) -> Any:
    import numpy as np

    return sum(a * np.exp(-lam * t) for a, lam in zip(amplitudes, lambdas, strict=True))


def _unpack(model: ModelName, p: Sequence[float]) -> tuple[list[float], list[float]]:
    """Amplitudes and decay constants of a model from its parameter vector."""
    if model == "uptake_washout":
        a0, lw, lu = p
        return [a0, -a0], [lw, lu]
    amplitudes = list(p[0::2])
    lambdas = list(p[1::2])
    return amplitudes, lambdas


def _function(model: ModelName, lambda_phys: float) -> Callable[..., Any]:
    if model == "uptake_washout":

        def f(t: Any, a0: float, lw: float, extra: float) -> Any:
            return _exp_sum(t, [a0, -a0], [lw, lw + extra])

        return f

    def g(t: Any, *p: float) -> Any:
        return _exp_sum(t, p[0::2], p[1::2])

    return g


def _log_linear(times: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """(A₀, λ) of the least-squares line through ln A (positive values only)."""
    pairs = [(t, math.log(a)) for t, a in zip(times, values, strict=True) if a > 0]
    if len(pairs) < 2:
        return (max(values) if values else 1.0), 0.01
    mx = sum(t for t, _ in pairs) / len(pairs)
    my = sum(y for _, y in pairs) / len(pairs)
    sxx = sum((t - mx) ** 2 for t, _ in pairs) or 1.0
    slope = sum((t - mx) * (y - my) for t, y in pairs) / sxx
    return math.exp(my - slope * mx), -slope


def _start_values(model: ModelName, points: TimeActivity, lambda_phys: float) -> list[list[float]]:
    """Starting values by curve peeling: the late phase first, then the early residual."""
    times, values = points.time_h, points.activity_mbq
    peak = max(values)
    tail = max(2, len(times) // 2)
    a_late, l_late = _log_linear(times[-tail:], values[-tail:])
    l_late = max(l_late, lambda_phys * 1.01)
    early = [(t, v - a_late * math.exp(-l_late * t)) for t, v in zip(times, values, strict=True)]
    early_pos = [(t, r) for t, r in early[: max(2, len(early) - tail)] if r > 0]
    if len(early_pos) >= 2:
        a_early, l_early = _log_linear([t for t, _ in early_pos], [r for _, r in early_pos])
        l_early = max(l_early, l_late * 2)
    else:
        a_early, l_early = peak * 0.3, max(0.5, l_late * 10)
    if model == "mono":
        a0, lam = _log_linear(times, values)
        return [[a0, max(lam, lambda_phys * 1.01)], [peak, lambda_phys * 1.01]]
    if model == "uptake_washout":
        return [[a_late, l_late, 1.0], [peak * 1.5, l_late, 0.2]]
    if model == "bi":
        return [[a_early, l_early, a_late, l_late], [peak * 0.3, 2.0, peak, lambda_phys * 1.2]]
    return [
        [a_early * 0.5, l_early * 3, a_early * 0.5, l_early, a_late, l_late],
        [peak * 0.2, 5.0, peak * 0.4, 0.1, peak * 0.6, lambda_phys * 1.2],
    ]


def _jacobian(model: ModelName) -> Callable[..., Any]:
    import numpy as np

    if model == "uptake_washout":

        def uw(t: Any, a0: float, lw: float, extra: float) -> Any:
            slow, fast = np.exp(-lw * t), np.exp(-(lw + extra) * t)
            return np.column_stack([slow - fast, a0 * t * (fast - slow), a0 * t * fast])

        return uw

    def sums(t: Any, *p: float) -> Any:
        columns = []
        for a, lam in zip(p[0::2], p[1::2], strict=True):
            e = np.exp(-lam * t)
            columns += [e, -a * t * e]
        return np.column_stack(columns)

    return sums


def _tia_and_gradient(model: ModelName, p: Sequence[float]) -> tuple[float, list[float]]:
    if model == "uptake_washout":
        a0, lw, extra = p
        lu = lw + extra
        tia = a0 * (1 / lw - 1 / lu)
        return tia, [1 / lw - 1 / lu, a0 * (-1 / lw**2 + 1 / lu**2), a0 / lu**2]
    tia = 0.0
    gradient: list[float] = []
    for a, lam in zip(p[0::2], p[1::2], strict=True):
        tia += a / lam
        gradient += [1 / lam, -a / lam**2]
    return tia, gradient


def _good_enough(ssr: float, n: int, k: int, weighted: bool, ys: Any) -> bool:
    """Whether a fit is good enough to skip the alternative start.

    Weighted: reduced χ² ≤ 3; unweighted: residual RMS ≤ 5 % of the mean activity.
    """
    if weighted:
        return ssr / max(n - k, 1) <= 3.0
    mean = float(sum(ys)) / len(ys)
    return math.sqrt(ssr / n) <= 0.05 * mean


def reference_fit(points: TimeActivity, model: ModelName) -> Fit:
    """Least-squares fit of one model with scipy ``curve_fit`` (weighted by 1/SD² when SDs
    are given): Levenberg–Marquardt (MINPACK), the bounded trust-region method when LM
    leaves the box; the peeled start, then the alternative one."""
    import warnings

    import numpy as np
    from scipy.optimize import OptimizeWarning, curve_fit

    k = PARAMETER_COUNT[model]
    n = len(points)
    if n < k:
        raise BadInputError(
            "--model", f"{model} has {k} parameters but the table has only {n} points"
        )
    lambda_phys = _lambda_phys()
    xs = np.array(points.time_h, dtype=float)
    ys = np.array(points.activity_mbq, dtype=float)
    sigma = np.array(points.sd_mbq, dtype=float) if points.sd_mbq is not None else None
    function = _function(model, lambda_phys)
    if model == "uptake_washout":
        lower = [0.0, lambda_phys, 1e-6]
        upper = [np.inf, MAX_LAMBDA_PER_H, MAX_LAMBDA_PER_H]
    else:
        lower = [0.0, lambda_phys] * (k // 2)
        upper = [np.inf, MAX_LAMBDA_PER_H] * (k // 2)
    best: tuple[float, Any, Any] | None = None
    jacobian = _jacobian(model)
    for guess in _start_values(model, points, lambda_phys):
        if best is not None and _good_enough(best[0], n, k, sigma is not None, ys):
            break  # the peeled start converged to an acceptable fit: no second start
        start = [
            min(max(value, low + 1e-9), high - 1e-9)
            for value, low, high in zip(guess, lower, upper, strict=True)
        ]
        params = cov = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            # Levenberg–Marquardt (MINPACK) first: fast, and its answer stands when it
            # respects the bounds; otherwise the bounded trust-region fit decides.
            try:
                params, cov = curve_fit(
                    function, xs, ys, p0=start, sigma=sigma, absolute_sigma=sigma is not None,
                    jac=jacobian, method="lm", maxfev=2000,
                )  # fmt: skip
                inside = all(
                    low <= value <= high
                    for value, low, high in zip(params, lower, upper, strict=True)
                )
                if not inside:
                    params = None
            except (RuntimeError, ValueError):
                params = None
            if params is None:
                try:
                    params, cov = curve_fit(
                        function, xs, ys, p0=start, sigma=sigma,
                        absolute_sigma=sigma is not None, bounds=(lower, upper), jac=jacobian,
                        maxfev=20000,
                    )  # fmt: skip
                except (RuntimeError, ValueError):
                    continue
        residuals = ys - function(xs, *params)
        if sigma is not None:
            residuals = residuals / sigma
        ssr = float(np.sum(residuals**2))
        if best is None or ssr < best[0]:
            best = (ssr, params, cov)
    if best is None:
        raise BadInputError("--model", f"the {model} model could not be fitted to these points")
    ssr, params, cov = best
    p = [float(v) for v in params]
    tia, gradient = _tia_and_gradient(model, p)
    require_finite(tia, "tia_mbq_h")
    sd: float | None = None
    if cov is not None and np.all(np.isfinite(cov)) and n > k:
        g = np.array(gradient)
        variance = float(g @ cov @ g)
        sd = math.sqrt(variance) if variance >= 0 and math.isfinite(variance) else None
    shown_p = _shown(model, p)
    amplitudes, lambdas = _unpack(model, shown_p)
    names = _parameter_names(model)
    shown = dict(zip(names, shown_p, strict=True))
    if model in ("mono", "uptake_washout"):
        effective = math.log(2) / p[1]
    else:
        # The mono-exponential with the same A(0) and TIA: T_eff = ln 2 · TIA / A(0).
        effective = math.log(2) * tia / max(sum(amplitudes), 1e-300)
    score = aicc(ssr, n, k) if n - k - 1 > 0 else None

    def curve(t: float) -> float:
        return float(_exp_sum(np.float64(t), amplitudes, lambdas))

    last = points.time_h[-1]
    tail = sum(a * math.exp(-lam * last) / lam for a, lam in zip(amplitudes, lambdas, strict=True))
    present = [lam for a, lam in zip(amplitudes, lambdas, strict=True) if a > 0]
    cautions = reliability_warnings(points, tia, max(tail, 0.0), min(present, default=None))
    return Fit(model, shown, tia, sd, ssr, score, effective, curve, warnings=cautions)


def _parameter_names(model: ModelName) -> list[str]:
    if model == "uptake_washout":
        return ["a0_mbq", "lambda_washout_per_h", "lambda_uptake_per_h"]
    count = PARAMETER_COUNT[model] // 2
    names: list[str] = []
    for i in range(1, count + 1):
        names += [f"a{i}_mbq", f"lambda{i}_per_h"]
    return names


def _shown(model: ModelName, p: list[float]) -> list[float]:
    if model == "uptake_washout":
        return [p[0], p[1], p[1] + p[2]]
    return p


def reference_select(points: TimeActivity) -> Fit:
    """Fit every model with enough points (:func:`reference_fit`); the simplest within
    ΔAICc < 2 of the best."""
    n = len(points)
    candidates = [m for m in MODELS if n >= PARAMETER_COUNT[m] + 2]
    if not candidates:
        if n >= 2:
            fit = reference_fit(points, "mono")
            return replace(
                fit, aicc=None,
                notes=(f"{n} points: too few for AICc selection; mono-exponential fitted",),
            )  # fmt: skip
        raise BadInputError(
            "points", "one point: use a single-time-point method (lutetia dose stp)"
        )
    fits = []
    for model in candidates:
        try:
            fits.append(reference_fit(points, model))
        except BadInputError:
            continue
    if not fits:
        raise BadInputError("points", "no model could be fitted")
    best = min(f.aicc for f in fits if f.aicc is not None)
    close = [f for f in fits if f.aicc is not None and f.aicc - best < AICC_PREFERENCE]
    chosen = min(close, key=lambda f: PARAMETER_COUNT[f.model])  # type: ignore[index]
    notes = tuple(f"{f.model}: AICc {f.aicc:.2f}" for f in fits)
    return replace(chosen, notes=notes)
