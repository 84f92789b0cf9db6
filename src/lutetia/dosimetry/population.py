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

Plans and courses carry warnings when a result is implausible: an activity
per cycle outside 1–15 GBq (the guideline's regimen is 7.4 GBq, 6–9.3 GBq in
practice; Procedure item 11), more than the 6 cycles of the approved regimen
(more only under patient-individual dosimetry; guideline, Dosimetry), or an
organ's Gy/GBq above the VISION mean + 3 SD.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lutetia.clinical.plausibility import ACTIVITY_PER_CYCLE_GBQ
from lutetia.dosimetry.bed import (
    KIDNEY_ALPHA_BETA_GY,
    KIDNEY_REPAIR_HALF_TIME_H,
    LIMITS,
    OrganLimit,
    bed_mono,
)
from lutetia.dosimetry.plausibility import (
    GY_PER_GBQ_RANGE,
    MAX_ACTIVITY_GBQ,
    MIN_ACTIVITY_GBQ,
    check_dose,
    check_range,
    check_teff,
)
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
#: Activity per cycle outside this range (GBq) is implausible for 177Lu-PSMA (the one band
#: of :data:`lutetia.clinical.plausibility.ACTIVITY_PER_CYCLE_GBQ`).
PLAUSIBLE_ACTIVITY_GBQ: Final[tuple[float, float]] = (
    ACTIVITY_PER_CYCLE_GBQ.low,
    ACTIVITY_PER_CYCLE_GBQ.high,
)
#: The approved regimen: 7.4 GBq per cycle, at most 6 cycles (guideline, Procedure item 11).
STANDARD_ACTIVITY_GBQ: Final[float] = 7.4
MAX_STANDARD_CYCLES: Final[int] = 6


def _activity_warning(activity_gbq: float, what: str) -> list[str]:
    low, high = PLAUSIBLE_ACTIVITY_GBQ
    if low <= activity_gbq <= high:
        return []
    return [
        f"{what} is {activity_gbq:.3g} GBq per cycle, implausible: outside {low:g}–{high:g} GBq "
        f"(the guideline's regimen is {STANDARD_ACTIVITY_GBQ:g} GBq, 6–9.3 GBq in practice; "
        "Procedure item 11)"
    ]


def _cycles_warning(cycles: int, what: str) -> list[str]:
    if cycles <= MAX_STANDARD_CYCLES:
        return []
    return [
        f"{what} {cycles} cycles, more than the {MAX_STANDARD_CYCLES} of the approved regimen "
        "(guideline, Procedure item 11); more cycles only under patient-individual dosimetry "
        "(guideline, Dosimetry)"
    ]


def course_warnings(activities_gbq: Sequence[float]) -> list[str]:
    """Why a course of ``activities_gbq`` is unusual (see the module docstring)."""
    warnings: list[str] = []
    cycles_of: dict[float, list[int]] = {}
    for number, activity in enumerate(activities_gbq, start=1):
        cycles_of.setdefault(activity, []).append(number)
    for activity, numbers in cycles_of.items():
        label = "cycle" if len(numbers) == 1 else "cycles"
        which = ", ".join(str(n) for n in numbers)
        warnings += _activity_warning(activity, f"the activity of {label} {which}")
    return warnings + _cycles_warning(len(activities_gbq), "the course has")


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
        if not (math.isfinite(activity) and 0 < activity <= MAX_ACTIVITY_GBQ):
            raise BadInputError(
                "--activity-gbq",
                f"cycle {i + 1}: {activity!r} GBq is not plausible (0–{MAX_ACTIVITY_GBQ:g} GBq)",
            )
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
    warnings: tuple[str, ...] = ()


def plan_cycles(
    *,
    organ: str,
    gy_per_gbq: float,
    activity_gbq: float,
    teff_h: float | None = None,
    risk_factors: bool = False,
    target_gy: float | None = None,
    alpha_beta_gy: float | None = None,
    repair_h: float | None = None,
    already_absorbed_gy: float = 0.0,
    already_bed_gy: float | None = None,
) -> Plan:
    """Number of further cycles of ``activity_gbq`` that stay within the organ's limits.

    Cumulative absorbed dose and BED add over cycles; ``already_*`` count the
    cycles given. ``target_gy`` gives the activity per cycle that delivers that
    absorbed dose (A = D_target / d).

    The kidney BED needs ``teff_h`` (BED_cycle = D(1 + G·D/(α/β)), G from T_eff
    and T_rep; :func:`~lutetia.dosimetry.bed.bed_mono`); ``risk_factors``,
    ``alpha_beta_gy``, ``repair_h`` and ``already_bed_gy`` only act through it
    and are refused without it rather than ignored. Without ``already_bed_gy``
    the BED already received is taken as at least ``already_absorbed_gy``
    (BED ≥ D), and a warning says the BED count is then an upper bound.
    """
    if organ not in ("kidneys", "red_marrow"):
        raise BadInputError("--organ", f"{organ!r}: limits are known for kidneys and red_marrow")
    check_range(gy_per_gbq, "--gy-per-gbq", *GY_PER_GBQ_RANGE, "Gy/GBq")
    check_range(activity_gbq, "--activity-gbq", MIN_ACTIVITY_GBQ, MAX_ACTIVITY_GBQ, "GBq")
    check_dose(already_absorbed_gy, "--already-gy")
    if already_bed_gy is not None:
        check_dose(already_bed_gy, "--already-bed-gy")
    if target_gy is not None:
        check_dose(target_gy, "--target-gy", positive=True)
    bed_inputs = {
        "--teff-h": teff_h, "--alpha-beta-gy": alpha_beta_gy, "--repair-h": repair_h,
        "--already-bed-gy": already_bed_gy, "--risk-factors": risk_factors or None,
    }  # fmt: skip
    if organ != "kidneys":
        for option, value in bed_inputs.items():
            if value is not None:
                raise BadInputError(option, "acts only on the kidney BED (--organ kidneys)")
    elif teff_h is None:
        for option, value in bed_inputs.items():
            if value is not None:
                raise BadInputError(
                    option,
                    "acts only on the kidney BED, which needs --teff-h (the kidney effective "
                    "half-life gives the Lea–Catcheside factor of each further cycle)",
                )
    warnings: list[str] = []
    per_cycle = gy_per_gbq * activity_gbq
    absorbed_limit = LIMITS["kidneys_absorbed" if organ == "kidneys" else "red_marrow_absorbed"]
    left = absorbed_limit.limit_gy - already_absorbed_gy
    cycles_absorbed = max(0, math.floor(left / per_cycle + 1e-12))
    if left <= 0:
        warnings.append(
            f"the {already_absorbed_gy:g} Gy already absorbed reaches the "
            f"{absorbed_limit.limit_gy:g} Gy limit: no further cycle stays within it"
        )
    bed_limit = None
    bed_cycle = None
    cycles_bed = None
    if organ == "kidneys" and teff_h is not None:
        check_teff(teff_h)
        bed_limit = LIMITS["kidneys_bed_risk" if risk_factors else "kidneys_bed"]
        bed_cycle = bed_mono(
            per_cycle, teff_h,
            alpha_beta_gy=KIDNEY_ALPHA_BETA_GY if alpha_beta_gy is None else alpha_beta_gy,
            repair_h=KIDNEY_REPAIR_HALF_TIME_H if repair_h is None else repair_h,
        )  # fmt: skip
        if already_bed_gy is None:
            already_bed = already_absorbed_gy
            if already_absorbed_gy > 0:
                warnings.append(
                    f"BED already received not given (--already-bed-gy): counted as the "
                    f"{already_absorbed_gy:g} Gy already absorbed, its lower bound (BED ≥ D), so "
                    "the cycles within the BED limit may be fewer"
                )
        elif already_bed_gy < already_absorbed_gy:
            raise BadInputError(
                "--already-bed-gy",
                f"{already_bed_gy:g} Gy is less than the {already_absorbed_gy:g} Gy already "
                "absorbed (--already-gy): a BED is never less than its absorbed dose",
            )
        else:
            already_bed = already_bed_gy
        cycles_bed = max(0, math.floor((bed_limit.limit_gy - already_bed) / bed_cycle + 1e-12))
    elif organ == "kidneys":
        warnings.append(
            "no kidney effective half-life (--teff-h): the kidney BED limit "
            f"({LIMITS['kidneys_bed'].limit_gy:g} Gy, {LIMITS['kidneys_bed_risk'].limit_gy:g} Gy "
            "with risk factors) is not checked"
        )
    target = None
    if target_gy is not None:
        target = target_gy / gy_per_gbq
        warnings += _activity_warning(target, f"the activity for the {target_gy:g} Gy target")
        if target_gy > max(left, 0.0):
            warnings.append(
                f"a target of {target_gy:g} Gy per cycle exceeds the {max(left, 0.0):g} Gy left "
                f"within the cumulative {absorbed_limit.limit_gy:g} Gy limit of the "
                f"{organ.replace('_', ' ')}"
            )
    warnings += _activity_warning(activity_gbq, "the planned activity")
    cycles = min(c for c in (cycles_absorbed, cycles_bed) if c is not None)
    warnings += _cycles_warning(cycles, "the limits allow")
    reference = VISION[organ]
    ceiling = round(reference.mean_gy_per_gbq + 3 * reference.sd_gy_per_gbq, 9)
    if gy_per_gbq > ceiling:
        warnings.append(
            f"{gy_per_gbq:g} Gy/GBq is above the VISION mean + 3 SD for the "
            f"{organ.replace('_', ' ')} ({ceiling:.3g} Gy/GBq): check the value"
        )
    return Plan(
        organ, gy_per_gbq, activity_gbq, per_cycle, bed_cycle, cycles_absorbed, cycles_bed,
        absorbed_limit, bed_limit, target, tuple(warnings),
    )  # fmt: skip
