"""Plausibility of lab results, reference limits, eGFR and activities (issue 9).

The bounds are limits of what a living adult can have (not reference ranges); every
bound is tested at, just inside and just outside. The unit mix-ups are the ones the
issue reports: creatinine in µmol/L labelled mg/dL (and the reverse), a bilirubin ULN
in µmol/L next to a value in mg/dL, an activity in MBq or mCi entered as GBq.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lutetia.clinical import plausibility as p
from lutetia.clinical.renal import egfr_ckd_epi_2021
from lutetia.errors import BadInputError
from lutetia.units import ANALYTES, CANONICAL_UNITS, Analyte

PARTS = ("value", "lln", "uln")


def _check(analyte: Analyte, part: str, canonical: float) -> None:
    """``check_lab`` with ``canonical`` (in the canonical unit) as ``part``."""
    unit = CANONICAL_UNITS[analyte]
    row = p.LAB_PLAUSIBILITY[analyte]
    value = canonical if part == "value" else row.value.high
    lln = canonical if part == "lln" else None
    uln = canonical if part == "uln" else None
    p.check_lab(analyte, value, unit, lln=lln, uln=uln)


def test_every_analyte_has_a_row_with_a_source() -> None:
    assert set(p.LAB_PLAUSIBILITY) == set(ANALYTES)
    assert set(p.ALTERNATIVE_UNITS) == set(ANALYTES)
    for analyte, row in p.LAB_PLAUSIBILITY.items():
        for band in (row.value, row.lln, row.uln):
            assert 0 <= band.low < band.high, analyte
        # Reference limits of real laboratories are results a person can have.
        assert row.value.low <= row.lln.low, analyte
        assert row.uln.high <= row.value.high, analyte
        assert row.lln.low < row.uln.high, analyte
        assert len(row.basis) > 40, analyte
        assert CANONICAL_UNITS[analyte] in p.ALTERNATIVE_UNITS[analyte], analyte


@pytest.mark.parametrize("analyte", ANALYTES)
def test_alternative_units_convert(analyte: Analyte) -> None:
    for unit in p.ALTERNATIVE_UNITS[analyte]:
        assert p.to_canonical(analyte, 1.0, unit, field="unit") > 0


@pytest.mark.parametrize(
    "analyte", ["creatinine", "egfr", "gfr_measured", "creatinine_clearance", "hemoglobin"]
)
def test_zero_is_impossible_where_it_is(analyte: Analyte) -> None:
    assert p.LAB_PLAUSIBILITY[analyte].value.low > 0
    with pytest.raises(BadInputError) as raised:
        _check(analyte, "value", 0.0)
    assert raised.value.field == "value"


@pytest.mark.parametrize(
    "analyte", ["anc", "wbc", "lymphocytes", "platelets", "psa", "crp", "testosterone"]
)
def test_true_zeros_are_accepted(analyte: Analyte) -> None:
    _check(analyte, "value", 0.0)


@pytest.mark.parametrize(("analyte", "part"), [(a, part) for a in ANALYTES for part in PARTS])
def test_each_bound_at_inside_and_outside(analyte: Analyte, part: str) -> None:
    band = getattr(p.LAB_PLAUSIBILITY[analyte], part)
    step = 1e-9 * max(band.high, 1.0)
    for inside in (band.low, band.low + step, band.high - step, band.high):
        _check(analyte, part, inside)
    outside = [band.high + step] + ([band.low - step] if band.low - step >= 0 else [])
    for number in outside:
        with pytest.raises(BadInputError) as raised:
            _check(analyte, part, number)
        assert raised.value.field == part


def test_creatinine_in_umol_labelled_mg_dl() -> None:
    with pytest.raises(BadInputError) as raised:
        p.check_lab("creatinine", 88, "mg/dL")
    assert raised.value.field == "value"
    assert "above" in raised.value.reason
    assert "was it in umol/L?" in raised.value.reason


def test_creatinine_in_mg_dl_labelled_umol() -> None:
    # 0.9 mg/dL written with µmol/L: 0.0102 mg/dL, CKD-EPI would give ~340 at age 60.
    with pytest.raises(BadInputError) as raised:
        p.check_lab("creatinine", 0.9, "umol/L")
    assert raised.value.field == "value"
    assert "below" in raised.value.reason
    assert "was it in mg/dL?" in raised.value.reason


def test_bilirubin_uln_in_another_unit_than_its_value() -> None:
    # The case: bilirubin 3.5 mg/dL with ULN 21 (µmol/L, the ULN of 1.2 mg/dL).
    with pytest.raises(BadInputError) as raised:
        p.check_lab("bilirubin", 3.5, "mg/dL", uln=21)
    assert raised.value.field == "uln"
    assert "was it in umol/L?" in raised.value.reason
    assert "uln must be in the unit of value (mg/dL)" in raised.value.reason
    # And the reverse: value and ULN in µmol/L, LLN copied from a mg/dL report.
    with pytest.raises(BadInputError) as raised:
        p.check_lab("creatinine", 88, "umol/L", lln=0.6, uln=106)
    assert raised.value.field == "lln"
    assert "was it in mg/dL?" in raised.value.reason


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "hint"),
    [
        ("hemoglobin", 118, "g/dL", "g/L"),
        ("platelets", 212_000, "10*9/L", "/uL"),
        ("albumin", 38, "g/dL", "g/L"),
        ("wbc", 5100, "10*9/L", "/uL"),
    ],
)
def test_value_mix_ups_name_the_likely_unit(
    analyte: Analyte, value: float, unit: str, hint: str
) -> None:
    with pytest.raises(BadInputError) as raised:
        p.check_lab(analyte, value, unit)
    assert raised.value.field == "value"
    assert f"was it in {hint}" in raised.value.reason


def test_check_lab_returns_canonical_values() -> None:
    value, lln, uln = p.check_lab("creatinine", 88, "umol/L", uln=106)
    assert value == pytest.approx(88 / 88.4, rel=1e-3)
    assert lln is None
    assert uln == pytest.approx(106 / 88.4, rel=1e-3)


def test_egfr_maximum_at_and_above() -> None:
    p.check_computed_egfr(p.EGFR_MAXIMUM, note="creatinine")
    p.check_computed_egfr(199.999, note="creatinine")
    for above in (200.001, math.inf, math.nan):
        with pytest.raises(BadInputError) as raised:
            p.check_computed_egfr(above, note="creatinine 0.1 mg/dL")
        assert raised.value.field == "value"
        assert "creatinine 0.1 mg/dL gives an eGFR" in raised.value.reason


def test_egfr_maximum_is_above_every_hyperfiltration_threshold() -> None:
    # Cachat et al. 2015: thresholds of hyperfiltration ranged 90.7-175 mL/min/1.73 m².
    assert p.EGFR_MAXIMUM > 175
    assert p.LAB_PLAUSIBILITY["egfr"].value.high == p.EGFR_MAXIMUM


@given(
    st.floats(min_value=0.1, max_value=40.0),
    st.integers(min_value=18, max_value=120),
    st.sampled_from(["male", "female"]),
)
def test_plausible_creatinine_gives_positive_finite_egfr(
    creatinine: float, age: int, sex: str
) -> None:
    """No plausible creatinine gives eGFR 0 (the eGFR-loss rule divides by it)."""
    egfr = egfr_ckd_epi_2021(creatinine, age, sex)  # type: ignore[arg-type]
    assert math.isfinite(egfr)
    assert egfr > 0.5


@pytest.mark.parametrize("activity", [1.0, 1.0001, 4.74, 7.4, 9.3, 14.999, 15.0])
def test_activity_within_bounds(activity: float) -> None:
    assert p.check_activity_gbq(activity) == activity


@pytest.mark.parametrize(
    ("activity", "hint"),
    [
        (0.0, ""),
        (0.999, ""),
        (15.001, ""),
        (49.9, ""),  # 1.85 GBq if mCi: not a usual activity, so no unit is suggested
        (7400.0, "was it in MBq (7.4 GBq)?"),
        (200.0, "was it in mCi (7.4 GBq)?"),
        (math.inf, ""),
        (math.nan, ""),
    ],
)
def test_activity_outside_bounds(activity: float, hint: str) -> None:
    with pytest.raises(ValueError, match="outside the plausible activity of one cycle") as raised:
        p.check_activity_gbq(activity)
    if hint:
        assert hint in str(raised.value)
    else:
        assert "was it in" not in str(raised.value)
