"""PSA kinetics: doubling time and PCWG3 response and progression.

PSA doubling time (PSADT) is ln 2 divided by the slope of the least-squares
regression line of ln(PSA) on time, using all values given (the method of the
PSA Working Group: Arlen PM et al., J Urol 2008;179:2181-2186,
doi:10.1016/j.juro.2008.01.088; Pound CR et al., JAMA 1999;281:1591-1597).

PCWG3 (Scher HI et al., J Clin Oncol 2016;34:1402-1418,
doi:10.1200/JCO.2015.64.2702, Table 2):

* response: a decline of ≥ 50 % from baseline, confirmed by a second value
  ≥ 3 weeks later;
* progression: an increase of ≥ 25 % and ≥ 2 ng/mL above the nadir,
  confirmed by a second consecutive value ≥ 3 weeks later; where PSA never
  declined, the same rise over baseline counts only from 12 weeks on.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from lutetia.errors import BadInputError

#: PCWG3 (Scher 2016, Table 2): a response is a decline of at least 50 % from baseline.
RESPONSE_DECLINE_AT_LEAST = 0.50
CONFIRMATION_INTERVAL = timedelta(weeks=3)
NO_DECLINE_PROGRESSION_FROM = timedelta(weeks=12)
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class PsaValue:
    """A PSA result in ng/mL on a date."""

    day: date
    psa_ng_ml: float


def _sorted(values: Sequence[PsaValue], field: str) -> list[PsaValue]:
    for i, v in enumerate(values):
        if not (math.isfinite(v.psa_ng_ml) and v.psa_ng_ml >= 0):
            raise BadInputError(f"{field}[{i}]", f"PSA {v.psa_ng_ml!r} must be non-negative")
    ordered = sorted(values, key=lambda v: v.day)
    for a, b in itertools.pairwise(ordered):
        if a.day == b.day:
            raise BadInputError(field, f"two PSA values on {a.day.isoformat()}")
    return ordered


@dataclass(frozen=True)
class DoublingTime:
    """PSA doubling time from log-linear regression.

    ``doubling_time_days`` is None when PSA is not rising (slope ≤ 0).
    """

    slope_per_day: float
    doubling_time_days: float | None
    n_values: int

    @property
    def doubling_time_months(self) -> float | None:
        """Doubling time in months of 365.25/12 days."""
        if self.doubling_time_days is None:
            return None
        return self.doubling_time_days / DAYS_PER_MONTH


def doubling_time(values: Sequence[PsaValue], *, field: str = "psa") -> DoublingTime:
    """PSADT = ln 2 / b, b the least-squares slope of ln(PSA) against time in days.

    >>> from datetime import date
    >>> v = [PsaValue(date(2026, 1, 1), 10.0), PsaValue(date(2026, 3, 2), 20.0)]
    >>> round(doubling_time(v).doubling_time_days or 0, 9)
    60.0
    """
    ordered = _sorted(values, field)
    if len(ordered) < 2:
        raise BadInputError(field, "a doubling time needs at least two PSA values")
    if any(v.psa_ng_ml <= 0 for v in ordered):
        raise BadInputError(field, "a doubling time needs PSA values above zero")
    xs = [float(v.day.toordinal()) for v in ordered]  # days; the slope needs no origin
    ys = [math.log(v.psa_ng_ml) for v in ordered]
    slope = statistics.linear_regression(xs, ys).slope  # ordinary least squares
    return DoublingTime(
        slope_per_day=slope,
        doubling_time_days=math.log(2) / slope if slope > 0 else None,
        n_values=len(ordered),
    )


@dataclass(frozen=True)
class Pcwg3Result:
    """PCWG3 PSA outcome of a series measured from a baseline value."""

    baseline: PsaValue
    nadir: PsaValue
    max_decline_percent: float
    response: bool
    response_date: date | None
    response_confirmed_on: date | None
    progression: bool
    progression_date: date | None
    progression_confirmed_on: date | None
    unconfirmed_response: bool
    unconfirmed_progression: bool


def _progressed(value: float, nadir: float) -> bool:
    return value >= 1.25 * nadir and value - nadir >= 2.0


def pcwg3(baseline: PsaValue, follow_up: Sequence[PsaValue], *, field: str = "psa") -> Pcwg3Result:
    """PCWG3 PSA response (≥ 50 % decline) and progression (≥ 25 % and ≥ 2 ng/mL over nadir).

    ``follow_up`` are the values after ``baseline``. The nadir is the lowest
    value up to each point (baseline included). A rise is confirmed by the next
    value taken ≥ 3 weeks later that still meets the criterion against the same
    nadir; a response by any later value ≥ 3 weeks on that is still ≤ 50 % of
    baseline. The progression date is the date of the first value of the
    confirmed rise (PCWG3).
    """
    later = _sorted(follow_up, field)
    if any(v.day <= baseline.day for v in later):
        raise BadInputError(field, "follow-up PSA values must be after the baseline")
    if not (math.isfinite(baseline.psa_ng_ml) and baseline.psa_ng_ml >= 0):
        raise BadInputError(f"{field}.baseline", "baseline PSA must be non-negative")

    nadir = baseline
    max_decline = 0.0
    response_date: date | None = None
    response_confirmed: date | None = None
    unconfirmed_response = False
    progression_date: date | None = None
    progression_confirmed: date | None = None
    unconfirmed_progression = False
    half = (1 - RESPONSE_DECLINE_AT_LEAST) * baseline.psa_ng_ml

    for i, v in enumerate(later):
        if baseline.psa_ng_ml > 0:
            max_decline = max(max_decline, 100.0 * (1 - v.psa_ng_ml / baseline.psa_ng_ml))
        if response_confirmed is None and v.psa_ng_ml <= half and baseline.psa_ng_ml > 0:
            confirm = next(
                (
                    w
                    for w in later[i + 1 :]
                    if w.day - v.day >= CONFIRMATION_INTERVAL and w.psa_ng_ml <= half
                ),
                None,
            )
            if confirm is not None:
                response_date, response_confirmed = v.day, confirm.day
            else:
                unconfirmed_response = True
        if progression_confirmed is None:
            no_decline = nadir.psa_ng_ml >= baseline.psa_ng_ml
            too_early = no_decline and v.day - baseline.day < NO_DECLINE_PROGRESSION_FROM
            if _progressed(v.psa_ng_ml, nadir.psa_ng_ml) and not too_early:
                confirm = next(
                    (w for w in later[i + 1 :] if w.day - v.day >= CONFIRMATION_INTERVAL), None
                )
                if confirm is not None and _progressed(confirm.psa_ng_ml, nadir.psa_ng_ml):
                    progression_date, progression_confirmed = v.day, confirm.day
                elif confirm is None:
                    unconfirmed_progression = True
        if v.psa_ng_ml < nadir.psa_ng_ml:
            nadir = v

    return Pcwg3Result(
        baseline=baseline,
        nadir=nadir,
        max_decline_percent=max_decline,
        response=response_confirmed is not None,
        response_date=response_date,
        response_confirmed_on=response_confirmed,
        progression=progression_confirmed is not None,
        progression_date=progression_date,
        progression_confirmed_on=progression_confirmed,
        unconfirmed_response=unconfirmed_response and response_confirmed is None,
        unconfirmed_progression=unconfirmed_progression and progression_confirmed is None,
    )
