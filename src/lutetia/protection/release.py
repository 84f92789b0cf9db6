"""Release from isolation and close-contact restrictions after 177Lu-PSMA.

Process item 8: depending on national legislation a patient stays isolated
until a local discharge threshold is reached, and is instructed how to limit
exposure of others. Two jurisdiction profiles are built in; every value is
configurable and carries its source:

* ``us-nrc``: 10 CFR 35.75 — release when the total effective dose equivalent
  to any other individual is not likely to exceed 5 mSv; written instructions
  when it may exceed 1 mSv. The dose is estimated as in NUREG-1556 Vol. 9
  Rev. 3, Appendix U (eq. U-1 with the measured dose rate at 1 m in place of
  Γ·Q₀/r²): D = E · ∫ Ḣ₁ₘ dt from release to ∞, occupancy factor E = 0.25.
* ``eu-dose-rate``: a dose-rate-at-distance rule, by default 3.5 µSv/h at
  2 m, the criterion used in German practice (Richtlinie Strahlenschutz in der
  Medizin) for an annual public dose ≤ 1 mSv; check the current national rule.

Close-contact restriction periods: the Cormack & Shearer (1998) contact
patterns with their dose constraints (as tabulated by glowgreen, adapted by SA
Medical Imaging), computed by :mod:`lutetia.protection.contact`: for each
pattern the least time after administration after which resuming it keeps the
dose below its constraint.

Radiation protection is never less conservative than the data:

* restriction periods are computed for every physically valid fitted model and
  the longest is kept, per contact pattern (:func:`conservative_restrictions`);
* discharge under a dose-rate rule is decided by the readings
  (:func:`decide_discharge`): a fitted curve is used only if it passes within
  the reading uncertainty of the readings that bracket the threshold and
  crosses the threshold inside the window those readings allow; otherwise the
  crossing is interpolated log-linearly between the bracketing readings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal

from lutetia.errors import BadInputError
from lutetia.nuclides import decay_constant_per_h, nuclide
from lutetia.protection.clearance import Clearance, ClearanceFits, check_distance, to_1m

Category = Literal[
    "partner", "children", "pregnant", "household", "carer", "work", "public", "other"
]


@dataclass(frozen=True)
class ReleaseProfile:
    """A jurisdiction's discharge rule, each value with its source."""

    name: str
    rule: Literal["dose_rate", "dose_to_others"]
    source: str
    threshold_usv_h: float | None = None
    distance_m: float = 1.0
    dose_limit_msv: float | None = None
    instructions_above_msv: float | None = None
    occupancy: float = 0.25


PROFILES: Final[dict[str, ReleaseProfile]] = {
    "us-nrc": ReleaseProfile(
        "us-nrc",
        "dose_to_others",
        "10 CFR 35.75 (release ≤ 5 mSv to any other individual; written instructions above "
        "1 mSv); dose per NUREG-1556 Vol. 9 Rev. 3, Appendix U, occupancy factor 0.25 at 1 m",
        dose_limit_msv=5.0,
        instructions_above_msv=1.0,
        occupancy=0.25,
    ),
    "eu-dose-rate": ReleaseProfile(
        "eu-dose-rate",
        "dose_rate",
        "dose-rate-at-distance discharge rule; default 3.5 µSv/h at 2 m as used in German "
        "practice (Richtlinie Strahlenschutz in der Medizin) to keep the public below 1 mSv/a; "
        "configure the value of the local legislation",
        threshold_usv_h=3.5,
        distance_m=2.0,
    ),
}


#: Relative uncertainty of a survey-meter reading within which a fitted curve counts as
#: passing through it: the ± 15 % limit on the relative intrinsic error of portable
#: ambient dose-equivalent rate meters (IEC 60846-1:2009). Configure the site's meter.
READING_UNCERTAINTY_FRACTION: Final[float] = 0.15
#: 1-50 %: no survey meter is better than 1 %, and beyond 50 % a reading says nothing.
READING_UNCERTAINTY_RANGE: Final[tuple[float, float]] = (0.01, 0.5)
#: A discharge threshold outside 0.05-1000 µSv/h is not a regulation: below natural
#: background it cannot be measured, above 1 mSv/h it protects nobody.
THRESHOLD_RANGE_USV_H: Final[tuple[float, float]] = (0.05, 1000.0)
#: A dose limit to others outside 0.01-50 mSv is a typo: 10 µSv a year is the trivial dose
#: (IAEA GSR Part 3, Schedule I, I.2) and 50 mSv the occupational limit in any single year.
DOSE_LIMIT_RANGE_MSV: Final[tuple[float, float]] = (0.01, 50.0)
#: Occupancy factor at 1 m: 0.01-1 (NUREG-1556 Vol. 9 Appendix U uses 0.25 and 0.125).
OCCUPANCY_RANGE: Final[tuple[float, float]] = (0.01, 1.0)
#: At most one cycle every 4 weeks (guideline, Process item 11: intervals of 4-10 weeks).
TREATMENTS_PER_YEAR_RANGE: Final[tuple[float, float]] = (1.0, 13.0)

DischargeMethod = Literal[
    "fit", "readings_interpolation", "first_reading", "readings_extrapolation",
    "population_estimate",
]  # fmt: skip


def custom_threshold(threshold_usv_h: float, distance_m: float = 1.0) -> ReleaseProfile:
    """A dose-rate rule with a user-given threshold (the site's own regulation)."""
    low, high = THRESHOLD_RANGE_USV_H
    if not (math.isfinite(threshold_usv_h) and low <= threshold_usv_h <= high):
        raise BadInputError(
            "--threshold-usv-h", f"{threshold_usv_h!r} µSv/h is outside {low:g}-{high:g} µSv/h"
        )
    check_distance(distance_m, "--threshold-distance-m")
    return replace(
        PROFILES["eu-dose-rate"],
        name="threshold",
        threshold_usv_h=threshold_usv_h,
        distance_m=distance_m,
        source=f"user-configured discharge threshold {threshold_usv_h:g} µSv/h at {distance_m:g} m",
    )


def configure_profile(
    name: str, *, dose_limit_msv: float | None = None, occupancy: float | None = None
) -> ReleaseProfile:
    """A built-in profile with the dose limit and occupancy overridden (each checked)."""
    if name not in PROFILES:
        raise BadInputError("--profile", f"{name!r} is not one of {', '.join(PROFILES)}")
    profile = PROFILES[name]
    if dose_limit_msv is not None:
        low, high = DOSE_LIMIT_RANGE_MSV
        if not (math.isfinite(dose_limit_msv) and low <= dose_limit_msv <= high):
            raise BadInputError(
                "--dose-limit-msv", f"{dose_limit_msv!r} mSv is outside {low:g}-{high:g} mSv"
            )
        profile = replace(
            profile,
            dose_limit_msv=dose_limit_msv,
            source=f"{profile.source}; limit set to {dose_limit_msv:g} mSv",
        )
    if occupancy is not None:
        low, high = OCCUPANCY_RANGE
        if not (math.isfinite(occupancy) and low <= occupancy <= high):
            raise BadInputError("--occupancy", f"{occupancy!r} is outside {low:g}-{high:g}")
        profile = replace(
            profile, occupancy=occupancy, source=f"{profile.source}; occupancy set to {occupancy:g}"
        )
    return profile


@dataclass(frozen=True)
class Discharge:
    """When the patient may leave isolation under a profile, and how that was decided.

    ``method``: ``fit`` (a fitted curve, checked against the readings),
    ``readings_interpolation`` (log-linear between the readings that bracket
    the threshold), ``first_reading`` (the first reading is already below the
    threshold), ``readings_extrapolation`` (the readings have not reached the
    threshold: physical decay from the last reading, the slowest possible
    clearance) or ``population_estimate`` (no readings). ``window_h``: the
    earliest and latest crossing the readings allow within their uncertainty.
    ``forecast``: the readings do not yet show the threshold reached.
    """

    profile: ReleaseProfile
    after_h: float
    criterion: str
    dose_to_others_msv: float
    instructions_required: bool
    method: DischargeMethod = "fit"
    model: str | None = None
    explanation: str = ""
    window_h: tuple[float, float] | None = None
    forecast: bool = False
    candidates: tuple[tuple[str, float, bool], ...] = ()


def _criterion(profile: ReleaseProfile) -> str:
    if profile.rule == "dose_rate":
        return f"dose rate at {profile.distance_m:g} m ≤ {profile.threshold_usv_h:g} µSv/h"
    return (
        f"dose to any other individual ≤ {profile.dose_limit_msv:g} mSv "
        f"(occupancy {profile.occupancy:g} at 1 m)"
    )


def _fit_time_h(clearance: Clearance, profile: ReleaseProfile) -> float:
    if profile.rule == "dose_rate":
        assert profile.threshold_usv_h is not None
        return clearance.time_to_rate_h(profile.threshold_usv_h, profile.distance_m)
    assert profile.dose_limit_msv is not None
    return clearance.time_to_integral_h(1000 * profile.dose_limit_msv / profile.occupancy)


def discharge(clearance: Clearance, profile: ReleaseProfile) -> Discharge:
    """Hours after administration at which ``profile`` allows release, from one fitted model."""
    after = _fit_time_h(clearance, profile)
    dose = dose_to_others_msv(clearance, after, occupancy=profile.occupancy)
    threshold = profile.instructions_above_msv
    return Discharge(
        profile, after, _criterion(profile), dose, threshold is not None and dose > threshold,
        "fit", clearance.model, f"{clearance.model}-exponential fit",
    )  # fmt: skip


Crossing = tuple[Literal["before_first", "between", "after_last"], float, tuple[int, ...]]


def readings_crossing(
    readings_1m: Sequence[tuple[float, float]], level_usv_h: float, scale: float = 1.0
) -> Crossing:
    """Where the readings (scaled by ``scale``) fall to ``level_usv_h`` for good.

    Returns the kind, a time and the indices of the bracketing readings:
    ``between``: after the last reading above the level, log-linear
    interpolation between it and the next one,
    t = t₁ + (t₂ − t₁) · ln(R₁/L) / ln(R₁/R₂);
    ``before_first``: every reading is at or below the level (time of the first);
    ``after_last``: the last reading is still above it (time of the last).
    """
    scaled = [(h, r * scale) for h, r in readings_1m]
    above = [i for i, (_, r) in enumerate(scaled) if r > level_usv_h]
    if not above:
        return "before_first", scaled[0][0], (0,)
    last = above[-1]
    if last == len(scaled) - 1:
        return "after_last", scaled[last][0], (last,)
    (h1, r1), (h2, r2) = scaled[last], scaled[last + 1]
    hours = h1 + (h2 - h1) * math.log(r1 / level_usv_h) / math.log(r1 / r2)
    return "between", hours, (last, last + 1)


def readings_window_h(
    readings_1m: Sequence[tuple[float, float]], level_usv_h: float, uncertainty_fraction: float
) -> tuple[float, float]:
    """The earliest and latest time the readings, each within ± u, allow the crossing.

    Earliest: readings × (1 − u); latest: readings × (1 + u) (∞ while those
    have not reached the level; 0 when the lowered readings are all below it).
    """
    kind, hours, _ = readings_crossing(readings_1m, level_usv_h, 1 - uncertainty_fraction)
    low = 0.0 if kind == "before_first" else hours
    kind, hours, _ = readings_crossing(readings_1m, level_usv_h, 1 + uncertainty_fraction)
    high = math.inf if kind == "after_last" else hours
    return low, high


def decide_discharge(
    fits: ClearanceFits,
    profile: ReleaseProfile,
    *,
    uncertainty_fraction: float = READING_UNCERTAINTY_FRACTION,
) -> Discharge:
    """Discharge time under ``profile``, never less conservative than the data.

    Dose-rate rule with readings: a physically valid fit is accepted when it
    passes within ± ``uncertainty_fraction`` of the readings that bracket the
    threshold and its crossing lies in :func:`readings_window_h`; among
    accepted fits the latest crossing is kept. Otherwise the readings decide
    (see :class:`Discharge` ``method``). Dose-to-others rule, or no readings:
    the latest time of the physically valid fits. The dose to others is the
    largest of the physically valid fits.
    """
    low, high = READING_UNCERTAINTY_RANGE
    if not (math.isfinite(uncertainty_fraction) and low <= uncertainty_fraction <= high):
        raise BadInputError(
            "--reading-uncertainty-percent",
            f"{100 * uncertainty_fraction:g} % is outside {100 * low:g}-{100 * high:g} %",
        )
    models = fits.plausible
    timed = [(c, _fit_time_h(c, profile)) for c in models]
    readings = fits.readings_1m
    window: tuple[float, float] | None = None
    forecast = False
    accepted_models: set[int] = set()
    if profile.rule != "dose_rate" or not readings:
        used, after = max(timed, key=lambda pair: pair[1])
        accepted_models = {id(used)}
        method: DischargeMethod = "fit" if readings else "population_estimate"
        model: str | None = used.model
        explanation = (
            f"the latest of {len(models)} physically valid fit(s): {used.model}-exponential"
            if readings
            else "population estimate without readings"
        )
        forecast = not readings
    else:
        assert profile.threshold_usv_h is not None
        level = to_1m(profile.threshold_usv_h, profile.distance_m)
        u = uncertainty_fraction
        kind, crossing_h, bracket = readings_crossing(readings, level)
        window = readings_window_h(readings, level, u)
        low, high = window
        eps = 1e-6
        accepted = [
            (c, t)
            for c, t in timed
            if low - eps <= t <= high + eps
            and all(abs(c.rate_usv_h(readings[i][0]) / readings[i][1] - 1) <= u for i in bracket)
        ]
        accepted_models = {id(c) for c, _ in accepted}
        described = ", ".join(
            f"{readings[i][1]:.3g} µSv/h at {readings[i][0]:g} h" for i in bracket
        )
        if accepted:
            used, after = max(accepted, key=lambda pair: pair[1])
            method, model = "fit", used.model
            explanation = (
                f"{used.model}-exponential fit: within ± {100 * u:g} % of the bracketing "
                f"reading(s) ({described}, at 1 m) and crossing inside {_span(window)}"
            )
        elif kind == "between":
            method, model, after = "readings_interpolation", None, crossing_h
            explanation = (
                f"log-linear interpolation between the readings {described} (at 1 m): no fit "
                f"passes within ± {100 * u:g} % of them and crosses inside {_span(window)}"
            )
        elif kind == "before_first":
            method, model, after = "first_reading", None, readings[0][0]
            explanation = (
                f"the first reading ({described}, at 1 m) is already at or below the "
                f"threshold and no fit agrees with it within ± {100 * u:g} %"
            )
        else:
            lambda_phys = decay_constant_per_h(nuclide("Lu-177").half_life_h)
            hours, rate = readings[-1]
            method, model = "readings_extrapolation", None
            after = hours + math.log(rate / level) / lambda_phys
            explanation = (
                f"physical decay from the last reading ({described}, at 1 m), the slowest "
                f"possible clearance: no fit agrees with it within ± {100 * u:g} %"
            )
        forecast = kind == "after_last"
        if forecast:
            explanation += "; the readings have not reached the threshold yet (forecast)"
    dose = max(dose_to_others_msv(c, after, occupancy=profile.occupancy) for c in models)
    threshold = profile.instructions_above_msv
    return Discharge(
        profile, after, _criterion(profile), dose, threshold is not None and dose > threshold,
        method, model, explanation, window, forecast,
        tuple((c.model, t, id(c) in accepted_models) for c, t in timed),
    )  # fmt: skip


def _span(window: tuple[float, float]) -> str:
    low, high = window
    return f"{low:.1f}-{'∞' if math.isinf(high) else f'{high:.1f}'} h"


def dose_to_others_msv(clearance: Clearance, release_h: float, *, occupancy: float = 0.25) -> float:
    """D = E · ∫_{release}^{∞} Ḣ₁ₘ dt (NUREG-1556 Vol. 9 Rev. 3, Appendix U), in mSv."""
    return occupancy * clearance.integral_usv(release_h) / 1000.0


@dataclass(frozen=True)
class Restriction:
    """How long after administration a contact pattern must be avoided, and by which model."""

    contact: str
    category: Category
    constraint_msv: float
    per_episode: bool
    restriction_h: float
    until: datetime
    dose_msv: float
    model: str = ""


def _category(name: str) -> Category:
    text = name.lower()
    rules: tuple[tuple[str, Category], ...] = (
        ("sleeping", "partner"),
        ("pregnant", "pregnant"),
        ("infant", "children"),
        ("child", "children"),
        ("school", "children"),
        ("caring for patient", "carer"),
        ("household", "household"),
        ("work", "work"),
        ("public", "public"),
        ("cinema", "public"),
    )
    return next((category for word, category in rules if word in text), "other")


def check_treatments_per_year(treatments_per_year: float) -> float:
    """``treatments_per_year`` if it lies in 1-13 (at most one cycle every 4 weeks)."""
    low, high = TREATMENTS_PER_YEAR_RANGE
    if not (math.isfinite(treatments_per_year) and low <= treatments_per_year <= high):
        raise BadInputError(
            "--treatments-per-year",
            f"{treatments_per_year!r} is outside {low:g}-{high:g} (cycles at least 4 weeks apart)",
        )
    return treatments_per_year


def restrictions(
    clearance: Clearance, administered_at: datetime, *, treatments_per_year: float = 4.0
) -> list[Restriction]:
    """Restriction periods for the Cormack & Shearer contact patterns.

    Computed by :func:`lutetia.protection.contact.restriction_periods` (Lutetia's
    implementation, checked against glowgreen in tests/test_contact.py). Annual
    constraints are divided by ``treatments_per_year``; per-episode ones (informed
    supporters) are not. Patterns are defined in local clock time, so the
    administration's own wall-clock time is used.
    """
    check_treatments_per_year(treatments_per_year)
    from lutetia.protection.contact import restriction_periods

    local = administered_at.replace(tzinfo=None)
    return [
        Restriction(
            contact=row.pattern.name,
            category=_category(row.pattern.name),
            constraint_msv=row.constraint_msv,
            per_episode=row.pattern.per_episode,
            restriction_h=row.restriction_h,
            until=administered_at + timedelta(hours=row.restriction_h),
            dose_msv=row.dose_msv,
            model=clearance.model,
        )
        for row in restriction_periods(clearance, treatments_per_year, local)
    ]


def conservative_restrictions(
    models: Sequence[Clearance], administered_at: datetime, *, treatments_per_year: float = 4.0
) -> list[Restriction]:
    """For each contact pattern, the longest restriction of the given models.

    Pass every physically valid fit (:attr:`ClearanceFits.plausible`, the
    preferred one first: it is kept on ties), so that the advice is never
    shorter than any model the readings support.
    """
    if not models:
        raise BadInputError("--dose-rate", "no clearance model to compute restrictions from")
    tables = [
        restrictions(m, administered_at, treatments_per_year=treatments_per_year) for m in models
    ]
    result = []
    for rows in zip(*tables, strict=True):
        assert len({r.contact for r in rows}) == 1
        result.append(max(rows, key=lambda r: r.restriction_h))
    return result


@dataclass(frozen=True)
class ReleaseAdvice:
    """Discharge and restrictions from one series of readings, with what must be resolved."""

    fits: ClearanceFits
    discharge: Discharge
    us_release: Discharge
    dose_to_others_at_discharge_msv: float
    restrictions: list[Restriction]
    plausibility: str
    blocking_warnings: tuple[str, ...]


def release_advice(
    fits: ClearanceFits,
    profile: ReleaseProfile,
    administered_at: datetime,
    *,
    treatments_per_year: float = 4.0,
    uncertainty_fraction: float = READING_UNCERTAINTY_FRACTION,
    plausibility: str = "",
) -> ReleaseAdvice:
    """Everything ``release`` and the discharge letter show, the conservative way.

    Blocking warnings name what must be resolved before the advice is handed
    to the patient: a population estimate instead of readings, or readings
    that have not yet reached the discharge threshold.
    """
    decided = decide_discharge(fits, profile, uncertainty_fraction=uncertainty_fraction)
    us = decide_discharge(fits, PROFILES["us-nrc"], uncertainty_fraction=uncertainty_fraction)
    rows = conservative_restrictions(
        fits.plausible, administered_at, treatments_per_year=treatments_per_year
    )
    dose = max(dose_to_others_msv(c, decided.after_h) for c in fits.plausible)
    blocking: list[str] = []
    if decided.method == "population_estimate":
        blocking.append(
            "no dose-rate readings: the discharge time and the restrictions are a population "
            "estimate (Kurth et al. 2018); measure the dose rate before release"
        )
    elif decided.forecast:
        last_h, last_rate = fits.readings_1m[-1]
        blocking.append(
            f"the last reading ({last_rate:.3g} µSv/h at 1 m at {last_h:g} h) is still above the "
            "discharge threshold: the discharge time is a forecast; measure again before release"
        )
    return ReleaseAdvice(fits, decided, us, dose, rows, plausibility, tuple(blocking))
