"""Biologically effective dose (BED) with incomplete repair, and organ limits.

For a dose rate Ḋ(t) = Σᵢ aᵢ e^{−λᵢt} (mono-, bi-exponential or
uptake–washout kinetics) and mono-exponential repair with μ = ln 2 / T_rep,
the Lea–Catcheside factor is

    G = (2/D²) Σᵢ Σⱼ aᵢ aⱼ / ((λᵢ + λⱼ)(λᵢ + μ)),   D = Σᵢ aᵢ/λᵢ,

and BED = D + G·D²/(α/β) (Dale RG, Br J Radiol 1985;58:515-528; for
mono-exponential kinetics G = λ/(λ + μ), Baechler S et al., J Nucl Med
2008;49:1966-1974 eq. 2). Defaults for kidneys: α/β = 2.6 Gy, T_rep = 2.8 h
(Barone R et al., J Nucl Med 2005;46 Suppl 1:99S-106S). Cycles weeks apart
add: BED_total = Σ BED_cycle.

For mono-exponential kinetics G = λ/(λ + μ) = T_rep/(T_rep + T_eff), the form
used here: it stays finite for any positive half-lives. Inputs are checked by
:mod:`lutetia.dosimetry.plausibility`: T_eff ≤ T_phys, 0 ≤ D ≤ 10 kGy and
0.1 ≤ α/β ≤ 100 Gy, which keep D²/(α/β) finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lutetia.dosimetry.plausibility import (
    ALPHA_BETA_RANGE_GY,
    check_dose,
    check_range,
    check_teff,
    require_finite,
)
from lutetia.errors import BadInputError

KIDNEY_ALPHA_BETA_GY: Final[float] = 2.6
KIDNEY_REPAIR_HALF_TIME_H: Final[float] = 2.8


def lea_catcheside_g(
    amplitudes: Sequence[float], lambdas: Sequence[float], repair_h: float
) -> float:
    """G for Ḋ(t) = Σ aᵢ e^{−λᵢt} and repair half-time ``repair_h``."""
    if not (math.isfinite(repair_h) and repair_h > 0):
        raise BadInputError("--repair-h", f"{repair_h!r} must be positive")
    mu = math.log(2) / repair_h
    dose = sum(a / lam for a, lam in zip(amplitudes, lambdas, strict=True))
    if dose <= 0:
        raise BadInputError("--dose-gy", "the dose must be positive")
    total = 0.0
    for ai, li in zip(amplitudes, lambdas, strict=True):
        for aj, lj in zip(amplitudes, lambdas, strict=True):
            total += ai * aj / ((li + lj) * (li + mu))
    return require_finite(2.0 * total / dose**2, "G")


def bed_mono(dose_gy: float, teff_h: float, *, alpha_beta_gy: float = KIDNEY_ALPHA_BETA_GY,
             repair_h: float = KIDNEY_REPAIR_HALF_TIME_H) -> float:  # fmt: skip
    """BED = D (1 + D/(α/β) · T_rep/(T_rep + T_eff)) for mono-exponential kinetics.

    >>> round(bed_mono(10.0, 40.0), 4)
    12.5162
    """
    _check(dose_gy, teff_h, alpha_beta_gy, repair_h)
    g = repair_h / (repair_h + teff_h)
    return require_finite(dose_gy + g * dose_gy**2 / alpha_beta_gy, "bed_gy")


def bed_from_rates(amplitudes_gy_h: Sequence[float], lambdas_per_h: Sequence[float], *,
                   alpha_beta_gy: float = KIDNEY_ALPHA_BETA_GY,
                   repair_h: float = KIDNEY_REPAIR_HALF_TIME_H) -> float:  # fmt: skip
    """BED for a dose rate that is a sum of exponentials (Gy/h amplitudes, 1/h constants)."""
    if any(not (math.isfinite(lam) and lam > 0) for lam in lambdas_per_h):
        raise BadInputError("lambdas", "decay constants must be positive")
    dose = sum(a / lam for a, lam in zip(amplitudes_gy_h, lambdas_per_h, strict=True))
    check_dose(dose, "dose_gy")
    check_range(alpha_beta_gy, "--alpha-beta-gy", *ALPHA_BETA_RANGE_GY, "Gy")
    g = lea_catcheside_g(amplitudes_gy_h, lambdas_per_h, repair_h)
    return require_finite(dose + g * dose**2 / alpha_beta_gy, "bed_gy")


def _check(dose_gy: float, teff_h: float, alpha_beta_gy: float, repair_h: float) -> None:
    check_dose(dose_gy, "--dose-gy")
    check_teff(teff_h)
    check_range(alpha_beta_gy, "--alpha-beta-gy", *ALPHA_BETA_RANGE_GY, "Gy")
    if not (math.isfinite(repair_h) and repair_h > 0):
        raise BadInputError("--repair-h", f"{repair_h!r} must be a positive repair half-time (h)")


@dataclass(frozen=True)
class OrganLimit:
    """A dose limit with its source."""

    organ: str
    quantity: str
    limit_gy: float
    source: str


LIMITS: Final[dict[str, OrganLimit]] = {
    "kidneys_absorbed": OrganLimit(
        "kidneys", "absorbed dose", 23.0,
        "EBRT tolerance TD5/5 for the whole kidney (Emami B et al., Int J Radiat Oncol Biol "
        "Phys 1991;21:109-122)",
    ),
    "kidneys_bed": OrganLimit(
        "kidneys", "BED", 40.0,
        "PRRT kidney BED without risk factors (Bodei L et al., Eur J Nucl Med Mol Imaging "
        "2008;35:1847-1856)",
    ),
    "kidneys_bed_risk": OrganLimit(
        "kidneys", "BED", 28.0,
        "PRRT kidney BED with risk factors (hypertension, diabetes, prior nephrotoxic "
        "chemotherapy, reduced renal function; Bodei L et al. 2008)",
    ),
    "red_marrow_absorbed": OrganLimit(
        "red marrow", "absorbed dose", 2.0,
        "conventional red-marrow limit in radionuclide therapy, from the 2 Gy blood limit "
        "of Benua RS et al., Am J Roentgenol 1962;87:171-182",
    ),
}  # fmt: skip


#: Regions whose measured dose is checked against the kidney limits.
KIDNEY_REGIONS: Final[tuple[str, ...]] = ("kidneys", "kidney_left", "kidney_right")


@dataclass(frozen=True)
class CourseCheck:
    """One cycle's measured kidney absorbed dose and BED against the course limits: the
    totals with the cycles already given, and how many further cycles like this one stay
    within both limits."""

    absorbed_gy: float
    bed_gy: float
    absorbed_total_gy: float
    bed_total_gy: float
    absorbed_limit: OrganLimit
    bed_limit: OrganLimit
    further_cycles: int
    warnings: tuple[str, ...]


def check_already_given(already_gy: float, already_bed_gy: float | None) -> None:
    """The kidney absorbed dose and BED of the cycles already given: doses (≥ 0, finite,
    in Gy), and a BED not less than its absorbed dose."""
    check_dose(already_gy, "--kidney-already-gy")
    if already_bed_gy is not None:
        check_dose(already_bed_gy, "--kidney-already-bed-gy")
        if already_bed_gy < already_gy:
            raise BadInputError(
                "--kidney-already-bed-gy",
                f"{already_bed_gy:g} Gy is less than the {already_gy:g} Gy already absorbed "
                "(--kidney-already-gy): a BED is never less than its absorbed dose",
            )


def kidney_course_check(
    absorbed_gy: float,
    bed_gy: float,
    *,
    already_gy: float = 0.0,
    already_bed_gy: float | None = None,
    risk_factors: bool = False,
) -> CourseCheck:
    """Add this cycle's kidney absorbed dose and BED to those of the cycles already given
    and compare the totals with the limits (:data:`LIMITS`; BED 28 Gy with risk factors).

    Cycles weeks apart add (module docstring). Without ``already_bed_gy`` the BED already
    received is taken as ``already_gy``, its lower bound (BED ≥ D), and a warning says so.
    ``further_cycles``: how many more cycles with this cycle's dose and BED keep both totals
    within their limits.
    """
    check_dose(absorbed_gy, "absorbed_gy")
    check_dose(bed_gy, "bed_gy")
    check_already_given(already_gy, already_bed_gy)
    if bed_gy < absorbed_gy * (1 - 1e-12):
        raise BadInputError("bed_gy", f"{bed_gy:g} Gy is less than the absorbed {absorbed_gy:g} Gy")
    warnings: list[str] = []
    if already_bed_gy is None:
        already_bed = already_gy
        if already_gy > 0:
            warnings.append(
                f"kidney BED already received not given (--kidney-already-bed-gy): counted as "
                f"the {already_gy:g} Gy already absorbed, its lower bound (BED ≥ D), so the "
                "BED total may be higher"
            )
    else:
        already_bed = already_bed_gy
    absorbed_limit = LIMITS["kidneys_absorbed"]
    bed_limit = LIMITS["kidneys_bed_risk" if risk_factors else "kidneys_bed"]
    absorbed_total = already_gy + absorbed_gy
    bed_total = already_bed + bed_gy
    for total, limit in ((absorbed_total, absorbed_limit), (bed_total, bed_limit)):
        if total > limit.limit_gy:
            warnings.append(
                f"the cumulative kidney {limit.quantity} {total:.3g} Gy exceeds the "
                f"{limit.limit_gy:g} Gy limit ({limit.source})"
            )
    further = [
        math.floor((limit.limit_gy - total) / per_cycle + 1e-12) if per_cycle > 0 else 10**9
        for total, limit, per_cycle in (
            (absorbed_total, absorbed_limit, absorbed_gy),
            (bed_total, bed_limit, bed_gy),
        )
    ]
    return CourseCheck(
        absorbed_gy, bed_gy, absorbed_total, bed_total, absorbed_limit, bed_limit,
        max(0, min(further)), tuple(warnings),
    )  # fmt: skip
