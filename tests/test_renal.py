"""eGFR (CKD-EPI 2021) and creatinine clearance (Cockcroft–Gault).

Reference values are computed by hand from the published equations:
CKD-EPI 2021, Inker LA et al., N Engl J Med 2021;385:1737-1749, Table 2;
Cockcroft DW, Gault MH, Nephron 1976;16:31-41, eq. 1. At Scr = κ both
creatinine terms are 1, so eGFR = 142 · 0.9938^age (· 1.012 for women).
"""

from __future__ import annotations

import pytest

from lutetia.clinical.renal import creatinine_clearance_cockcroft_gault, egfr_ckd_epi_2021
from lutetia.errors import BadInputError


@pytest.mark.parametrize(
    ("scr", "age", "sex", "expected"),
    [
        # Scr = κ: 142 · 0.9938^age (· 1.012)
        (0.9, 50, "male", 142 * 0.9938**50),
        (0.7, 50, "female", 142 * 0.9938**50 * 1.012),
        # above κ, male: 142 · (1.5/0.9)^-1.200 · 0.9938^70 = 49.8
        (1.5, 70, "male", 142 * (1.5 / 0.9) ** -1.2 * 0.9938**70),
        # below κ, female: 142 · (0.5/0.7)^-0.241 · 0.9938^40 · 1.012
        (0.5, 40, "female", 142 * (0.5 / 0.7) ** -0.241 * 0.9938**40 * 1.012),
    ],
)
def test_ckd_epi_2021(scr: float, age: float, sex: str, expected: float) -> None:
    assert egfr_ckd_epi_2021(scr, age, sex) == pytest.approx(expected, rel=1e-12)  # type: ignore[arg-type]


def test_ckd_epi_falls_with_creatinine_and_age() -> None:
    assert egfr_ckd_epi_2021(1.2, 60, "male") > egfr_ckd_epi_2021(1.3, 60, "male")
    assert egfr_ckd_epi_2021(1.2, 60, "male") > egfr_ckd_epi_2021(1.2, 61, "male")


def test_cockcroft_gault() -> None:
    # (140 − 60) · 72 / (72 · 1.0) = 80 mL/min; women × 0.85.
    assert creatinine_clearance_cockcroft_gault(1.0, 60, 72, "male") == pytest.approx(80.0)
    assert creatinine_clearance_cockcroft_gault(1.0, 60, 72, "female") == pytest.approx(68.0)


@pytest.mark.parametrize(("scr", "age"), [(0.0, 60), (-1.0, 60), (1.0, 12), (1.0, 150)])
def test_impossible_inputs(scr: float, age: float) -> None:
    with pytest.raises(BadInputError):
        egfr_ckd_epi_2021(scr, age, "male")
