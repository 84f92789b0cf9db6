"""Kidney function: eGFR by CKD-EPI 2021 and creatinine clearance by Cockcroft–Gault."""

from __future__ import annotations

import math
from typing import Literal

from lutetia.errors import BadInputError

Sex = Literal["male", "female"]


def _check(creatinine_mg_dl: float, age_years: float) -> None:
    if not (math.isfinite(creatinine_mg_dl) and creatinine_mg_dl > 0):
        raise BadInputError("creatinine", f"{creatinine_mg_dl!r} must be a positive number")
    if not (math.isfinite(age_years) and 18 <= age_years <= 120):
        raise BadInputError("age", f"{age_years!r} is outside 18-120 years (adult equations)")


def egfr_ckd_epi_2021(creatinine_mg_dl: float, age_years: float, sex: Sex) -> float:
    """eGFR (mL/min/1.73 m²) by the race-free CKD-EPI 2021 creatinine equation.

    eGFR = 142 · min(Scr/κ, 1)^α · max(Scr/κ, 1)^−1.200 · 0.9938^age · (1.012 if female),
    κ = 0.7 (female) or 0.9 (male), α = −0.241 (female) or −0.302 (male).
    Inker LA et al., N Engl J Med 2021;385:1737-1749, doi:10.1056/NEJMoa2102953,
    Table 2 ("2021 CKD-EPI creatinine equation").

    >>> round(egfr_ckd_epi_2021(0.9, 60, "male"), 1)
    97.8
    """
    _check(creatinine_mg_dl, age_years)
    if sex not in ("male", "female"):
        raise BadInputError("sex", f"{sex!r} must be 'male' or 'female'")
    female = sex == "female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = creatinine_mg_dl / kappa
    egfr = float(142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age_years)
    return egfr * 1.012 if female else egfr


def creatinine_clearance_cockcroft_gault(
    creatinine_mg_dl: float, age_years: float, weight_kg: float, sex: Sex
) -> float:
    """Creatinine clearance (mL/min) by Cockcroft–Gault.

    CrCl = (140 − age) · weight / (72 · Scr) · (0.85 if female).
    Cockcroft DW, Gault MH, Nephron 1976;16:31-41, doi:10.1159/000180580.

    >>> round(creatinine_clearance_cockcroft_gault(1.0, 60, 72, "male"), 6)
    80.0
    """
    _check(creatinine_mg_dl, age_years)
    if not (math.isfinite(weight_kg) and 20 <= weight_kg <= 400):
        raise BadInputError("weight_kg", f"{weight_kg!r} is outside 20-400 kg")
    if sex not in ("male", "female"):
        raise BadInputError("sex", f"{sex!r} must be 'male' or 'female'")
    clearance = (140.0 - age_years) * weight_kg / (72.0 * creatinine_mg_dl)
    return clearance * 0.85 if sex == "female" else clearance
