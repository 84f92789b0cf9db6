"""Release from the ward and the discharge letter: the use cases behind ``lutetia release``
and ``lutetia letter`` (and the clinic's release page, issue 10).

They take values, not command-line text: the adapters parse their input (the CLI its
options, a web form its fields) into a :class:`ReleaseSettings` and call
:func:`release_advice_for`, :func:`release_document` and :func:`letter_data`. The
physics and the rules are in :mod:`lutetia.protection`; this module assembles them:

* the clearance from the dose-rate readings (every physically valid fit, the more
  conservative result), or the population estimate for the administered activity
  when there are no readings (Kurth et al. 2018);
* the readings checked against the administered activity (a mistyped unit is refused);
* discharge by the readings, 10 CFR 35.75, and the close-contact restrictions of
  Cormack & Shearer (1998);
* for the letter: which cycle of the case was given when, with what activity, and how
  far it deviates from the prescription.

Error fields name the command-line options (``--dose-rate``, ``--administered-gbq``),
as :mod:`lutetia.protection` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from lutetia.errors import BadInputError

if TYPE_CHECKING:
    from lutetia.cases.model import Case
    from lutetia.guideline.ruleset import Ruleset
    from lutetia.protection.release import ReleaseAdvice, ReleaseProfile
    from lutetia.reports.letter import LetterData

#: A deviation of the administered from the prescribed activity beyond which the letter
#: warns (per cent; the guideline's activity measured before and after, Process item 10).
DEVIATION_WARNING_PERCENT: Final[float] = 10.0


@dataclass(frozen=True)
class ReleaseSettings:
    """What release needs besides the administration: readings and the site's rules.

    ``readings`` are (hours after administration, µSv/h at ``distance_m``);
    ``reading_uncertainty_fraction`` is the meter's uncertainty (0.15 for 15 %).
    """

    profile: ReleaseProfile
    readings: tuple[tuple[float, float], ...] = ()
    distance_m: float = 1.0
    treatments_per_year: float = 4.0
    reading_uncertainty_fraction: float = 0.15


def release_advice_for(
    settings: ReleaseSettings, administered_at: datetime, administered_gbq: float | None
) -> ReleaseAdvice:
    """Fit the readings (or take the population estimate) and derive the release advice."""
    from lutetia.protection.clearance import (
        check_cycle_activity,
        check_readings_plausible,
        fit_models,
        population_fits,
    )
    from lutetia.protection.release import check_treatments_per_year, release_advice

    treatments = check_treatments_per_year(settings.treatments_per_year)
    if administered_gbq is not None:
        check_cycle_activity(administered_gbq, "--administered-gbq")
    if settings.readings:
        fits = fit_models(list(settings.readings), distance_m=settings.distance_m)
        plausibility = check_readings_plausible(fits.readings_1m, administered_gbq)
    elif administered_gbq is not None:
        fits = population_fits(administered_gbq)
        plausibility = "no readings to check"
    else:
        raise BadInputError(
            "--dose-rate", "give measured dose rates, or --administered-gbq for an estimate"
        )
    return release_advice(
        fits,
        settings.profile,
        administered_at,
        treatments_per_year=treatments,
        uncertainty_fraction=settings.reading_uncertainty_fraction,
        plausibility=plausibility,
    )


def release_document(result: ReleaseAdvice, administered_at: datetime) -> dict[str, Any]:
    """Clearance, discharge and restrictions as JSON-ready data (``lutetia release --json``)."""
    from lutetia.protection.contact import CS_PATTERNS_SOURCE
    from lutetia.protection.release import PROFILES

    fits = result.fits
    clearance = fits.preferred
    decided = result.discharge
    profile = decided.profile
    us = result.us_release
    used = {r.model for r in result.restrictions}
    return {
        "administered_at": administered_at.isoformat(),
        "clearance": {
            "model": clearance.model,
            "parameters": clearance.parameters(),
            "source": clearance.source,
            "warnings": list(clearance.warnings),
            "preferred_reason": fits.preferred_reason,
            "readings_at_1m": [{"hours": h, "usv_h_at_1m": r} for h, r in fits.readings_1m],
            "fits": [
                {
                    "model": f.clearance.model,
                    "parameters": f.clearance.parameters(),
                    "physically_valid": f.physically_valid,
                    "distinct": f.distinct,
                    "preferred": f.clearance is clearance,
                    "note": f.note,
                    "ssr_log": f.ssr_log,
                    "aicc": f.aicc,
                    "residuals": [
                        {
                            "hours": r.hours,
                            "measured_usv_h_at_1m": r.measured_usv_h,
                            "fitted_usv_h_at_1m": r.fitted_usv_h,
                            "residual_percent": r.residual_percent,
                        }
                        for r in f.residuals
                    ],
                }
                for f in fits.fits
            ],
        },
        "reading_plausibility": result.plausibility,
        "blocking_warnings": list(result.blocking_warnings),
        "discharge_after_h": decided.after_h,
        "discharge": {
            "profile": profile.name,
            "criterion": decided.criterion,
            "source": profile.source,
            "threshold_usv_h": profile.threshold_usv_h,
            "distance_m": profile.distance_m,
            "method": decided.method,
            "model": decided.model,
            "explanation": decided.explanation,
            "readings_window_h": list(decided.window_h) if decided.window_h else None,
            "forecast": decided.forecast,
            "candidates": [
                {"model": m, "after_h": t, "accepted": ok} for m, t, ok in decided.candidates
            ],
            "at": (administered_at + timedelta(hours=decided.after_h)).isoformat(),
            "dose_rate_at_1m_usv_h": rate_at_discharge(result),
            "dose_to_others_msv": decided.dose_to_others_msv,
        },
        "us_10cfr35_75": {
            "release_allowed_at_h": us.after_h,
            "model": us.model,
            "dose_to_others_if_released_at_discharge_msv": result.dose_to_others_at_discharge_msv,
            "written_instructions_required": result.dose_to_others_at_discharge_msv > 1.0,
            "source": PROFILES["us-nrc"].source,
        },
        "restrictions_model": {
            "rule": "per contact pattern, the longest restriction of the physically valid fits",
            "models_considered": [c.model for c in fits.plausible],
            "models_used": sorted(used),
        },
        "restrictions": [
            {
                "contact": r.contact,
                "category": r.category,
                "constraint_msv": r.constraint_msv,
                "per_episode": r.per_episode,
                "restriction_h": r.restriction_h,
                "until": r.until.isoformat(),
                "dose_msv": r.dose_msv,
                "model": r.model,
            }
            for r in result.restrictions
        ],
        "restrictions_source": CS_PATTERNS_SOURCE,
    }


def rate_at_discharge(result: ReleaseAdvice) -> float:
    """Dose rate at 1 m at discharge: of the model used, else the highest valid fit's."""
    decided = result.discharge
    models = result.fits.plausible
    chosen = [c for c in models if c.model == decided.model] or list(models)
    return max(c.rate_usv_h(decided.after_h) for c in chosen)


def letter_data(
    case: Case,
    settings: ReleaseSettings,
    *,
    injected_at: datetime | None = None,
    administered_gbq: float | None = None,
    prescribed_gbq: float | None = None,
    rules: Ruleset | None = None,
) -> LetterData:
    """Everything the discharge letter shows, for the case's cycle given at ``injected_at``.

    Without ``injected_at`` the case's last cycle is the one, and it must carry a time of
    day with a UTC offset; without ``administered_gbq`` that cycle's activity is used.
    The administered activity is checked against the plausible per-cycle range, and a
    deviation from ``prescribed_gbq`` beyond :data:`DEVIATION_WARNING_PERCENT` warns.
    The follow-up appointments are the plan under ``rules`` (the guideline as published
    when not given).
    """
    from lutetia.cases.model import day_of
    from lutetia.guideline.ruleset import EANM_SNMMI_2023
    from lutetia.guideline.schedule import schedule
    from lutetia.nuclides import nuclide
    from lutetia.protection.activity import check_therapy_time
    from lutetia.protection.clearance import check_cycle_activity
    from lutetia.reports.letter import LetterData

    cycles = case.course.cycles if case.course is not None else []
    cycle = cycles[-1] if cycles else None
    if injected_at is not None:
        match = [c for c in cycles if day_of(c.date) == injected_at.date()]
        cycle = match[0] if match else None
    elif cycle is not None and isinstance(cycle.date, datetime):
        injected_at = check_therapy_time(cycle.date, "--injected-at")
    else:
        raise BadInputError(
            "--injected-at",
            "needed: the case's last cycle has no time of day with an offset",
        )
    if administered_gbq is not None:
        administered = administered_gbq
        check_cycle_activity(administered, "--administered-gbq")
    elif cycle is not None:
        administered = cycle.activity_gbq
        check_cycle_activity(administered, f"course.cycles[{cycles.index(cycle)}].activity_gbq")
    else:
        raise BadInputError("--administered-gbq", "needed: no cycle of the case matches")
    if prescribed_gbq is not None:
        check_cycle_activity(prescribed_gbq, "--prescribed-gbq")
    result = release_advice_for(settings, injected_at, administered)
    deviation = (
        100 * (administered - prescribed_gbq) / prescribed_gbq
        if prescribed_gbq is not None
        else None
    )
    warnings: tuple[str, ...] = ()
    # Rounded so that 8.14 GBq for 7.4 GBq (10.000000000000002 % in binary) is on the edge.
    if deviation is not None and abs(round(deviation, 9)) > DEVIATION_WARNING_PERCENT:
        warnings = (f"administered activity deviates {deviation:+.1f} % from the prescription",)
    return LetterData(
        case=case,
        injected_at=injected_at,
        administered_gbq=administered,
        prescribed_gbq=prescribed_gbq,
        deviation_percent=deviation,
        activity_warnings=warnings,
        clearance=result.fits.preferred,
        discharge=result.discharge,
        restrictions=result.restrictions,
        treatments_per_year=settings.treatments_per_year,
        half_life_h=nuclide("Lu-177").half_life_h,
        cycle_number=cycle.number if cycle is not None else None,
        advice=result,
        follow_up=tuple(
            e
            for e in (schedule(case, rules or EANM_SNMMI_2023) if case.course is not None else [])
            if e.date > day_of(injected_at)
        ),
    )
