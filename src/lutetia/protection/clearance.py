"""Clearance of the dose rate from a patient after 177Lu-PSMA: fit, evaluate, integrate.

The ambient dose-equivalent rate at 1 m, Ḣ(t), is modelled as

    mono:  Ḣ(t) = Ḣ₀ · e^{−λ t}
    bi:    Ḣ(t) = Ḣ₀ · (f · e^{−λ₁ t} + (1 − f) · e^{−λ₂ t})

with every effective decay constant at least the physical one (λ ≥ λ_phys:
activity in the body cannot disappear more slowly than the nuclide decays) and
positive amplitudes (0 < f < 1). Readings at another distance d are scaled to
1 m with the inverse 1.5 power of distance (the patient as an extended source;
Cormack J, Shearer J, Phys Med Biol 1998;43:501-516, as implemented by
glowgreen). The integral from t to ∞,

    ∫ Ḣ = Ḣ₀ · (f/λ₁ · e^{−λ₁ t} + (1 − f)/λ₂ · e^{−λ₂ t}),

gives the dose to a person at 1 m for unit occupancy.

With four or more readings both models are fitted and reported with their
residuals (:func:`fit_models`): the two-phase model is preferred whenever it is
physically valid and its phases are distinct, because the whole-body clearance
of 177Lu-PSMA is two-phase (fast renal excretion, slow tumour and tissue
retention; Kurth et al. 2018 below). Callers that derive radiation-protection
advice use every physically valid fit and keep the more conservative result.

Without measurements, the population estimate uses the mean dose rates at
2 m measured by Kurth J et al., EJNMMI Res 2018;8:32
(doi:10.1186/s13550-018-0386-4): 3.6, 1.6, 1.1 and 0.7 µSv/h at 2, 24, 48 and
72 h after a mean 6.3 GBq of [177Lu]Lu-PSMA-617 (50 patients), scaled
linearly with administered activity. The same data give the expected dose rate
against which readings are checked for plausibility
(:func:`check_readings_plausible`): 3.6 µSv/h at 2 m is 3.6 · 2^1.5 = 10.2
µSv/h at 1 m, i.e. 1.62 µSv/h per GBq at 1 m two hours after administration.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from lutetia.clinical.plausibility import ACTIVITY_PER_CYCLE_GBQ
from lutetia.errors import BadInputError
from lutetia.nuclides import decay_constant_per_h, nuclide

DISTANCE_EXPONENT: Final[float] = 1.5
RISE_TOLERANCE: Final[float] = 1.05
MIN_DISTANCE_M: Final[float] = 0.1
MAX_DISTANCE_M: Final[float] = 10.0
#: Readings later than 30 days are not discharge measurements (and would make the fit meaningless).
MAX_READING_HOURS: Final[float] = 720.0
#: Two readings closer than 6 minutes are one measurement: give their mean.
MIN_READING_SPACING_H: Final[float] = 0.1
#: Survey-meter range: below 1 nSv/h no meter reads, above 10 mSv/h no 177Lu patient is.
MIN_READING_USV_H: Final[float] = 1e-3
MAX_READING_USV_H: Final[float] = 1e4
#: A fit that extrapolates to more than 1 Sv/h at 1 m at administration is not a patient.
MAX_INITIAL_USV_H: Final[float] = 1e6
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
#: A reading more than this factor above or below the expected dose rate is bad input
#: (e.g. mSv/h typed as µSv/h, or the wrong distance).
PLAUSIBILITY_FACTOR: Final[float] = 5.0
#: Below-expectation readings are checked up to 7 days: later, the population curve is an
#: extrapolation beyond Kurth et al.'s 72 h and individual clearance varies too much.
PLAUSIBILITY_LOW_CHECK_MAX_H: Final[float] = 168.0
#: The plausible activity per cycle, GBq: the one band of
#: :data:`lutetia.clinical.plausibility.ACTIVITY_PER_CYCLE_GBQ` (below 1 or above 15 GBq
#: is a unit or typing error).
PLAUSIBLE_CYCLE_GBQ: Final[tuple[float, float]] = (
    ACTIVITY_PER_CYCLE_GBQ.low,
    ACTIVITY_PER_CYCLE_GBQ.high,
)

ModelName = Literal["mono", "bi"]


def check_distance(distance_m: float, option: str) -> float:
    """``distance_m`` if it lies in 0.1-10 m (the range the inverse-1.5 law is used over)."""
    if not (math.isfinite(distance_m) and MIN_DISTANCE_M <= distance_m <= MAX_DISTANCE_M):
        raise BadInputError(
            option, f"{distance_m!r} m is outside {MIN_DISTANCE_M:g}-{MAX_DISTANCE_M:g} m"
        )
    return distance_m


def check_cycle_activity(activity_gbq: float, option: str) -> float:
    """``activity_gbq`` if it is a plausible activity for one cycle (1-15 GBq)."""
    low, high = PLAUSIBLE_CYCLE_GBQ
    if not (math.isfinite(activity_gbq) and low <= activity_gbq <= high):
        raise BadInputError(
            option,
            f"{activity_gbq!r} GBq is outside the plausible {low:g}-{high:g} GBq per cycle "
            "(check GBq against MBq or mCi)",
        )
    return activity_gbq


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
        if not (math.isfinite(rate_usv_h) and rate_usv_h > 0):
            raise BadInputError("--threshold-usv-h", "must be a positive number")
        if self.rate_usv_h(0.0, distance_m) <= rate_usv_h:
            return 0.0
        if self.model == "mono":
            l1, _ = self._lambdas
            return math.log(self.rate_usv_h(0.0, distance_m) / rate_usv_h) / l1
        from scipy.optimize import brentq

        high = 24.0
        while self.rate_usv_h(high, distance_m) > rate_usv_h:
            high *= 2
        root: float = brentq(
            lambda t: self.rate_usv_h(t, distance_m) - rate_usv_h, 0.0, high, xtol=1e-9
        )
        return root

    def time_to_integral_h(self, dose_usv: float, distance_m: float = 1.0) -> float:
        """Hours after which the remaining integral at ``distance_m`` is at most ``dose_usv``."""
        if self.integral_usv(0.0, distance_m) <= dose_usv:
            return 0.0
        from scipy.optimize import brentq

        high = 24.0
        while self.integral_usv(high, distance_m) > dose_usv:
            high *= 2
        root: float = brentq(
            lambda t: self.integral_usv(t, distance_m) - dose_usv, 0.0, high, xtol=1e-9
        )
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

    def describe(self) -> str:
        """One line for a person: the model and its parameters."""
        if self.model == "mono":
            return (
                f"mono-exponential, {self.initial_usv_h:.3g} µSv/h at 1 m at administration, "
                f"half-life {self.half_life_1_h:.1f} h"
            )
        return (
            f"bi-exponential, {self.initial_usv_h:.3g} µSv/h at 1 m at administration, "
            f"half-lives {self.half_life_1_h:.2g} h ({100 * self.fraction:.0f} %) and "
            f"{self.half_life_2_h:.1f} h"
        )


@dataclass(frozen=True)
class Residual:
    """One reading (at 1 m) against a fitted model."""

    hours: float
    measured_usv_h: float
    fitted_usv_h: float

    @property
    def residual_percent(self) -> float:
        """(fitted − measured) / measured · 100 %."""
        return 100.0 * (self.fitted_usv_h - self.measured_usv_h) / self.measured_usv_h


@dataclass(frozen=True)
class FittedModel:
    """A model fitted to the readings, with its residuals and its validity.

    ``physically_valid``: every decay constant ≥ λ_phys and positive amplitudes,
    and the fit converged. ``distinct``: for the bi-exponential, two separable
    phases (0.01 < f < 0.99, λ₁ ≥ 1.2 λ₂, a lower residual sum than the
    mono-exponential); always true for the mono-exponential.
    """

    clearance: Clearance
    residuals: tuple[Residual, ...]
    ssr_log: float
    aicc: float | None
    physically_valid: bool
    distinct: bool
    note: str


@dataclass(frozen=True)
class ClearanceFits:
    """Every model fitted to one series of readings, and the preferred one.

    ``readings_1m`` is empty for a population estimate (no measurements).
    """

    readings_1m: tuple[tuple[float, float], ...]
    fits: tuple[FittedModel, ...]
    preferred: Clearance
    preferred_reason: str

    @property
    def plausible(self) -> tuple[Clearance, ...]:
        """The physically valid fits, the preferred one first."""
        valid = [f.clearance for f in self.fits if f.physically_valid]
        valid.sort(key=lambda c: c is not self.preferred)
        return tuple(valid)


def _check_series(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    if not points:
        raise BadInputError("--dose-rate", "at least one measurement is needed")
    ordered = sorted(points)
    for i, (hours, rate) in enumerate(ordered):
        if not (math.isfinite(hours) and 0 <= hours <= MAX_READING_HOURS):
            raise BadInputError(
                "--dose-rate",
                f"time {hours!r} h must be between 0 and {MAX_READING_HOURS:g} h after "
                "administration",
            )
        if not (math.isfinite(rate) and MIN_READING_USV_H <= rate <= MAX_READING_USV_H):
            raise BadInputError(
                "--dose-rate",
                f"dose rate {rate!r} µSv/h at {hours:g} h is outside "
                f"{MIN_READING_USV_H:g}-{MAX_READING_USV_H:g} µSv/h (check the unit)",
            )
        if i and hours == ordered[i - 1][0]:
            raise BadInputError("--dose-rate", f"two measurements at {hours:g} h")
        if i and hours - ordered[i - 1][0] < MIN_READING_SPACING_H:
            raise BadInputError(
                "--dose-rate",
                f"measurements at {ordered[i - 1][0]:g} h and {hours:g} h are less than "
                f"{60 * MIN_READING_SPACING_H:g} min apart: give their mean as one reading",
            )
    for (h1, r1), (h2, r2) in itertools.pairwise(ordered):
        if r2 > r1 * RISE_TOLERANCE:
            raise BadInputError(
                "--dose-rate",
                f"the dose rate rises from {r1:g} µSv/h at {h1:g} h to {r2:g} µSv/h at {h2:g} h: "
                "check the distance and the meter (a patient's dose rate only falls)",
            )
    return ordered


def readings_at_1m(
    points: Sequence[tuple[float, float]], distance_m: float = 1.0
) -> list[tuple[float, float]]:
    """Validated readings (hours, µSv/h at ``distance_m``), ordered and scaled to 1 m."""
    check_distance(distance_m, "--distance-m")
    return [(h, to_1m(r, distance_m)) for h, r in _check_series(points)]


def _residuals(fit: Clearance, points: Sequence[tuple[float, float]]) -> tuple[Residual, ...]:
    return tuple(Residual(h, r, fit.rate_usv_h(h)) for h, r in points)


def _mono(points: list[tuple[float, float]], lambda_phys: float) -> tuple[Clearance, float]:
    """Log-linear least squares; λ clamped at λ_phys. Returns the fit and its SSR."""
    warnings: list[str] = []
    if len(points) == 1:
        (hours, rate) = points[0]
        lam = lambda_phys
        log_initial = math.log(rate) + lam * hours
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
            log_initial = sum(y + lam * x for x, y in zip(xs, ys, strict=True)) / len(xs)
        else:
            log_initial = my + lam * mx
    if log_initial > math.log(MAX_INITIAL_USV_H):
        raise BadInputError(
            "--dose-rate",
            f"the readings fall with a half-life of {math.log(2) / lam:.3g} h and extrapolate to "
            f"more than {MAX_INITIAL_USV_H:g} µSv/h at 1 m at administration: check the times "
            "and the values",
        )
    fit = Clearance(
        "mono", math.exp(log_initial), 1.0, math.log(2) / lam, None, "", tuple(warnings)
    )
    ssr = sum((math.log(r) - math.log(fit.rate_usv_h(h))) ** 2 for h, r in points)
    return fit, ssr


def _bi(points: list[tuple[float, float]], lambda_phys: float) -> tuple[Clearance, float] | None:
    """Bounded least squares on log Ḣ from several starting points; the best fit or None.

    The bounds make every fit physically valid: λ₂ = λ_phys + δ with δ ≥ 0,
    λ₁ = λ₂ + ε with ε > 0, and 0 < f < 1 (positive amplitudes).
    """
    import warnings

    import numpy as np
    from scipy.optimize import OptimizeWarning, curve_fit

    xs = np.array([h for h, _ in points])
    ys = np.log(np.array([r for _, r in points]))

    def model(t: np.ndarray, log_a: float, f: float, l1: float, extra: float) -> np.ndarray:
        l2 = lambda_phys + extra  # the slow component is bounded below by decay
        value: np.ndarray = log_a + np.log(f * np.exp(-(l2 + l1) * t) + (1 - f) * np.exp(-l2 * t))
        return value

    bounds = ([-50.0, 1e-6, 1e-6, 0.0], [math.log(MAX_INITIAL_USV_H), 1 - 1e-6, 50.0, 5.0])
    best: tuple[float, np.ndarray] | None = None
    starts = [
        (float(ys[0]) + 0.5, f0, math.log(2) / fast_h, 0.005)
        for f0 in (0.3, 0.6, 0.9)
        for fast_h in (2.0, 10.0, 30.0)
    ]
    for start in starts:
        try:
            with warnings.catch_warnings():
                # The covariance is not used here; with as many points as parameters it is
                # undefined. Overflow in exp() of a far-off trial step is harmless.
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
    fit = Clearance("bi", math.exp(log_a), f, math.log(2) / fast, math.log(2) / slow, "")
    return fit, ssr


def _aicc(ssr: float, n: int, k: int) -> float | None:
    """AICc = n·ln(SSR/n) + 2k + 2k(k+1)/(n−k−1) (Burnham & Anderson 2002, eqs. 2.2 and 2.14).

    Undefined (None) unless n > k + 1.
    """
    if n <= k + 1:
        return None
    ssr = max(ssr, 1e-300)
    return n * math.log(ssr / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def fit_models(
    points: Sequence[tuple[float, float]], *, distance_m: float = 1.0, source: str | None = None
) -> ClearanceFits:
    """Fit the (hours after administration, µSv/h at ``distance_m``) readings.

    The mono-exponential is always fitted. With ≥ 4 readings the bi-exponential
    is fitted too, within the physical bounds, and preferred whenever it is
    physically valid and its two phases are distinct. Both are returned with
    their residuals so that callers can keep the more conservative answer.
    """
    at_1m = readings_at_1m(points, distance_m)
    lambda_phys = decay_constant_per_h(nuclide("Lu-177").half_life_h)
    label = source or f"fit of {len(at_1m)} measurement(s) at {distance_m:g} m"
    n = len(at_1m)
    mono, mono_ssr = _mono(at_1m, lambda_phys)
    mono = Clearance(
        "mono", mono.initial_usv_h, 1.0, mono.half_life_1_h, None, label, mono.warnings
    )
    fits = [
        FittedModel(
            mono, _residuals(mono, at_1m), mono_ssr, _aicc(mono_ssr, n, 2), True, True,
            "log-linear least squares; λ ≥ λ_phys",
        )
    ]  # fmt: skip
    preferred = mono
    reason = (
        "mono-exponential: fewer than 4 readings cannot support a two-phase fit"
        if n < 4
        else "mono-exponential: no distinct physically valid two-phase fit"
    )
    if n >= 4:
        bi = _bi(at_1m, lambda_phys)
        if bi is None:
            reason = "mono-exponential: the two-phase fit did not converge"
        else:
            bi_fit, bi_ssr = bi
            bi_fit = Clearance(
                "bi", bi_fit.initial_usv_h, bi_fit.fraction, bi_fit.half_life_1_h,
                bi_fit.half_life_2_h, label,
            )  # fmt: skip
            assert bi_fit.half_life_2_h is not None
            ratio = bi_fit.half_life_2_h / bi_fit.half_life_1_h
            notes = []
            minor = min(bi_fit.fraction, 1 - bi_fit.fraction)
            if minor <= 0.01:
                notes.append(f"one phase carries {100 * minor:.2g} % only")
            if ratio < 1.2:
                notes.append("the two half-lives are within 20 % of each other")
            if bi_ssr >= mono_ssr * 0.99:
                notes.append("no better than the mono-exponential")
            slow_physical = abs(math.log(2) / bi_fit.half_life_2_h - lambda_phys) < 1e-9
            distinct = not notes
            note = "bounded least squares on log Ḣ; λ₁ > λ₂ ≥ λ_phys, 0 < f < 1"
            if slow_physical:
                note += "; slow phase at physical decay (bound reached)"
            if notes:
                note += "; not distinct: " + ", ".join(notes)
            fits.append(
                FittedModel(
                    bi_fit, _residuals(bi_fit, at_1m), bi_ssr, _aicc(bi_ssr, n, 4), True,
                    distinct, note,
                )
            )  # fmt: skip
            if distinct:
                preferred = bi_fit
                reason = (
                    f"bi-exponential: {n} readings, physically valid (λ ≥ λ_phys, positive "
                    "amplitudes) and two distinct phases"
                )
    return ClearanceFits(tuple(at_1m), tuple(fits), preferred, reason)


def fit_clearance(
    points: Sequence[tuple[float, float]],
    *,
    distance_m: float = 1.0,
    model: Literal["auto", "mono", "bi"] = "auto",
) -> Clearance:
    """Fit (hours after administration, µSv/h at ``distance_m``) readings; one model.

    ``auto`` is the preferred model of :func:`fit_models` (the bi-exponential
    whenever it is physically valid and distinct, with ≥ 4 readings); ``mono``
    and ``bi`` force the model.
    """
    fits = fit_models(points, distance_m=distance_m)
    if model == "auto":
        return fits.preferred
    if model == "bi" and len(fits.readings_1m) < 4:
        raise BadInputError("--dose-rate", "a bi-exponential fit needs at least 4 measurements")
    chosen = next((f.clearance for f in fits.fits if f.clearance.model == model), None)
    if chosen is None:
        raise BadInputError("--dose-rate", "the bi-exponential fit did not converge")
    return chosen


def population_clearance(administered_gbq: float) -> Clearance:
    """Dose-rate clearance at 1 m estimated from Kurth et al. 2018, scaled to the activity."""
    check_cycle_activity(administered_gbq, "--administered-gbq")
    return _population(administered_gbq)


@functools.cache
def _population_per_gbq() -> Clearance:
    """The Kurth et al. 2018 curve for 1 GBq (a fit on log Ḣ: scaling only moves Ḣ₀)."""
    scale = 1.0 / KURTH_2018_ACTIVITY_GBQ
    points = [(h, to_1m(r * scale, KURTH_2018_DISTANCE_M)) for h, r in KURTH_2018_POINTS]
    lambda_phys = decay_constant_per_h(nuclide("Lu-177").half_life_h)
    fitted = _bi(points, lambda_phys)
    assert fitted is not None  # four fixed, well-conditioned points
    return fitted[0]


def _population(administered_gbq: float) -> Clearance:
    fit = _population_per_gbq()
    return Clearance(
        "bi",
        fit.initial_usv_h * administered_gbq,
        fit.fraction,
        fit.half_life_1_h,
        fit.half_life_2_h,
        f"population estimate for {administered_gbq:g} GBq: {KURTH_2018}",
        ("no measurements: population estimate; measure before discharge",),
    )


def population_fits(administered_gbq: float) -> ClearanceFits:
    """The population estimate as a :class:`ClearanceFits` without readings."""
    fit = population_clearance(administered_gbq)
    model = FittedModel(fit, (), 0.0, None, True, True, f"fitted to the means of {KURTH_2018}")
    return ClearanceFits((), (model,), fit, "population estimate: no measurements")


def expected_range_usv_h(
    hours: float, administered_gbq: tuple[float, float]
) -> tuple[float | None, float]:
    """The plausible dose rate at 1 m at ``hours`` for an activity in ``administered_gbq``.

    Lower bound: the population curve (Kurth et al. 2018) for the lowest
    activity, divided by :data:`PLAUSIBILITY_FACTOR` (None after 7 days, where
    it is not checked). Upper bound: the population dose rate at 2 h for the
    highest activity with no excretion after 2 h (physical decay only: the
    most a patient can retain), times :data:`PLAUSIBILITY_FACTOR`.
    """
    low_gbq, high_gbq = administered_gbq
    lambda_phys = decay_constant_per_h(nuclide("Lu-177").half_life_h)
    low_curve = _population(low_gbq)
    high_curve = _population(high_gbq)
    anchor_h = KURTH_2018_POINTS[0][0]
    retained = high_curve.rate_usv_h(min(hours, anchor_h)) * math.exp(
        -lambda_phys * max(hours - anchor_h, 0.0)
    )
    upper = PLAUSIBILITY_FACTOR * max(retained, high_curve.rate_usv_h(hours))
    lower = (
        low_curve.rate_usv_h(hours) / PLAUSIBILITY_FACTOR
        if hours <= PLAUSIBILITY_LOW_CHECK_MAX_H
        else None
    )
    return lower, upper


def check_readings_plausible(
    readings_1m: Sequence[tuple[float, float]], administered_gbq: float | None
) -> str:
    """Raise :class:`BadInputError` on a reading inconsistent with the activity.

    Each reading (at 1 m) must lie within :func:`expected_range_usv_h` for the
    administered activity, or, when it is not known, for any plausible
    activity (1-15 GBq): a weaker check, and the returned text says so.
    Returns what was checked, for the output.
    """
    if administered_gbq is None:
        activity = PLAUSIBLE_CYCLE_GBQ
        basis = f"any activity of {activity[0]:g}-{activity[1]:g} GBq"
    else:
        check_cycle_activity(administered_gbq, "--administered-gbq")
        activity = (administered_gbq, administered_gbq)
        basis = f"the administered {administered_gbq:g} GBq"
    for hours, rate in readings_1m:
        lower, upper = expected_range_usv_h(hours, activity)
        if rate > upper or (lower is not None and rate < lower):
            typical = ""
            if administered_gbq is not None:
                expected = _population(administered_gbq).rate_usv_h(hours)
                typical = f"; about {expected:.3g} µSv/h expected, {rate / expected:.2g} times that"
            raise BadInputError(
                "--dose-rate",
                f"{rate:.3g} µSv/h at 1 m at {hours:g} h is outside the plausible "
                f"{lower or 0:.3g}-{upper:.3g} µSv/h for {basis} (Kurth et al. 2018{typical}): "
                "check the unit (µSv/h, not mSv/h), the distance and the activity",
            )
    text = (
        f"{len(readings_1m)} reading(s) within a factor {PLAUSIBILITY_FACTOR:g} of the dose rate "
        f"expected for {basis} (Kurth et al. 2018)"
    )
    if administered_gbq is None:
        text += (
            "; the administered activity is not known, so the check against it could not be made"
        )
    return text
