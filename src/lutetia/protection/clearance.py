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

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

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
#: The bi-exponential through the Kurth et al. 2018 means for 1 GBq at 1 m: Ḣ₀ (µSv/h),
#: fraction of the fast phase, fast and slow half-lives (h). Least squares on log Ḣ within
#: the physical bounds (:func:`_bi`; SSR 9.96e-4). With a single mean before 24 h the fast
#: phase is not determined: the fits along a valley differ by less than 1e-12 in SSR and
#: agree at the four means and after 24 h, not in between (< 1 %) nor in Ḣ₀ (an
#: extrapolation before 2 h: 5.6 here, 6.2 µSv/h by the numpy fit). This point of the
#: valley, found by the former scipy fitter, is kept as the estimate Lutetia has always
#: given; tests/test_solvers.py checks that :func:`kurth_2018_fit` finds no better fit and
#: the same curve at the means.
KURTH_2018_FIT_PER_GBQ: Final[tuple[float, float, float, float]] = (
    5.591819253726726,
    0.8032671738595221,
    0.6620582188479411,
    40.24667597437776,
)
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

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    FloatArray = NDArray[np.float64]

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
        from lutetia.protection.solvers import falling_crossing

        high = 24.0
        while self.rate_usv_h(high, distance_m) > rate_usv_h:
            high *= 2
        return falling_crossing(lambda t: self.rate_usv_h(t, distance_m), rate_usv_h, high)

    def time_to_integral_h(self, dose_usv: float, distance_m: float = 1.0) -> float:
        """Hours after which the remaining integral at ``distance_m`` is at most ``dose_usv``."""
        if self.integral_usv(0.0, distance_m) <= dose_usv:
            return 0.0
        from lutetia.protection.solvers import falling_crossing

        high = 24.0
        while self.integral_usv(high, distance_m) > dose_usv:
            high *= 2
        return falling_crossing(lambda t: self.integral_usv(t, distance_m), dose_usv, high)

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


#: Starting points of the bi-exponential fit: f₀ of the fast phase and its half-life (h),
#: with δ₀ = 0.005 h⁻¹ (the former scipy fitter's nine starts).
_BI_START_FRACTIONS: Final[tuple[float, ...]] = (0.3, 0.6, 0.9)
_BI_START_FAST_H: Final[tuple[float, ...]] = (2.0, 10.0, 30.0)
_BI_START_EXTRA_PER_H: Final[float] = 0.005
#: Further starts: the best pairs of decay constants on a grid of half-lives (0.25 h to
#: physical, geometric), each with its amplitudes by this many Gauss-Newton steps.
_BI_GRID_STARTS: Final[int] = 3
_BI_GRID_HALF_LIVES: Final[int] = 25
_BI_GRID_AMPLITUDE_STEPS: Final[int] = 8
#: A fit from the further starts replaces that of the former nine only if its SSR is lower
#: by more than this fraction (see :func:`_bi`).
_BI_MARGIN: Final[float] = 1e-6
#: Bounds of (ln Ḣ₀, f, λ₁ − λ₂, λ₂ − λ_phys), h⁻¹ for the rates.
_BI_LOWER: Final[tuple[float, float, float, float]] = (-50.0, 1e-6, 1e-6, 0.0)
_BI_UPPER: Final[tuple[float, float, float, float]] = (
    math.log(MAX_INITIAL_USV_H),
    1 - 1e-6,
    50.0,
    5.0,
)


def _logit(f: float) -> float:
    return math.log(f / (1 - f))


def _bi_starts(hours: FloatArray, log_rates: FloatArray, lambda_phys: float) -> FloatArray:
    """Starting points (4, S) in (ln Ḣ₀, logit f, ε, δ): the former nine first.

    The former scipy fitter's nine (f₀ ∈ :data:`_BI_START_FRACTIONS`, fast half-life ∈
    :data:`_BI_START_FAST_H`, δ₀ = :data:`_BI_START_EXTRA_PER_H`, Ḣ₀ = e^{0.5} times
    the first reading); the same nine with Ḣ₀ raised so that the curve passes e^{0.5}
    above the first reading at its time (the fast phase then still matters at the
    readings when the first reading is late); and the best :data:`_BI_GRID_STARTS` of
    :func:`_grid_starts`.
    """
    import numpy as np

    first_h, first = float(hours[0]), float(log_rates[0])
    extra = _BI_START_EXTRA_PER_H
    former, anchored = [], []
    for f0 in _BI_START_FRACTIONS:
        for fast_h in _BI_START_FAST_H:
            excess = math.log(2) / fast_h
            former.append((first + 0.5, _logit(f0), excess, extra))
            # ln Ḣ(t₁) = ln Ḣ₀ − λ₂ t₁ + ln(1 − f + f e^{−ε t₁}) = first + 0.5
            lift = (lambda_phys + extra) * first_h - math.log1p(f0 * math.expm1(-excess * first_h))
            anchored.append((min(first + 0.5 + lift, _BI_UPPER[0]), _logit(f0), excess, extra))
    grid = _grid_starts(hours, log_rates, lambda_phys, _BI_GRID_STARTS)
    return np.array(former + anchored + grid).T


def _grid_starts(
    hours: FloatArray, log_rates: FloatArray, lambda_phys: float, count: int
) -> list[tuple[float, float, float, float]]:
    """The ``count`` best pairs of decay constants on a grid, as starts (ln Ḣ₀, logit f, ε, δ).

    For each pair λ₁ > λ₂ ≥ λ_phys of half-lives on a geometric grid (0.25 h to the
    physical half-life), the amplitudes A₁, A₂ > 0 of A₁e^{−λ₁t} + A₂e^{−λ₂t}: first by
    linear least squares on the relative residuals (model − y)/y (a 2 × 2 system; an
    amplitude that comes out below 1e-6 of the highest reading is set to that), then by
    Gauss-Newton steps on (ln A₁, ln A₂) against log Ḣ. The pairs are ranked by their SSR
    on log Ḣ; the starts are clipped to the bounds.
    """
    import numpy as np

    physical_h = math.log(2) / lambda_phys
    half_lives = np.geomspace(0.25, physical_h, _BI_GRID_HALF_LIVES)
    lambdas = math.log(2) / half_lives
    fast, slow = np.meshgrid(lambdas, lambdas, indexing="ij")
    keep = fast > slow
    fast, slow = fast[keep], slow[keep]
    rates = np.exp(log_rates)
    d1 = np.exp(-np.outer(hours, fast))
    d2 = np.exp(-np.outer(hours, slow))
    e1, e2 = d1 / rates[:, None], d2 / rates[:, None]
    s11, s12, s22 = (e1 * e1).sum(0), (e1 * e2).sum(0), (e2 * e2).sum(0)
    b1, b2 = e1.sum(0), e2.sum(0)
    det = s11 * s22 - s12 * s12
    floor = 1e-6 * float(rates.max())
    with np.errstate(all="ignore"):
        a1 = np.maximum((b1 * s22 - b2 * s12) / det, floor)
        a2 = np.maximum((b2 * s11 - b1 * s12) / det, floor)
        a1 = np.where(np.isfinite(a1), a1, floor)
        a2 = np.where(np.isfinite(a2), a2, floor)
        # Gauss-Newton on (ln A₁, ln A₂) against log Ḣ: the amplitudes of each pair.
        for _ in range(_BI_GRID_AMPLITUDE_STEPS):
            t1, t2 = a1 * d1, a2 * d2
            total = t1 + t2
            r = np.log(total) - log_rates[:, None]
            j1, j2 = t1 / total, t2 / total
            g1, g2 = (j1 * r).sum(0), (j2 * r).sum(0)
            h11, h12, h22 = (j1 * j1).sum(0), (j1 * j2).sum(0), (j2 * j2).sum(0)
            h11, h22 = h11 * (1 + 1e-6), h22 * (1 + 1e-6)
            det = h11 * h22 - h12 * h12
            step1 = np.clip(-(g1 * h22 - g2 * h12) / det, -5, 5)
            step2 = np.clip(-(g2 * h11 - g1 * h12) / det, -5, 5)
            a1 = a1 * np.exp(np.where(np.isfinite(step1), step1, 0.0))
            a2 = a2 * np.exp(np.where(np.isfinite(step2), step2, 0.0))
        model = a1 * d1 + a2 * d2
        ssr = ((np.log(model) - log_rates[:, None]) ** 2).sum(0)
    ok = np.isfinite(ssr)
    order = np.flatnonzero(ok)[np.argsort(ssr[ok])][:count]
    starts = []
    for i in order:
        total = a1[i] + a2[i]
        f = min(max(a1[i] / total, _BI_LOWER[1]), _BI_UPPER[1])
        starts.append(
            (
                min(math.log(total), _BI_UPPER[0]),
                _logit(f),
                float(fast[i] - slow[i]),
                float(slow[i] - lambda_phys),
            )
        )
    return starts


def _bi(points: list[tuple[float, float]], lambda_phys: float) -> tuple[Clearance, float] | None:
    """Bounded least squares on log Ḣ from several starting points; the best fit or None.

    The model, with λ₂ = λ_phys + δ and λ₁ = λ₂ + ε, is

        ln Ḣ(t) = ln Ḣ₀ − λ₂ t + ln(1 − f + f e^{−ε t}),

    i.e. ln Ḣ₀ + ln(f e^{−λ₁ t} + (1 − f) e^{−λ₂ t}) written so that it cannot overflow,
    fitted within the bounds :data:`_BI_LOWER`-:data:`_BI_UPPER` of (ln Ḣ₀, f, ε, δ),
    which make every fit physically valid: δ ≥ 0, ε > 0 and 0 < f < 1 (positive
    amplitudes). Jacobian, with Q = 1 − f + f e^{−ε t}: ∂/∂ln Ḣ₀ = 1,
    ∂/∂f = (e^{−ε t} − 1)/Q, ∂/∂ε = −t f e^{−ε t}/Q, ∂/∂δ = −t
    (:func:`lutetia.protection.solvers.box_least_squares`, all starts at once).

    1. The former scipy fitter's nine starts, in these parameters.
    2. The starts of :func:`_bi_starts` (those nine, the nine anchored at the first
       reading, the best of a grid), fitted in g = logit f = ln(f/(1 − f)) in place of f
       (the same box, mapped one to one). When the first reading comes after the fast
       phase is over, the SSR falls slowly towards the bounds (Ḣ₀ → 1 Sv/h) along a line
       in (ln Ḣ₀, g, ε), which this follows, where in f it bends towards f = 1.

    A fit of step 2 is taken only if its SSR is lower than step 1's by more than
    :data:`_BI_MARGIN`: when one reading alone (or none) sees the fast phase, the SSR
    along the valley of its possible amplitudes and half-lives changes by less than
    that, and the former fitter stopped near its starts; step 1 stops there too, so
    that the same readings give the same "distinct" verdict (tests/test_solvers.py).
    """
    import numpy as np

    from lutetia.protection.solvers import box_least_squares

    xs = np.array([h for h, _ in points])[:, None]
    ys = np.log(np.array([r for _, r in points]))[:, None]

    def residuals(logit: bool) -> Callable[[FloatArray], tuple[FloatArray, FloatArray]]:
        def evaluate(p: FloatArray) -> tuple[FloatArray, FloatArray]:
            log_a, g, excess, extra = p
            f = 1 / (1 + np.exp(-g)) if logit else g
            fast = np.expm1(-excess * xs)  # e^{−ε t} − 1
            q = 1 + f * fast
            value = log_a - (lambda_phys + extra) * xs + np.log(q) - ys
            jac = np.empty((4, *value.shape))
            jac[0] = 1.0
            jac[1] = (f * (1 - f) if logit else 1.0) * fast / q
            jac[2] = -xs * f * (fast + 1) / q
            jac[3] = -xs
            return value, jac

        return evaluate

    lower, upper = np.array(_BI_LOWER), np.array(_BI_UPPER)
    starts = _bi_starts(xs[:, 0], ys[:, 0], lambda_phys)
    former = starts[:, : len(_BI_START_FRACTIONS) * len(_BI_START_FAST_H)].copy()
    former[1] = 1 / (1 + np.exp(-former[1]))
    with np.errstate(all="ignore"):
        params, ssr, _ = box_least_squares(residuals(False), former, lower, upper)
    logit_lower, logit_upper = lower.copy(), upper.copy()
    logit_lower[1], logit_upper[1] = _logit(_BI_LOWER[1]), _logit(_BI_UPPER[1])
    with np.errstate(all="ignore"):
        more, more_ssr, _ = box_least_squares(residuals(True), starts, logit_lower, logit_upper)
        more[1] = 1 / (1 + np.exp(-more[1]))
    usable = np.isfinite(ssr)
    reached = float(np.min(ssr[usable])) if np.any(usable) else math.inf
    better = np.isfinite(more_ssr) & (more_ssr < reached * (1 - _BI_MARGIN) - 1e-12)
    params = np.concatenate([params, more[:, better]], axis=1)
    ssr = np.concatenate([ssr, more_ssr[better]])
    usable_index = np.flatnonzero(np.isfinite(ssr) & np.all(np.isfinite(params), axis=0))
    if usable_index.size == 0:
        return None
    best = usable_index[np.argmin(ssr[usable_index])]
    log_a, f, l1, extra = (float(v) for v in params[:, best])
    f = min(max(f, _BI_LOWER[1]), _BI_UPPER[1])
    slow = lambda_phys + extra
    fast = slow + l1
    fit = Clearance("bi", math.exp(log_a), f, math.log(2) / fast, math.log(2) / slow, "")
    return fit, float(ssr[best])


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


def kurth_2018_points_per_gbq() -> list[tuple[float, float]]:
    """The Kurth et al. 2018 means as (hours, µSv/h at 1 m) for 1 GBq."""
    scale = 1.0 / KURTH_2018_ACTIVITY_GBQ
    return [(h, to_1m(r * scale, KURTH_2018_DISTANCE_M)) for h, r in KURTH_2018_POINTS]


def kurth_2018_fit() -> tuple[Clearance, float] | None:
    """The bi-exponential fit of :func:`kurth_2018_points_per_gbq` (:func:`_bi`) and its SSR."""
    lambda_phys = decay_constant_per_h(nuclide("Lu-177").half_life_h)
    return _bi(kurth_2018_points_per_gbq(), lambda_phys)


def _population_per_gbq() -> Clearance:
    """The Kurth et al. 2018 curve for 1 GBq at 1 m (:data:`KURTH_2018_FIT_PER_GBQ`)."""
    initial, fraction, fast_h, slow_h = KURTH_2018_FIT_PER_GBQ
    return Clearance("bi", initial, fraction, fast_h, slow_h, "")


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
