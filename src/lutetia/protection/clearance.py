"""Clearance of the dose rate from a patient after 177Lu-PSMA: fit, evaluate, integrate.

The ambient dose-equivalent rate at 1 m, Ḣ(t), is modelled as

    mono:  Ḣ(t) = Ḣ₀ · e^{−λ t}
    bi:    Ḣ(t) = Ḣ₀ · (f · e^{−λ₁ t} + (1 − f) · e^{−λ₂ t})

with every effective decay constant at least the physical one (λ ≥ λ_phys:
activity in the body cannot disappear more slowly than the nuclide decays).
Readings at another distance d are scaled to 1 m with the inverse 1.5 power
of distance (the patient as an extended source; Cormack J, Shearer J, Phys Med
Biol 1998;43:501-516, as implemented by glowgreen). The integral from t to ∞,

    ∫ Ḣ = Ḣ₀ · (f/λ₁ · e^{−λ₁ t} + (1 − f)/λ₂ · e^{−λ₂ t}),

gives the dose to a person at 1 m for unit occupancy.

Without measurements, the population estimate uses the mean dose rates at
2 m measured by Kurth J et al., EJNMMI Res 2018;8:32
(doi:10.1186/s13550-018-0386-4): 3.6, 1.6, 1.1 and 0.7 µSv/h at 2, 24, 48 and
72 h after a mean 6.3 GBq of [177Lu]Lu-PSMA-617 (50 patients), scaled
linearly with administered activity.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from lutetia.errors import BadInputError
from lutetia.nuclides import decay_constant_per_h, nuclide

DISTANCE_EXPONENT: Final[float] = 1.5
RISE_TOLERANCE: Final[float] = 1.05
KURTH_2018_ACTIVITY_GBQ: Final[float] = 6.3
KURTH_2018_DISTANCE_M: Final[float] = 2.0
KURTH_2018_POINTS: Final[tuple[tuple[float, float], ...]] = (
    (2.0, 3.6),
    (24.0, 1.6),
    (48.0, 1.1),
    (72.0, 0.7),
)
KURTH_2018: Final[str] = (
    "Kurth J et al., EJNMMI Res 2018;8:32 (doi:10.1186/s13550-018-0386-4): mean dose rates at "
    "2 m after 6.3 GBq [177Lu]Lu-PSMA-617, scaled to the administered activity"
)

ModelName = Literal["mono", "bi"]


def to_1m(rate_usv_h: float, distance_m: float) -> float:
    """Dose rate at 1 m from a reading at ``distance_m`` (inverse 1.5 power of distance)."""
    return float(rate_usv_h * distance_m**DISTANCE_EXPONENT)


def at_distance(rate_1m_usv_h: float, distance_m: float) -> float:
    """Dose rate at ``distance_m`` from the rate at 1 m."""
    return float(rate_1m_usv_h / distance_m**DISTANCE_EXPONENT)


@dataclass(frozen=True)
class Clearance:
    """A fitted dose-rate clearance at 1 m (hours after administration)."""

    model: ModelName
    initial_usv_h: float
    fraction: float
    half_life_1_h: float
    half_life_2_h: float | None
    source: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def _lambdas(self) -> tuple[float, float]:
        first = math.log(2) / self.half_life_1_h
        second = math.log(2) / self.half_life_2_h if self.half_life_2_h else first
        return first, second

    def rate_usv_h(self, hours: float, distance_m: float = 1.0) -> float:
        """Ḣ at ``hours`` after administration, at ``distance_m``."""
        l1, l2 = self._lambdas
        rate = self.initial_usv_h * (
            self.fraction * math.exp(-l1 * hours) + (1 - self.fraction) * math.exp(-l2 * hours)
        )
        return at_distance(rate, distance_m)

    def integral_usv(self, from_hours: float, distance_m: float = 1.0) -> float:
        """∫ from ``from_hours`` to ∞ of Ḣ at ``distance_m`` (µSv)."""
        l1, l2 = self._lambdas
        total = self.initial_usv_h * (
            self.fraction / l1 * math.exp(-l1 * from_hours)
            + (1 - self.fraction) / l2 * math.exp(-l2 * from_hours)
        )
        return at_distance(total, distance_m)

    def time_to_rate_h(self, rate_usv_h: float, distance_m: float = 1.0) -> float:
        """Hours after administration when Ḣ at ``distance_m`` falls to ``rate_usv_h``.

        Zero when it is already there at administration.
        """
        if rate_usv_h <= 0:
            raise BadInputError("--threshold-usv-h", "must be positive")
        if self.rate_usv_h(0.0, distance_m) <= rate_usv_h:
            return 0.0
        if self.model == "mono":
            l1, _ = self._lambdas
            return math.log(self.rate_usv_h(0.0, distance_m) / rate_usv_h) / l1
        from scipy.optimize import brentq

        high = 24.0
        while self.rate_usv_h(high, distance_m) > rate_usv_h:
            high *= 2
        root: float = brentq(lambda t: self.rate_usv_h(t, distance_m) - rate_usv_h, 0.0, high)
        return root

    def time_to_integral_h(self, dose_usv: float, distance_m: float = 1.0) -> float:
        """Hours after which the remaining integral at ``distance_m`` is at most ``dose_usv``."""
        if self.integral_usv(0.0, distance_m) <= dose_usv:
            return 0.0
        from scipy.optimize import brentq

        high = 24.0
        while self.integral_usv(high, distance_m) > dose_usv:
            high *= 2
        root: float = brentq(lambda t: self.integral_usv(t, distance_m) - dose_usv, 0.0, high)
        return root

    @property
    def effective_half_life_h(self) -> float:
        """The single half-life with the same integral: ln 2 · ∫Ḣ / Ḣ₀."""
        return math.log(2) * self.integral_usv(0.0) / self.initial_usv_h

    def parameters(self) -> dict[str, float | None]:
        """The model parameters with their units in the keys."""
        return {
            "initial_usv_h_at_1m": self.initial_usv_h,
            "fraction_1": self.fraction,
            "half_life_1_h": self.half_life_1_h,
            "half_life_2_h": self.half_life_2_h,
            "effective_half_life_h": self.effective_half_life_h,
        }


def _check_series(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    if not points:
        raise BadInputError("--dose-rate", "at least one measurement is needed")
    ordered = sorted(points)
    for i, (hours, rate) in enumerate(ordered):
        if not (math.isfinite(hours) and hours >= 0):
            raise BadInputError("--dose-rate", f"time {hours!r} h must be ≥ 0")
        if not (math.isfinite(rate) and rate > 0):
            raise BadInputError("--dose-rate", f"dose rate {rate!r} µSv/h must be positive")
        if i and hours == ordered[i - 1][0]:
            raise BadInputError("--dose-rate", f"two measurements at {hours:g} h")
    for (h1, r1), (h2, r2) in itertools.pairwise(ordered):
        if r2 > r1 * RISE_TOLERANCE:
            raise BadInputError(
                "--dose-rate",
                f"the dose rate rises from {r1:g} µSv/h at {h1:g} h to {r2:g} µSv/h at {h2:g} h: "
                "check the distance and the meter (a patient's dose rate only falls)",
            )
    return ordered


def _mono(points: list[tuple[float, float]], lambda_phys: float) -> tuple[Clearance, float]:
    """Log-linear least squares; λ clamped at λ_phys. Returns the fit and its SSR."""
    warnings: list[str] = []
    if len(points) == 1:
        (hours, rate) = points[0]
        lam = lambda_phys
        initial = rate * math.exp(lam * hours)
        warnings.append(
            "one measurement: clearance assumed to be physical decay only (conservative)"
        )
    else:
        xs = [h for h, _ in points]
        ys = [math.log(r) for _, r in points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        lam = -slope
        if lam < lambda_phys:
            warnings.append(
                f"fitted clearance ({math.log(2) / lam if lam > 0 else math.inf:.3g} h) is slower "
                "than physical decay: physical half-life used"
            )
            lam = lambda_phys
            initial = math.exp(sum(y + lam * x for x, y in zip(xs, ys, strict=True)) / len(xs))
        else:
            initial = math.exp(my + lam * mx)
    fit = Clearance("mono", initial, 1.0, math.log(2) / lam, None, "", tuple(warnings))
    ssr = sum((math.log(r) - math.log(fit.rate_usv_h(h))) ** 2 for h, r in points)
    return fit, ssr


def _bi(points: list[tuple[float, float]], lambda_phys: float) -> tuple[Clearance, float] | None:
    import warnings

    import numpy as np
    from scipy.optimize import OptimizeWarning, curve_fit

    xs = np.array([h for h, _ in points])
    ys = np.log(np.array([r for _, r in points]))

    def model(t: np.ndarray, log_a: float, f: float, l1: float, extra: float) -> np.ndarray:
        l2 = lambda_phys + extra  # the slow component is bounded below by decay
        value: np.ndarray = log_a + np.log(f * np.exp(-(l2 + l1) * t) + (1 - f) * np.exp(-l2 * t))
        return value

    start = (float(ys[0]), 0.5, 0.1, 0.005)
    try:
        with warnings.catch_warnings():
            # The covariance is not used here; with as many points as parameters it is undefined.
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(
                model,
                xs,
                ys,
                p0=start,
                bounds=([-50, 1e-6, 1e-6, 0.0], [50, 1 - 1e-6, 50.0, 5.0]),
                maxfev=20000,
            )
    except (RuntimeError, ValueError):
        return None
    log_a, f, l1, extra = (float(p) for p in params)
    slow = lambda_phys + extra
    fast = slow + l1
    fit = Clearance("bi", math.exp(log_a), f, math.log(2) / fast, math.log(2) / slow, "")
    ssr = float(np.sum((model(xs, *params) - ys) ** 2))
    return fit, ssr


def _aicc(ssr: float, n: int, k: int) -> float:
    ssr = max(ssr, 1e-300)
    return n * math.log(ssr / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def fit_clearance(
    points: Sequence[tuple[float, float]],
    *,
    distance_m: float = 1.0,
    model: Literal["auto", "mono", "bi"] = "auto",
) -> Clearance:
    """Fit (hours after administration, µSv/h at ``distance_m``) readings.

    ``auto`` takes the bi-exponential only with ≥ 6 readings and a lower AICc
    (Burnham & Anderson, Model Selection and Multimodel Inference, 2002,
    eq. 2.2), else the mono-exponential.
    """
    if not (math.isfinite(distance_m) and 0.1 <= distance_m <= 10):
        raise BadInputError("--distance-m", f"{distance_m!r} m is outside 0.1-10 m")
    ordered = _check_series(points)
    at_1m = [(h, to_1m(r, distance_m)) for h, r in ordered]
    lambda_phys = decay_constant_per_h(nuclide("Lu-177").half_life_h)
    source = f"fit of {len(at_1m)} measurement(s) at {distance_m:g} m"
    mono, mono_ssr = _mono(at_1m, lambda_phys)
    chosen = mono
    if model == "bi" and len(at_1m) < 4:
        raise BadInputError("--dose-rate", "a bi-exponential fit needs at least 4 measurements")
    if model in ("bi", "auto") and len(at_1m) >= 4:
        bi = _bi(at_1m, lambda_phys)
        if bi is not None:
            bi_fit, bi_ssr = bi
            n = len(at_1m)
            if model == "bi" or (n >= 6 and _aicc(bi_ssr, n, 4) < _aicc(mono_ssr, n, 2)):
                chosen = bi_fit
    return Clearance(
        chosen.model,
        chosen.initial_usv_h,
        chosen.fraction,
        chosen.half_life_1_h,
        chosen.half_life_2_h,
        source,
        chosen.warnings,
    )


def population_clearance(administered_gbq: float) -> Clearance:
    """Dose-rate clearance at 1 m estimated from Kurth et al. 2018, scaled to the activity."""
    if not (math.isfinite(administered_gbq) and 0 < administered_gbq <= 50):
        raise BadInputError("--administered-gbq", f"{administered_gbq!r} GBq is not plausible")
    scale = administered_gbq / KURTH_2018_ACTIVITY_GBQ
    points = [(h, r * scale) for h, r in KURTH_2018_POINTS]
    fit = fit_clearance(points, distance_m=KURTH_2018_DISTANCE_M, model="bi")
    return Clearance(
        fit.model,
        fit.initial_usv_h,
        fit.fraction,
        fit.half_life_1_h,
        fit.half_life_2_h,
        f"population estimate for {administered_gbq:g} GBq: {KURTH_2018}",
        ("no measurements: population estimate; measure before discharge",),
    )
