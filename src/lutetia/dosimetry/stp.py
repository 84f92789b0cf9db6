"""Single-time-point (STP) TIA estimates.

* Hänscheid H et al., J Nucl Med 2018;59:75-81: Ã ≈ A(t) · 2t / ln 2 — exact
  for a mono-exponential when t = T_eff or t = 2 T_eff; the ratio to the true
  TIA is 2x·2^{−x} with x = t/T_eff, within ± 10 % for about 0.7 ≤ x ≤ 2.6.
* Madsen MT et al., Med Phys 2018;45:2318-2324: Ã = A(t) · e^{λt} / λ with
  λ = ln 2 / T_eff from a population effective half-life.

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
HAENSCHEID_ACCURATE: Final[tuple[float, float]] = (0.7, 2.6)
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


def estimate(
    *,
    activity_mbq: float,
    time_h: float,
    method: Method,
    teff_h: float | None = None,
    region: str | None = None,
) -> StpEstimate:
    """STP TIA by Hänscheid 2018 or Madsen 2018, with reliability warnings."""
    if not (math.isfinite(activity_mbq) and activity_mbq >= 0):
        raise BadInputError("--activity-mbq", f"{activity_mbq!r} must be non-negative")
    if not (math.isfinite(time_h) and time_h > 0):
        raise BadInputError("--time-h", f"{time_h!r} must be a positive time")
    population = POPULATION_TEFF_H.get(region or "")
    if teff_h is None and population is not None:
        teff_h = population.median_h
    if teff_h is not None and not (math.isfinite(teff_h) and teff_h > 0):
        raise BadInputError("--teff-h", f"{teff_h!r} must be positive")
    warnings: list[str] = []
    if method == "haenscheid":
        tia = activity_mbq * 2 * time_h / math.log(2)
        if teff_h is not None:
            ratio = haenscheid_ratio(time_h, teff_h)
            low, high = HAENSCHEID_ACCURATE
            if not low <= time_h / teff_h <= high:
                warnings.append(
                    f"scan at {time_h:g} h is {time_h / teff_h:.2f} × T_eff ({teff_h:g} h): "
                    "outside "
                    f"{low}-{high} × T_eff the Hänscheid approximation errs by more than 10 % "
                    f"(here ×{ratio:.2f})"
                )
    elif method == "madsen":
        if teff_h is None:
            raise BadInputError(
                "--teff-h", "Madsen's method needs a population effective half-life (or --region)"
            )
        lam = math.log(2) / teff_h
        tia = activity_mbq * math.exp(lam * time_h) / lam
        if population is not None and population.low_h and population.high_h:
            errors = []
            for true in (population.low_h, population.high_h):
                true_lam = math.log(2) / true
                true_tia = activity_mbq * math.exp(true_lam * time_h) / true_lam
                errors.append(tia / true_tia - 1)
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
