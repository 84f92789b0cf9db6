"""Time–activity curves: fits, model selection and time-integrated activity (TIA).

Models (t in h after the end of injection, A in MBq; theory: docs/dosimetry.md):

* ``mono``: A(t) = A₁ e^{−λ₁t}
* ``bi``: A(t) = A₁ e^{−λ₁t} + A₂ e^{−λ₂t}
* ``tri``: A(t) = Σ₁³ Aᵢ e^{−λᵢt}
* ``uptake_washout``: A(t) = A₀ (e^{−λ_w t} − e^{−λ_u t}), λ_u > λ_w

Every effective decay constant is bounded below by the physical one
(λ ≥ λ_phys = ln 2 / T½, ICRP-107): activity in a region cannot disappear
more slowly than 177Lu decays. The TIA of a sum of exponentials is
Σ Aᵢ/λᵢ (MIRD Pamphlet 21, Bolch et al., J Nucl Med 2009;50:477-484, eq. 6);
for uptake–washout it is A₀ (1/λ_w − 1/λ_u).

Automatic selection compares the corrected Akaike information criterion,
AICc = n ln(SSR/n) + 2k + 2k(k+1)/(n−k−1) (Burnham & Anderson, Model
Selection and Multimodel Inference, 2nd ed. 2002, eq. 2.2; used for TAC
selection by Glatting G et al., Med Phys 2007;34:4285-4292), over the models
with n ≥ k + 2 points, and prefers the simplest model within ΔAICc < 2 of the
best.

The trapezoid alternative integrates the points with the trapezoidal rule,
a head from (0, 0) to the first point, and a tail from the last point: by
physical decay only (A_last/λ_phys, the conservative default) or by the
mono-exponential through the last two points (never slower than physical).
It needs at least two points.

No fit is returned silently when the data cannot support it: every
:class:`Fit` carries ``warnings`` when no washout was observed (the last point
is the highest), when the slowest fitted clearance sits on the physical-decay
bound (no biological washout resolved), or when more than half of the TIA
lies after the last measurement (extrapolated, not measured).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from lutetia.dosimetry.plausibility import (
    MAX_ACTIVITY_MBQ,
    check_activity_mbq,
    check_time,
    require_finite,
)
from lutetia.errors import BadInputError
from lutetia.nuclides import decay_constant_per_h, nuclide

ModelName = Literal["mono", "bi", "tri", "uptake_washout"]
MODELS: Final[tuple[ModelName, ...]] = ("mono", "uptake_washout", "bi", "tri")
PARAMETER_COUNT: Final[dict[ModelName, int]] = {"mono": 2, "uptake_washout": 3, "bi": 4, "tri": 6}
AICC_PREFERENCE: Final[float] = 2.0
MAX_LAMBDA_PER_H: Final[float] = 50.0
#: More points than any imaging protocol acquires (a dynamic acquisition has tens of frames).
MAX_POINTS: Final[int] = 1000
#: Smallest SD accepted (1 Bq): 1/SD² weights stay finite and no measurement is that precise.
MIN_SD_MBQ: Final[float] = 1e-6
#: Above this share of the TIA after the last point, the TIA is mostly extrapolated.
MAX_TAIL_FRACTION: Final[float] = 0.5


@dataclass(frozen=True)
class TimeActivity:
    """Validated TAC points: times (h), activities (MBq), optional SDs (MBq)."""

    time_h: tuple[float, ...]
    activity_mbq: tuple[float, ...]
    sd_mbq: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.time_h)
        if n == 0:
            raise BadInputError("time_h", "no points")
        if n > MAX_POINTS:
            raise BadInputError(
                "time_h", f"{n} points: more than {MAX_POINTS}, not a time–activity curve"
            )
        if len(self.activity_mbq) != n or (self.sd_mbq is not None and len(self.sd_mbq) != n):
            raise BadInputError("activity_mbq", "one value per time point is needed")
        for i, (t, a) in enumerate(zip(self.time_h, self.activity_mbq, strict=True)):
            check_time(t, f"time_h[{i}]", allow_zero=True)
            check_activity_mbq(a, f"activity_mbq[{i}]")
        for i in range(1, n):
            if self.time_h[i] == self.time_h[i - 1]:
                raise BadInputError(f"time_h[{i}]", f"duplicate time {self.time_h[i]:g} h")
            if self.time_h[i] < self.time_h[i - 1]:
                raise BadInputError(
                    f"time_h[{i}]",
                    f"times must increase ({self.time_h[i]:g} h after {self.time_h[i - 1]:g} h)",
                )
        if self.sd_mbq is not None:
            for i, s in enumerate(self.sd_mbq):
                if not (math.isfinite(s) and MIN_SD_MBQ <= s <= MAX_ACTIVITY_MBQ):
                    raise BadInputError(
                        f"activity_sd_mbq[{i}]",
                        f"{s!r} must be a positive SD from {MIN_SD_MBQ:g} to "
                        f"{MAX_ACTIVITY_MBQ:g} MBq",
                    )
        if all(a == 0 for a in self.activity_mbq):
            raise BadInputError("activity_mbq", "all activities are zero")

    def __len__(self) -> int:
        return len(self.time_h)


@dataclass(frozen=True)
class Fit:
    """A fitted TAC: model, parameters, TIA and its standard uncertainty."""

    model: ModelName | Literal["trapezoid"]
    parameters: dict[str, float]
    tia_mbq_h: float
    tia_sd_mbq_h: float | None
    ssr: float
    aicc: float | None
    effective_half_life_h: float | None
    curve: Callable[[float], float] = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def activity_mbq(self, time_h: float) -> float:
        """The fitted (or interpolated) activity at ``time_h``."""
        return self.curve(time_h)


def _lambda_phys() -> float:
    return decay_constant_per_h(nuclide("Lu-177").half_life_h)


def reliability_warnings(
    points: TimeActivity, tia_mbq_h: float, tail_mbq_h: float, slowest_lambda_per_h: float | None
) -> tuple[str, ...]:
    """Why a TIA from these points may be unreliable (see the module docstring).

    ``tail_mbq_h`` is the part of the TIA after the last point; ``slowest_lambda_per_h`` the
    slowest fitted clearance (None for the trapezoid, whose tail is chosen, not fitted).
    """
    warnings: list[str] = []
    values = points.activity_mbq
    last_t, last_a = points.time_h[-1], values[-1]
    if len(points) >= 2 and last_a > 0 and last_a >= max(values[:-1]):
        warnings.append(
            f"no washout observed: the activity is highest at the last point ({last_a:g} MBq "
            f"at {last_t:g} h); after it the curve is extrapolated, not measured (at least "
            "physical decay), so the TIA is unreliable: add a later time point"
        )
    lambda_phys = _lambda_phys()
    if slowest_lambda_per_h is not None and slowest_lambda_per_h <= lambda_phys * (1 + 1e-6):
        half_life = math.log(2) / lambda_phys
        warnings.append(
            "the slowest fitted clearance is physical decay alone (the fit's bound λ ≥ λ_phys, "
            f"T_eff = {half_life:.4g} h, is active): no biological washout was resolved"
        )
    if tia_mbq_h > 0 and tail_mbq_h / tia_mbq_h > MAX_TAIL_FRACTION:
        warnings.append(
            f"{100 * tail_mbq_h / tia_mbq_h:.0f} % of the TIA lies after the last measurement "
            f"at {last_t:g} h and is extrapolated, not measured"
        )
    return tuple(warnings)


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


def aicc(ssr: float, n: int, k: int) -> float:
    """AICc for a least-squares fit (Burnham & Anderson 2002, eq. 2.2)."""
    if n - k - 1 <= 0:
        raise BadInputError("points", f"AICc needs more than {k + 1} points for {k} parameters")
    # A perfect fit has SSR = 0; a floor keeps AICc finite and equal for all exact models.
    floor = 1e-24 * max(1.0, n)
    return n * math.log(max(ssr, floor) / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def _good_enough(ssr: float, n: int, k: int, weighted: bool, ys: Any) -> bool:
    """Whether a fit is good enough to skip the alternative start.

    Weighted: reduced χ² ≤ 3; unweighted: residual RMS ≤ 5 % of the mean activity.
    """
    if weighted:
        return ssr / max(n - k, 1) <= 3.0
    mean = float(sum(ys)) / len(ys)
    return math.sqrt(ssr / n) <= 0.05 * mean


def fit_model(points: TimeActivity, model: ModelName) -> Fit:
    """Least-squares fit of one model (weighted by 1/SD² when SDs are given)."""
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


def select_model(points: TimeActivity) -> Fit:
    """Fit every model with enough points; the simplest within ΔAICc < 2 of the best."""
    n = len(points)
    candidates = [m for m in MODELS if n >= PARAMETER_COUNT[m] + 2]
    if not candidates:
        if n >= 2:
            fit = fit_model(points, "mono")
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
            fits.append(fit_model(points, model))
        except BadInputError:
            continue
    if not fits:
        raise BadInputError("points", "no model could be fitted")
    best = min(f.aicc for f in fits if f.aicc is not None)
    close = [f for f in fits if f.aicc is not None and f.aicc - best < AICC_PREFERENCE]
    chosen = min(close, key=lambda f: PARAMETER_COUNT[f.model])  # type: ignore[index]
    notes = tuple(f"{f.model}: AICc {f.aicc:.2f}" for f in fits)
    return replace(chosen, notes=notes)


def trapezoid(points: TimeActivity, *, tail: Literal["physical", "fitted"] = "physical") -> Fit:
    """Trapezoidal TIA with a head from (0, 0) and a tail from the last point (≥ 2 points)."""
    if len(points) < 2:
        raise BadInputError(
            "--model",
            "trapezoid needs at least two points; for one point use a single-time-point "
            "method (lutetia dose stp)",
        )
    if tail not in ("physical", "fitted"):
        raise BadInputError("--tail", f"{tail!r} is not physical or fitted")
    lambda_phys = _lambda_phys()
    ts = [0.0, *points.time_h] if points.time_h[0] > 0 else list(points.time_h)
    activities = [0.0, *points.activity_mbq] if points.time_h[0] > 0 else list(points.activity_mbq)
    body = sum(
        (t2 - t1) * (a1 + a2) / 2
        for t1, t2, a1, a2 in zip(ts, ts[1:], activities, activities[1:], strict=False)
    )
    tail_lambda = lambda_phys
    notes = ["head: linear from (0, 0) to the first point"]
    if tail == "fitted" and points.activity_mbq[-1] > 0 and points.activity_mbq[-2] > 0:
        t1, t2 = points.time_h[-2:]
        a1, a2 = points.activity_mbq[-2:]
        tail_lambda = max(math.log(a1 / a2) / (t2 - t1), lambda_phys)
        notes.append("tail: mono-exponential through the last two points (≥ physical decay)")
        if tail_lambda == lambda_phys:
            notes.append("tail: the last two points fall no faster than physical decay")
    else:
        notes.append("tail: physical decay from the last point")
    tail_tia = points.activity_mbq[-1] / tail_lambda
    tia = require_finite(body + tail_tia, "tia_mbq_h")

    def curve(t: float) -> float:
        if t >= ts[-1]:
            return float(activities[-1] * math.exp(-tail_lambda * (t - ts[-1])))
        for i in range(len(ts) - 1):
            if ts[i] <= t <= ts[i + 1]:
                share = (t - ts[i]) / (ts[i + 1] - ts[i])
                return float(activities[i] + (activities[i + 1] - activities[i]) * share)
        return 0.0

    return Fit(
        "trapezoid", {"tail_lambda_per_h": tail_lambda, "tail_mbq_h": tail_tia}, tia, None, 0.0,
        None, None, curve, tuple(notes), reliability_warnings(points, tia, tail_tia, None),
    )  # fmt: skip


def fit_tac(
    points: TimeActivity,
    model: ModelName | Literal["auto", "trapezoid"] = "auto",
    *,
    tail: Literal["physical", "fitted"] | None = None,
) -> Fit:
    """Fit ``model`` (or choose one with ``auto``) and integrate.

    ``tail`` chooses the trapezoid's tail and is refused with any other model
    (it would be ignored).
    """
    if tail is not None and model != "trapezoid":
        raise BadInputError("--tail", "applies to --model trapezoid only")
    if model == "auto":
        return select_model(points)
    if model == "trapezoid":
        return trapezoid(points, tail=tail or "physical")
    if model not in PARAMETER_COUNT:
        raise BadInputError("--model", f"{model!r} is not one of auto, mono, bi, tri, trapezoid")
    return fit_model(points, model)
