"""Single-time-point (STP) TIA estimates.

* Hänscheid H et al., J Nucl Med 2018;59:75-81: Ã ≈ A(t) · 2t / ln 2. For a
  mono-exponential A(t) = A₀ e^{−λt} the true TIA is A₀/λ = A₀ T_eff/ln 2, so the
  ratio of the estimate to the truth is f(x) = 2x·e^{−x ln 2} = 2x·2^{−x} with
  x = t/T_eff: exact at x = 1 and x = 2, at most +6.2 % (x = 1/ln 2), and
  within ± 10 % (f ≥ 0.9) only for 0.7644 ≤ x ≤ 2.4372 (roots of f(x) = 0.9;
  at x = 0.7 and x = 2.6 the error is −14 %).
* Madsen MT et al., Med Phys 2018;45:2318-2324: Ã = A(t) · e^{λt} / λ with
  λ = ln 2 / T_eff from a population effective half-life. Its sensitivity to
  T_eff is d ln Ã / d ln T_eff = 1 − λt: a scan many half-lives after
  injection magnifies any error of T_eff.

Population effective half-lives for [177Lu]Lu-PSMA-617 (median and range,
SPECT/CT at 4, 24, 48 and 72 h in 20 patients; "Normal-organ effective
half-lives for 177Lu-PSMA", AAPM 2026 Annual Meeting, abstract 2620):
kidneys 35.5 h (8.5–152.0), lungs 15.1 h, liver 22.9 h (12.9–63.4), spleen
16.8 h, parotid glands 42.2 h (18.9–160.8), bone marrow 32.0 h (5.9–160.8).
Hou X et al. (J Nucl Med 2021, PMC8882881) found STP errors largest for bone
marrow and tumours with 177Lu-PSMA and about 48 h p.i. the best single time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from lutetia.dosimetry.plausibility import (
    check_activity_mbq,
    check_teff,
    check_time,
    physical_half_life_h,
)
from lutetia.errors import BadInputError

Method = Literal["haenscheid", "madsen"]


@dataclass(frozen=True)
class PopulationHalfLife:
    """A population effective half-life with its spread and source."""

    median_h: float
    low_h: float | None
    high_h: float | None
    source: str


_AAPM_2026 = (
    "Normal-organ effective half-lives for 177Lu-PSMA (20 patients, SPECT/CT 4-72 h), "
    "AAPM 2026 Annual Meeting, abstract 2620"
)
POPULATION_TEFF_H: Final[dict[str, PopulationHalfLife]] = {
    "kidneys": PopulationHalfLife(35.5, 8.5, 152.0, _AAPM_2026),
    "lungs": PopulationHalfLife(15.1, 7.4, 160.8, _AAPM_2026),
    "liver": PopulationHalfLife(22.9, 12.9, 63.4, _AAPM_2026),
    "spleen": PopulationHalfLife(16.8, 9.3, 149.7, _AAPM_2026),
    "parotid_glands": PopulationHalfLife(42.2, 18.9, 160.8, _AAPM_2026),
    "bone_marrow": PopulationHalfLife(32.0, 5.9, 160.8, _AAPM_2026),
}
#: t/T_eff where Hänscheid's estimate is within ± 10 % of the true TIA of a mono-exponential:
#: roots of 2x·2^{−x} = 0.9 (0.76440, 2.43727), rounded inwards.
HAENSCHEID_WITHIN_10_PERCENT: Final[tuple[float, float]] = (0.7644, 2.4372)
#: Madsen: warn when a 10 % error of T_eff changes the TIA by more than this (|1 − λt| > 2).
MADSEN_MAX_SENSITIVITY: Final[float] = 2.0
UNRELIABLE_STP_REGIONS: Final[tuple[str, ...]] = ("bone_marrow", "tumor")


@dataclass(frozen=True)
class StpEstimate:
    """A single-time-point TIA and the warnings about its reliability."""

    tia_mbq_h: float
    method: Method
    teff_h: float | None
    warnings: tuple[str, ...]


def haenscheid_ratio(time_h: float, teff_h: float) -> float:
    """Ratio of the Hänscheid estimate to the true TIA for a mono-exponential: 2x·2^{−x}."""
    x = time_h / teff_h
    return 2 * x * 2 ** (-x)


def _madsen_tia(activity_mbq: float, time_h: float, teff_h: float) -> float:
    """A(t)·e^{λt}/λ, refusing a back-extrapolation beyond the floating-point range."""
    lam = math.log(2) / teff_h
    if activity_mbq == 0:
        return 0.0
    log_tia = math.log(activity_mbq) + lam * time_h - math.log(lam)
    if log_tia > 700:
        raise BadInputError(
            "--teff-h",
            f"a scan {time_h / teff_h:.3g} effective half-lives after injection cannot be "
            f"extrapolated back (factor 2^{time_h / teff_h:.3g})",
        )
    return math.exp(log_tia)


def estimate(
    *,
    activity_mbq: float,
    time_h: float,
    method: Method,
    teff_h: float | None = None,
    region: str | None = None,
) -> StpEstimate:
    """STP TIA by Hänscheid 2018 or Madsen 2018, with reliability warnings."""
    check_activity_mbq(activity_mbq, "--activity-mbq")
    check_time(time_h, "--time-h")
    if region is not None and region not in (*POPULATION_TEFF_H, *UNRELIABLE_STP_REGIONS):
        raise BadInputError("--region", f"{region!r} is not a known region")
    population = POPULATION_TEFF_H.get(region or "")
    if teff_h is not None:
        check_teff(teff_h)
    elif population is not None:
        teff_h = population.median_h
    warnings: list[str] = []
    if method == "haenscheid":
        tia = activity_mbq * 2 * time_h / math.log(2)
        low, high = HAENSCHEID_WITHIN_10_PERCENT
        if teff_h is None:
            warnings.append(
                "effective half-life unknown (no --teff-h and no population value for this "
                "region): the Hänscheid error cannot be bounded; it is within ± 10 % only for "
                f"{low:.3g} ≤ t/T_eff ≤ {high:.3g} (Hänscheid et al. 2018)"
            )
        else:
            ratio = haenscheid_ratio(time_h, teff_h)
            if not low <= time_h / teff_h <= high:
                warnings.append(
                    f"scan at {time_h:g} h is {time_h / teff_h:.3g} × T_eff ({teff_h:g} h): "
                    f"outside {low:.3g}–{high:.3g} × T_eff the Hänscheid approximation errs by "
                    f"more than 10 % (here {100 * (ratio - 1):+.0f} %, Hänscheid et al. 2018)"
                )
    elif method == "madsen":
        if teff_h is None:
            raise BadInputError(
                "--teff-h", "Madsen's method needs a population effective half-life (or --region)"
            )
        tia = _madsen_tia(activity_mbq, time_h, teff_h)
        x = time_h / teff_h
        sensitivity = abs(1 - math.log(2) * x)
        if sensitivity > MADSEN_MAX_SENSITIVITY:
            factor = f"{2**x:.3g}" if x < 1000 else f"2^{x:.3g}"
            warnings.append(
                f"scan at {x:.3g} × T_eff: the activity is extrapolated back by a factor "
                f"{factor}, and a 10 % error in T_eff changes the TIA by about "
                f"{10 * sensitivity:.3g} %"
            )
        if population is not None and population.low_h and population.high_h and tia > 0:
            errors = []
            # The published range reaches 160.8 h, above the physical half-life (measurement
            # noise); no true T_eff can exceed T_phys, so the range is capped there.
            for true in (population.low_h, min(population.high_h, physical_half_life_h())):
                errors.append(tia / _madsen_tia(activity_mbq, time_h, true) - 1)
            worst = max(errors, key=abs)
            if abs(worst) > 0.2:
                warnings.append(
                    f"for effective half-lives across the population range "
                    f"({population.low_h:g}-{population.high_h:g} h) this estimate can be off "
                    f"by {100 * worst:+.0f} % at {time_h:g} h (Hou et al. 2021)"
                )
    else:
        raise BadInputError("--method", f"{method!r} is not haenscheid or madsen")
    if region in UNRELIABLE_STP_REGIONS:
        warnings.append(
            f"single-time-point estimates are least reliable for {region.replace('_', ' ')} "
            "with 177Lu-PSMA (Hou et al., J Nucl Med 2021)"
        )
    if not 24 <= time_h <= 96:
        warnings.append(
            f"scan at {time_h:g} h: about 48 h p.i. is the best single time for 177Lu-PSMA "
            "(Hou et al. 2021)"
        )
    return StpEstimate(tia, method, teff_h, tuple(warnings))
