"""Population dosimetry: the VISION sub-study values the guideline quotes, and planning.

Guideline, Dosimetry: absorbed doses after the first cycle in 29 patients of
the VISION dosimetry sub-study (reference 104 of the guideline): lacrimal
glands 2.1 ± 0.47, salivary glands 0.63 ± 0.36,
kidneys 0.43 ± 0.16, red marrow 0.035 ± 0.02 Gy/GBq (mean ± SD).

For a course, the per-cycle dose is D = d · A and the cumulative dose
Σ dᵢ Aᵢ. The spread is carried as the same per-GBq SD in every cycle (a
patient's kinetics repeat from cycle to cycle; perfectly correlated), so the
cumulative SD is SD · Σ Aᵢ. Six cycles of 7.4 GBq then give kidneys 19.1 ±
7.1 Gy and red marrow 1.55 ± 0.89 Gy, the guideline's "19 ± 7.3 Gy" and
"1.5 ± 0.9 Gy".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lutetia.dosimetry.bed import LIMITS, OrganLimit, bed_mono
from lutetia.errors import BadInputError

VISION_SOURCE: Final[str] = (
    "VISION dosimetry sub-study, first cycle, 29 patients, as quoted by the EANM/SNMMI "
    "guideline (2023), Dosimetry"
)


@dataclass(frozen=True)
class PerGbq:
    """Absorbed dose per administered activity, mean and SD (Gy/GBq)."""

    mean_gy_per_gbq: float
    sd_gy_per_gbq: float
    source: str = VISION_SOURCE


VISION: Final[dict[str, PerGbq]] = {
    "lacrimal_glands": PerGbq(2.1, 0.47),
    "salivary_glands": PerGbq(0.63, 0.36),
    "kidneys": PerGbq(0.43, 0.16),
    "red_marrow": PerGbq(0.035, 0.02),
}


@dataclass(frozen=True)
class OrganEstimate:
    """Per-cycle and cumulative absorbed dose of one organ for a course."""

    organ: str
    per_cycle_gy: tuple[float, ...]
    cumulative_gy: float
    cumulative_sd_gy: float
    source: str


def course_estimates(activities_gbq: Sequence[float]) -> list[OrganEstimate]:
    """Population absorbed doses for a course of ``activities_gbq``."""
    if not activities_gbq:
        raise BadInputError("--activity-gbq", "at least one cycle is needed")
    for i, activity in enumerate(activities_gbq):
        if not (math.isfinite(activity) and 0 < activity <= 50):
            raise BadInputError(f"activities[{i}]", f"{activity!r} GBq is not plausible")
    total = sum(activities_gbq)
    return [
        OrganEstimate(
            organ,
            tuple(value.mean_gy_per_gbq * a for a in activities_gbq),
            value.mean_gy_per_gbq * total,
            value.sd_gy_per_gbq * total,
            value.source,
        )
        for organ, value in VISION.items()
    ]


@dataclass(frozen=True)
class Plan:
    """How far a planned activity per cycle can go within the organ limits."""

    organ: str
    gy_per_gbq: float
    activity_gbq: float
    dose_per_cycle_gy: float
    bed_per_cycle_gy: float | None
    cycles_within_absorbed_limit: int
    cycles_within_bed_limit: int | None
    absorbed_limit: OrganLimit
    bed_limit: OrganLimit | None
    activity_for_target_gbq: float | None


def plan_cycles(
    *,
    organ: str,
    gy_per_gbq: float,
    activity_gbq: float,
    teff_h: float | None = None,
    risk_factors: bool = False,
    target_gy: float | None = None,
    alpha_beta_gy: float = 2.6,
    repair_h: float = 2.8,
    already_absorbed_gy: float = 0.0,
    already_bed_gy: float = 0.0,
) -> Plan:
    """Number of further cycles of ``activity_gbq`` that stay within the organ's limits.

    Cumulative absorbed dose and BED add over cycles; ``already_*`` count the
    cycles given. ``target_gy`` gives the activity per cycle that delivers that
    absorbed dose (A = D_target / d).
    """
    if organ not in ("kidneys", "red_marrow"):
        raise BadInputError("--organ", f"{organ!r}: limits are known for kidneys and red_marrow")
    if not (math.isfinite(gy_per_gbq) and gy_per_gbq > 0):
        raise BadInputError("--gy-per-gbq", f"{gy_per_gbq!r} must be positive")
    if not (math.isfinite(activity_gbq) and activity_gbq > 0):
        raise BadInputError("--activity-gbq", f"{activity_gbq!r} must be positive")
    per_cycle = gy_per_gbq * activity_gbq
    absorbed_limit = LIMITS["kidneys_absorbed" if organ == "kidneys" else "red_marrow_absorbed"]
    left = absorbed_limit.limit_gy - already_absorbed_gy
    cycles_absorbed = max(0, math.floor(left / per_cycle + 1e-12))
    bed_limit = None
    bed_cycle = None
    cycles_bed = None
    if organ == "kidneys" and teff_h is not None:
        bed_limit = LIMITS["kidneys_bed_risk" if risk_factors else "kidneys_bed"]
        bed_cycle = bed_mono(per_cycle, teff_h, alpha_beta_gy=alpha_beta_gy, repair_h=repair_h)
        cycles_bed = max(0, math.floor((bed_limit.limit_gy - already_bed_gy) / bed_cycle + 1e-12))
    target = None
    if target_gy is not None:
        if not (math.isfinite(target_gy) and target_gy > 0):
            raise BadInputError("--target-gy", f"{target_gy!r} must be positive")
        target = target_gy / gy_per_gbq
    return Plan(
        organ, gy_per_gbq, activity_gbq, per_cycle, bed_cycle, cycles_absorbed, cycles_bed,
        absorbed_limit, bed_limit, target,
    )  # fmt: skip
