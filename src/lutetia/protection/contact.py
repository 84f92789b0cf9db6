"""Close-contact restriction periods: the Cormack & Shearer (1998) contact patterns.

Cormack J, Shearer J. Calculation of radiation exposures from patients to whom radioactive
materials have been administered. Phys Med Biol 1998;43:501-516
(doi:10.1088/0031-9155/43/3/003).

A *contact pattern* is a list of elements: a start θᵢ (h), a duration cᵢ (h) and a distance
dᵢ (m) from the patient. A *repeating* pattern is a day (period P = 24 h, θ measured from
midnight, local clock time) repeated for ever; a *once-off* pattern happens once, θ measured
from the moment it begins. Each pattern is paired with a dose constraint for the other person.
The patterns, their distances and constraints are those tabulated by glowgreen 0.1.1
(``glowgreen.cs_patterns()``, J. Lukas / SA Medical Imaging: Cormack & Shearer's patterns as
adapted there); :data:`CS_PATTERNS` is that table, and the tests check it field by field.

The patient's dose rate at 1 m is Ḣ(t) = Ḣ₀ Σₖ aₖ e^{−λₖ t} (mono-exponential: one term, a = 1;
bi-exponential: a = (f, 1 − f)), t in hours after administration, and falls with the
inverse 1.5 power of distance (the patient as an extended source, Cormack & Shearer):
Ḣ(t, d) = Ḣ(t) · d^{−1.5}. Integrating Ḣ over each element gives the dose from a pattern
begun (or resumed) τ hours after administration:

* once-off (C&S, a single exposure)::

      D(τ) = Ḣ₀ Σₖ (aₖ/λₖ) e^{−λₖ τ} Σᵢ dᵢ^{−1.5} e^{−λₖ θᵢ} (1 − e^{−λₖ cᵢ})

* repeating, summing the geometric series over the periods j = 0, 1, …::

      D(τ) = Ḣ₀ Σₖ (aₖ/λₖ) e^{−λₖ τ} / (1 − e^{−λₖ P}) Σᵢ dᵢ^{−1.5} e^{−λₖ θ'ᵢ} (1 − e^{−λₖ cᵢ})

  with θ'ᵢ = (θᵢ − φ) mod P the start of element i after the resumption, φ the clock time
  (h after midnight) at which the pattern is resumed.

The *restriction period* of a pattern is the least delay τ after which the dose stays below
the constraint. Its definition follows glowgreen's exactly, so that the two give the same
numbers (tests/test_contact.py compares them):

* Once-off patterns: D(τ) = constraint solved for τ (closed form for one exponential,
  a Newton iteration for two); 0 when even τ = 0 gives less than the constraint.
* Repeating patterns: elements longer than 1 h are first cut into 1-h pieces
  (:func:`graduate`); elements of zero duration are dropped. If τ ends inside an element,
  that element is skipped that day and τ is moved to its end (:func:`repeating_dose`). The
  search steps τ from 0 by whole hours, jumping ahead by linear extrapolation of D over the
  next 24 h, then walks back an hour at a time while the dose stays below the constraint
  (:func:`restriction_period`). The end of the period is then moved forward to the start of
  the next element of the pattern (if it does not fall on one), so that contact can resume
  at once when the period ends: on the morning bus or the next; the dose reported is that
  before this last move.
* Annual constraints are divided by the number of treatments a year; per-episode
  constraints (informed supporters, carers) are not.

Numbers are computed with numpy in the same order of operations as glowgreen, so that
comparisons of a dose with its constraint come out the same.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Final, Literal

from lutetia.protection.clearance import DISTANCE_EXPONENT, Clearance

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    FloatArray = NDArray[np.float64]

#: Period of a repeating pattern (h): one day, from midnight local time.
PATTERN_PERIOD_H: Final[float] = 24.0
#: Longest piece of a repeating pattern's element (h) after :func:`graduate`.
GRADUATION_H: Final[float] = 1.0
#: Tolerances below which θ' is taken as the start of the period (glowgreen compares with
#: ``numpy.isclose`` defaults: |x − y| ≤ 1e-8 + 1e-5·|y|).
_ISCLOSE_RTOL: Final[float] = 1e-5
_ISCLOSE_ATOL: Final[float] = 1e-8
#: Newton iterations for a bi-exponential once-off period (it converges in fewer than 30).
_MAX_NEWTON: Final[int] = 200

PatternKind = Literal["repeating", "onceoff"]
#: Where the table comes from (for the output and the letter).
CS_PATTERNS_SOURCE: Final[str] = (
    "Cormack J, Shearer J, Phys Med Biol 1998;43:501-516 contact patterns and dose "
    "constraints (as tabulated in glowgreen 0.1.1 cs_patterns()), computed by Lutetia"
)


@dataclass(frozen=True)
class ContactPattern:
    """A contact pattern and its dose constraint.

    ``start_h``: element starts (h after midnight for a repeating pattern, after the
    start of the pattern for a once-off one); ``duration_h`` and ``distance_m`` per element.
    ``constraint_msv`` is per year unless ``per_episode`` (per treatment).
    """

    name: str
    kind: PatternKind
    start_h: tuple[float, ...]
    duration_h: tuple[float, ...]
    distance_m: tuple[float, ...]
    constraint_msv: float
    per_episode: bool


def _hourly(
    name: str,
    minutes: tuple[int, ...],
    distance_m: tuple[float, ...],
    constraint_msv: float = 1.0,
    *,
    per_episode: bool = False,
) -> ContactPattern:
    """A day given hour by hour: minutes of contact from the start of each hour, at a distance."""
    assert len(minutes) == len(distance_m) == 24
    return ContactPattern(
        name,
        "repeating",
        tuple(float(hour) for hour in range(24)),
        tuple(m / 60.0 for m in minutes),
        tuple(float(d) for d in distance_m),
        constraint_msv,
        per_episode,
    )


def _elements(
    name: str,
    elements: tuple[tuple[float, float, float], ...],
    constraint_msv: float = 1.0,
    kind: PatternKind = "repeating",
) -> ContactPattern:
    """A pattern given as (start h, duration h, distance m) elements."""
    starts, durations, distances = zip(*elements, strict=True)
    return ContactPattern(
        name,
        kind,
        tuple(float(s) for s in starts),
        tuple(float(c) for c in durations),
        tuple(float(d) for d in distances),
        constraint_msv,
        False,
    )


_SLEEP_MIN: Final = (60,) * 9 + (0,) * 10 + (60,) * 5
_SLEEP_D: Final = (0.3,) * 6 + (1,) * 3 + (0,) * 10 + (1,) * 3 + (0.3,) * 2
_ALL_DAY_D: Final = (0.3,) * 6 + (1,) * 6 + (0.5,) + (1,) * 5 + (0.5,) + (1,) * 3 + (0.3,) * 2
_HOUSEHOLD_MIN: Final = (0,) * 8 + (30,) + (60,) * 10 + (30, 60, 60, 0, 0)
_HOUSEHOLD_D: Final = (0,) * 8 + (0.5, 1, 1, 1, 0.5, 1, 1, 1, 1, 1, 0.5, 0.3, 1, 1, 0, 0)
_WORK_CLOSE: Final = ((9, 3, 0.5), (12, 2, 1), (14, 2, 0.5), (16, 1, 1))

#: The Cormack & Shearer contact patterns with their dose constraints, in glowgreen's order
#: and wording (glowgreen 0.1.1, ``close_contact.cs_patterns``). Hourly rows: minutes of
#: contact from the start of each hour 0-23 and the distance (m) of that contact.
CS_PATTERNS: Final[tuple[ContactPattern, ...]] = (
    _hourly(
        "Caring for infants (normal)",
        (0, 0, 0, 20, 0, 0, 0, 20) + (30, 40, 30, 20) * 3 + (0, 0, 0, 35),
        (0, 0, 0, 0.3, 0, 0, 0, 0.3) + (0.5, 1, 0.5, 0.3) * 3 + (0, 0, 0, 0.3),
    ),
    _hourly(
        "Caring for infants (demanding or sick)",
        (0, 0, 0, 35, 0, 0, 0) + (35,) * 13 + (0, 0, 0, 35),
        (0, 0, 0, 0.3, 0, 0, 0) + (0.3,) * 13 + (0, 0, 0, 0.3),
    ),
    _hourly(
        "Prolonged close contact (>15min) with 2-5 year old children",
        (0,) * 6 + (60, 30, 30, 30, 30, 30, 60, 30, 30, 30, 30, 30, 60, 30, 0, 0, 0, 0),
        (0,) * 6 + (0.3, 0.3, 0.3) + (1,) * 8 + (0.3, 0.3, 0.3, 0, 0, 0, 0),
    ),
    _hourly(
        "Prolonged close contact (>15min) with 5-15 year old children",
        (0,) * 6 + (30, 30, 60) + (0,) * 7 + (60, 60, 60, 30, 30, 0, 0, 0),
        (0,) * 6 + (0.3, 0.3, 1) + (0,) * 7 + (1, 1, 1, 0.3, 0.3, 0, 0, 0),
    ),
    _hourly("Sleeping with another person (includes pregnant or child)", _SLEEP_MIN, _SLEEP_D),
    _hourly("Sleeping with informed supporter", _SLEEP_MIN, _SLEEP_D, 5.0, per_episode=True),
    _hourly(
        "Sleeping with person and prolonged daytime close contact (>15min)", (60,) * 24, _ALL_DAY_D
    ),
    _hourly(
        "Sleeping with informed supporter and prolonged daytime close contact (>15min)",
        (60,) * 24,
        _ALL_DAY_D,
        5.0,
        per_episode=True,
    ),
    _hourly(
        "Prolonged close contact (>15min) with adult household members",
        _HOUSEHOLD_MIN,
        _HOUSEHOLD_D,
    ),
    _hourly(
        "Prolonged close contact (>15min) with pregnant household members",
        _HOUSEHOLD_MIN,
        _HOUSEHOLD_D,
    ),
    _hourly(
        "Prolonged close contact (>15min) with informed persons caring for patient",
        (0,) * 6 + (30, 30, 60, 0, 0, 30, 30, 60, 0, 0, 60, 60, 60, 30, 30, 0, 0, 0),
        (0,) * 6 + (0.3, 0.5, 1, 0, 0, 0.3, 0.5, 1, 0, 0, 1, 1, 1, 0.5, 0.3, 0, 0, 0),
        5.0,
        per_episode=True,
    ),
    _elements("Cinema, theatre visits; social functions/visits", ((9, 3, 0.5),)),
    _elements("Daily public transport to and from work", ((8, 1, 0.3), (17, 1, 0.3))),
    _elements("Return to work involving prolonged close contact (>15min) with others", _WORK_CLOSE),
    _elements(
        "Return to work not involving prolonged close contact (>15min) with others", ((9, 8, 1),)
    ),
    _elements("Work with radiosensitive materials", ((9, 8, 1),), 0.1),
    _elements("Return to school", _WORK_CLOSE),
    _elements("A single 24-hour trip on public transport", ((0, 24, 0.3),), kind="onceoff"),
)


@dataclass(frozen=True)
class _Elements:
    """A pattern's elements as arrays, with the distance factor d^{−1.5} of each."""

    start_h: FloatArray
    duration_h: FloatArray
    factor: FloatArray


@functools.cache
def graduate(pattern: ContactPattern) -> _Elements:
    """The elements used in the dose of ``pattern``.

    A repeating pattern's element of duration c > 1 h becomes ⌈c⌉ elements starting at
    θ, θ + 1, … of 1 h each but the last (c − ⌊c⌋ when c is not whole); an element of zero
    duration disappears. This sets the resolution of the restriction period (glowgreen's
    ``ContactPatternRepeating._graduate_pattern``). Once-off patterns are kept as given.
    """
    import numpy as np

    if pattern.kind == "onceoff":
        start = np.array(pattern.start_h, dtype=np.float64)
        duration = np.array(pattern.duration_h, dtype=np.float64)
        distance = np.array(pattern.distance_m, dtype=np.float64)
    else:
        starts: list[FloatArray] = []
        durations: list[FloatArray] = []
        for theta, c in zip(pattern.start_h, pattern.duration_h, strict=True):
            pieces = math.ceil(c / GRADUATION_H)
            starts.append(np.linspace(theta, theta + pieces, num=pieces, endpoint=False))
            whole = np.ones(math.floor(c / GRADUATION_H))
            if whole.size < pieces:
                whole = np.append(whole, c - math.floor(c))
            durations.append(whole)
        counts = [s.size for s in starts]
        start = np.concatenate(starts)
        duration = np.concatenate(durations)
        distance = np.repeat(np.array(pattern.distance_m, dtype=np.float64), counts)
    factor = (1 / distance) ** DISTANCE_EXPONENT
    return _Elements(start, duration, factor)


def _terms(clearance: Clearance) -> tuple[float, FloatArray, FloatArray]:
    """Ḣ₀ (µSv/h at 1 m), the amplitudes aₖ and the decay constants λₖ (h⁻¹)."""
    import numpy as np

    first = math.log(2) / clearance.half_life_1_h
    if clearance.model == "mono":
        return clearance.initial_usv_h, np.array([1.0]), np.array([first])
    assert clearance.half_life_2_h is not None
    second = math.log(2) / clearance.half_life_2_h
    fraction = clearance.fraction
    return clearance.initial_usv_h, np.array([fraction, 1.0 - fraction]), np.array([first, second])


def _element_sums(elements: _Elements, lambdas: FloatArray, starts: FloatArray) -> FloatArray:
    """Σᵢ dᵢ^{−1.5} e^{−λₖ θᵢ} (1 − e^{−λₖ cᵢ}) for each λₖ."""
    import numpy as np

    sums = np.zeros(lambdas.size)
    for k in range(lambdas.size):
        sums[k] = np.sum(
            elements.factor
            * np.exp(-lambdas[k] * starts)
            * (1 - np.exp(-lambdas[k] * elements.duration_h))
        )
    return sums


def hours_to_next_midnight(administered_local: datetime) -> float:
    """Administration minus the next midnight (h, in [−24, 0)): where the day's pattern stands."""
    midnight = datetime.combine(administered_local.date(), time(0, 0))
    return (administered_local - (midnight + timedelta(hours=PATTERN_PERIOD_H))).total_seconds() / (
        3600.0
    )


def _clock_at(offset_h: float, delay_h: float) -> float:
    """φ: hours after midnight when the pattern is resumed ``delay_h`` after administration."""
    return (offset_h % (delay_h + PATTERN_PERIOD_H)) % PATTERN_PERIOD_H


def repeating_dose(
    pattern: ContactPattern, clearance: Clearance, delay_h: float, administered_local: datetime
) -> tuple[float, float]:
    """Dose (mSv) of a repeating pattern resumed ``delay_h`` after administration, for ever.

    D(τ) = Ḣ₀ Σₖ (aₖ/λₖ) e^{−λₖ τ} / (1 − e^{−λₖ P}) Σᵢ dᵢ^{−1.5} e^{−λₖ θ'ᵢ} (1 − e^{−λₖ cᵢ})
    (module docstring), ``administered_local`` the administration in local clock time
    (naive). θ'ᵢ within 1e-8 h of 0, or within 2.4e-4 h (``numpy.isclose``) below P, is 0:
    an element that starts as the delay ends counts that same day. If the delay ends
    inside an element, that element is skipped on that day and the delay returned is moved
    to its end. Returns the dose and that delay.
    """
    import numpy as np

    if not (delay_h >= 0 and math.isfinite(delay_h)):
        raise ValueError(f"delay {delay_h!r} h must be finite and ≥ 0")
    elements = graduate(pattern)
    initial, amplitudes, lambdas = _terms(clearance)
    phi = _clock_at(hours_to_next_midnight(administered_local), delay_h)
    shifted = elements.start_h - phi
    shifted = np.where(shifted >= 0, shifted, shifted + PATTERN_PERIOD_H)
    near_period = np.abs(shifted - PATTERN_PERIOD_H) <= (
        _ISCLOSE_ATOL + _ISCLOSE_RTOL * PATTERN_PERIOD_H
    )
    near_zero = np.abs(shifted) <= _ISCLOSE_ATOL
    shifted[near_period | near_zero] = 0.0
    sums = _element_sums(elements, lambdas, shifted)
    dose = initial * np.sum(
        (amplitudes / lambdas)
        * np.exp(-lambdas * delay_h)
        * (1 / (1 - np.exp(-lambdas * PATTERN_PERIOD_H)))
        * sums
    )
    ends = elements.start_h + elements.duration_h
    inside = np.flatnonzero((elements.start_h < phi) & (phi < ends))
    left = float(ends[inside[0]] - phi) if inside.size else 0.0
    return float(dose) / 1000.0, delay_h + left


def onceoff_dose(pattern: ContactPattern, clearance: Clearance, delay_h: float) -> float:
    """Dose (mSv) of a once-off pattern begun ``delay_h`` after administration.

    D(τ) = Ḣ₀ Σₖ (aₖ/λₖ) e^{−λₖ τ} Σᵢ dᵢ^{−1.5} e^{−λₖ θᵢ} (1 − e^{−λₖ cᵢ}).
    """
    import numpy as np

    if not delay_h >= 0:
        raise ValueError(f"delay {delay_h!r} h must be ≥ 0")
    elements = graduate(pattern)
    initial, amplitudes, lambdas = _terms(clearance)
    sums = _element_sums(elements, lambdas, elements.start_h)
    dose = initial * np.sum((amplitudes / lambdas) * np.exp(-lambdas * delay_h) * sums)
    return float(dose) / 1000.0


def _onceoff_restriction(
    pattern: ContactPattern, clearance: Clearance, constraint_msv: float
) -> float:
    """τ with D(τ) = constraint for a once-off pattern; 0 if D(0) is below it already.

    One exponential: τ = ln(Ḣ₀ ρ / (1000 · constraint · λ)) / λ with
    ρ = Σᵢ dᵢ^{−1.5} e^{−λ θᵢ} (1 − e^{−λ cᵢ}). Two: Newton's iteration from τ = 0 on the
    convex, decreasing D(τ) − constraint, which approaches the root from below without
    overshooting (each step is exact for the tangent, which lies below D); the iteration
    stops when a step no longer moves τ.
    """
    import numpy as np

    if onceoff_dose(pattern, clearance, 0.0) < constraint_msv:
        return 0.0
    elements = graduate(pattern)
    initial, amplitudes, lambdas = _terms(clearance)
    if clearance.model == "mono":
        lam = lambdas[0]
        rho = np.sum(
            elements.factor
            * np.exp(-lam * elements.start_h)
            * (1 - np.exp(-lam * elements.duration_h))
        )
        return float(np.log(initial * rho / (constraint_msv * 1e3 * lam)) / lam)
    sums = _element_sums(elements, lambdas, elements.start_h)
    weights = initial * amplitudes * sums / 1000.0  # dD/dτ = −Σ wₖ e^{−λₖ τ}
    tau = 0.0
    for _ in range(_MAX_NEWTON):
        decays = np.exp(-lambdas * tau)
        excess = float(np.sum(weights / lambdas * decays)) - constraint_msv
        slope = -float(np.sum(weights * decays))
        step = -excess / slope
        if not tau + step > tau:
            break
        tau += step
    return tau


def _next_element_start(elements: _Elements, administered_local: datetime, delay_h: float) -> float:
    """``delay_h`` moved forward to the next start of an element (clock time, minutes).

    Unchanged when the period already ends on a start; else the first start later that
    day, or the first element of the next day (glowgreen's ``next_element``).
    """
    end = administered_local + timedelta(hours=delay_h)
    starts = [float(s) for s in elements.start_h]
    for i, theta in enumerate(starts):
        at = datetime.combine(end.date(), _clock(theta))
        if at == end:
            return delay_h
        if at > end:
            return delay_h + (at - end).total_seconds() / 3600
        if i == len(starts) - 1:
            at = datetime.combine(end.date(), _clock(starts[0])) + timedelta(days=1)
            return delay_h + (at - end).total_seconds() / 3600
    return delay_h


def _clock(hours: float) -> time:
    """The clock time of ``hours`` after midnight, to the whole minute below."""
    hour = math.floor(hours)
    return time(hour=hour, minute=math.floor((hours - hour) * 60.0))


def restriction_period(
    pattern: ContactPattern,
    clearance: Clearance,
    constraint_msv: float,
    administered_local: datetime,
) -> tuple[float, float]:
    """The restriction period (h after administration) of ``pattern``, and the dose (mSv).

    ``constraint_msv`` is the constraint for this treatment (already divided by the
    treatments a year where it is annual); ``administered_local`` is the administration in
    local clock time (naive: the patterns are clock times). The search is described in the
    module docstring; for a repeating pattern the period is the least delay on the grid
    it walks (whole hours from the start, moved to element ends) after which resuming
    keeps D(τ) ≤ the constraint, then moved to the next element start.
    """
    if not constraint_msv > 0:
        raise ValueError(f"dose constraint {constraint_msv!r} mSv must be > 0")
    if pattern.kind == "onceoff":
        tau = _onceoff_restriction(pattern, clearance, constraint_msv)
        return tau, onceoff_dose(pattern, clearance, tau)

    def dose_at(delay_h: float) -> tuple[float, float]:
        return repeating_dose(pattern, clearance, delay_h, administered_local)

    day = PATTERN_PERIOD_H
    dose, tau = dose_at(0.0)
    while dose > constraint_msv:
        # Jump ahead: the line through D(τ) and D(τ + 24 h) reaches the constraint at new_tau.
        slope = (dose_at(tau + day)[0] - dose) / day
        new_tau = (constraint_msv - (dose - slope * tau)) / slope if slope < 0 else tau
        tau = tau + 1.0 if new_tau - tau < 1.0 else float(math.floor(new_tau))
        dose, tau = dose_at(tau)
    # Walk back an hour at a time while the dose stays below the constraint.
    while tau - 1.0 >= 0.0:
        earlier, moved = dose_at(tau - 1.0)
        if not earlier < constraint_msv:
            break
        dose, tau = earlier, moved
    return _next_element_start(graduate(pattern), administered_local, tau), dose


@dataclass(frozen=True)
class PatternRestriction:
    """A pattern's restriction period for one clearance and one treatment."""

    pattern: ContactPattern
    constraint_msv: float
    restriction_h: float
    dose_msv: float


def constraint_per_treatment(pattern: ContactPattern, treatments_per_year: float) -> float:
    """The constraint for one treatment: annual ones divided by the treatments a year."""
    if pattern.per_episode:
        return pattern.constraint_msv
    return pattern.constraint_msv / treatments_per_year


def restriction_periods(
    clearance: Clearance,
    treatments_per_year: float,
    administered_local: datetime,
    patterns: tuple[ContactPattern, ...] = CS_PATTERNS,
) -> list[PatternRestriction]:
    """Every pattern's restriction period, in the order of ``patterns``."""
    if not treatments_per_year >= 1:
        raise ValueError(f"treatments a year {treatments_per_year!r} must be ≥ 1")
    if administered_local.tzinfo is not None:
        raise ValueError("the administration must be given in local clock time (naive)")
    rows = []
    for pattern in patterns:
        constraint = constraint_per_treatment(pattern, treatments_per_year)
        hours, dose = restriction_period(pattern, clearance, constraint, administered_local)
        rows.append(PatternRestriction(pattern, constraint, hours, dose))
    return rows
