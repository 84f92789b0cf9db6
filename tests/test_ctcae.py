"""CTCAE v5.0 grading, row by row from the published table.

Source: Common Terminology Criteria for Adverse Events v5.0 (NCI, 27 Nov
2017). Each case below sits just inside a grade's published range or on its
edge: "<10.0 - 8.0 g/dL" includes 10.0 in grade 1 and 8.0 in grade 2;
">3.0 - 5.0 x ULN" includes 3.0 × ULN in grade 1.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lutetia.clinical.ctcae import TERMS, grade
from lutetia.errors import BadInputError
from lutetia.units import Analyte

# (analyte, value, lln, expected grade) for the decreasing terms.
DECREASES = [
    # Anemia: <LLN-10.0; <10.0-8.0; <8.0 g/dL
    ("hemoglobin", 13.5, 13.0, 0),
    ("hemoglobin", 12.9, 13.0, 1),
    ("hemoglobin", 10.0, 13.0, 1),
    ("hemoglobin", 9.99, 13.0, 2),
    ("hemoglobin", 8.0, 13.0, 2),
    ("hemoglobin", 7.9, 13.0, 3),
    ("hemoglobin", 4.0, 13.0, 3),
    # White blood cell decreased: <LLN-3.0; <3.0-2.0; <2.0-1.0; <1.0
    ("wbc", 3.0, 4.0, 1),
    ("wbc", 2.9, 4.0, 2),
    ("wbc", 1.9, 4.0, 3),
    ("wbc", 0.9, 4.0, 4),
    # Neutrophil count decreased: <LLN-1.5; <1.5-1.0; <1.0-0.5; <0.5
    ("anc", 1.5, 2.0, 1),
    ("anc", 1.2, 2.0, 2),
    ("anc", 0.7, 2.0, 3),
    ("anc", 0.4, 2.0, 4),
    # Lymphocyte count decreased: <LLN-0.8; <0.8-0.5; <0.5-0.2; <0.2
    ("lymphocytes", 0.8, 1.0, 1),
    ("lymphocytes", 0.6, 1.0, 2),
    ("lymphocytes", 0.3, 1.0, 3),
    ("lymphocytes", 0.1, 1.0, 4),
    # Platelet count decreased: <LLN-75; <75-50; <50-25; <25
    ("platelets", 150.0, 150.0, 0),
    ("platelets", 75.0, 150.0, 1),
    ("platelets", 74.0, 150.0, 2),
    ("platelets", 50.0, 150.0, 2),
    ("platelets", 49.0, 150.0, 3),
    ("platelets", 24.0, 150.0, 4),
    # Hypoalbuminemia: <LLN-3; <3-2; <2 g/dL
    ("albumin", 3.4, 3.5, 1),
    ("albumin", 2.9, 3.5, 2),
    ("albumin", 1.9, 3.5, 3),
    # Chronic kidney disease: eGFR <LLN-60; 59-30; 29-15; <15
    ("egfr", 60.0, 90.0, 1),
    ("egfr", 59.0, 90.0, 2),
    ("egfr", 29.0, 90.0, 3),
    ("egfr", 14.0, 90.0, 4),
    ("creatinine_clearance", 25.0, 90.0, 3),
]


@pytest.mark.parametrize(("analyte", "value", "lln", "expected"), DECREASES)
def test_decreasing_terms(analyte: Analyte, value: float, lln: float, expected: int) -> None:
    assert grade(analyte, value, lln=lln).grade == expected


# (analyte, value, uln, expected) with a normal (or no) baseline.
INCREASES = [
    # AST/ALT increased: >ULN-3.0; >3.0-5.0; >5.0-20.0; >20.0 x ULN
    ("ast", 40, 40, 0),
    ("ast", 41, 40, 1),
    ("ast", 120, 40, 1),
    ("ast", 121, 40, 2),
    ("ast", 201, 40, 3),
    ("ast", 801, 40, 4),
    ("alt", 200, 40, 2),
    ("alt", 201, 40, 3),
    # Blood bilirubin increased: >ULN-1.5; >1.5-3.0; >3.0-10.0; >10.0 x ULN
    ("bilirubin", 1.5, 1.0, 1),
    ("bilirubin", 1.6, 1.0, 2),
    ("bilirubin", 3.1, 1.0, 3),
    ("bilirubin", 10.1, 1.0, 4),
    # Alkaline phosphatase increased: >ULN-2.5; >2.5-5.0; >5.0-20.0; >20.0 x ULN
    ("alp", 250, 100, 1),
    ("alp", 251, 100, 2),
    ("alp", 501, 100, 3),
    ("alp", 2001, 100, 4),
    # Creatinine increased: >ULN-1.5; >1.5-3.0; >3.0-6.0; >6.0 x ULN
    ("creatinine", 1.2, 1.2, 0),
    ("creatinine", 1.8, 1.2, 1),
    ("creatinine", 1.9, 1.2, 2),
    ("creatinine", 3.7, 1.2, 3),
    ("creatinine", 7.3, 1.2, 4),
]


@pytest.mark.parametrize(("analyte", "value", "uln", "expected"), INCREASES)
def test_increasing_terms(analyte: Analyte, value: float, uln: float, expected: int) -> None:
    assert grade(analyte, value, uln=uln).grade == expected


# Abnormal baseline (v5.0: "if baseline was abnormal"): multiples of baseline replace ULN.
ABNORMAL_BASELINE = [
    # AST: 1.5-3.0; >3.0-5.0; >5.0-20.0; >20.0 x baseline
    ("ast", 140, 40, 100, 0),
    ("ast", 150, 40, 100, 1),
    ("ast", 301, 40, 100, 2),
    ("ast", 501, 40, 100, 3),
    ("ast", 2001, 40, 100, 4),
    # bilirubin: >1.0-1.5; >1.5-3.0; >3.0-10.0; >10.0 x baseline
    ("bilirubin", 2.0, 1.0, 2.0, 0),
    ("bilirubin", 2.1, 1.0, 2.0, 1),
    ("bilirubin", 3.1, 1.0, 2.0, 2),
    # ALP: 2.0-2.5; >2.5-5.0; >5.0-20.0; >20.0 x baseline
    ("alp", 300, 100, 200, 0),
    ("alp", 400, 100, 200, 1),
    ("alp", 501, 100, 200, 2),
]


@pytest.mark.parametrize(("analyte", "value", "uln", "baseline", "expected"), ABNORMAL_BASELINE)
def test_abnormal_baseline(
    analyte: Analyte, value: float, uln: float, baseline: float, expected: int
) -> None:
    assert grade(analyte, value, uln=uln, baseline=baseline).grade == expected


def test_normal_baseline_keeps_uln_criteria() -> None:
    assert grade("ast", 121, uln=40, baseline=30).grade == 2


def test_creatinine_baseline_criteria_raise_the_grade() -> None:
    # 1.1 mg/dL is below ULN 1.2 but > 1.5 x baseline 0.7: grade 2 (">1.5 - 3.0 x baseline").
    assert grade("creatinine", 1.1, uln=1.2, baseline=0.7).grade == 2
    # > 3.0 x baseline: grade 3.
    assert grade("creatinine", 2.2, uln=1.2, baseline=0.7).grade == 3


def test_missing_lln_is_reported_not_assumed() -> None:
    result = grade("hemoglobin", 11.0)
    assert result.grade is None
    assert (result.lowest, result.highest) == (0, 1)
    assert result.missing == ("lln",)
    # Below the absolute grade-2 edge the LLN is not needed.
    assert grade("hemoglobin", 9.0).grade == 2


def test_missing_uln_leaves_increase_undecided() -> None:
    result = grade("ast", 300)
    assert result.grade is None
    assert "uln" in result.missing


def test_negative_value_rejected() -> None:
    with pytest.raises(BadInputError):
        grade("platelets", -1, lln=150)


def test_terms_are_ctcae_names() -> None:
    assert TERMS["anc"].name == "Neutrophil count decreased"
    assert TERMS["egfr"].name == "Chronic kidney disease"


_DECREASING: list[Analyte] = [
    "hemoglobin",
    "wbc",
    "anc",
    "lymphocytes",
    "platelets",
    "albumin",
    "egfr",
]
_INCREASING: list[Analyte] = ["ast", "alt", "bilirubin", "alp", "creatinine"]
_values = st.floats(min_value=0, max_value=5000, allow_nan=False)


@given(analyte=st.sampled_from(_DECREASING), a=_values, b=_values)
def test_grade_never_falls_as_a_count_falls(analyte: Analyte, a: float, b: float) -> None:
    lower, higher = sorted((a, b))
    lln = {"egfr": 90.0, "platelets": 150.0, "albumin": 3.5, "hemoglobin": 13.0}.get(analyte, 1.0)
    g_low = grade(analyte, lower, lln=lln).grade
    g_high = grade(analyte, higher, lln=lln).grade
    assert g_low is not None
    assert g_high is not None
    assert g_low >= g_high


@given(
    analyte=st.sampled_from(_INCREASING),
    a=_values,
    b=_values,
    baseline=st.none() | st.floats(min_value=0.1, max_value=500),
)
def test_grade_never_falls_as_a_value_rises(
    analyte: Analyte, a: float, b: float, baseline: float | None
) -> None:
    lower, higher = sorted((a, b))
    g_low = grade(analyte, lower, uln=40.0, baseline=baseline).grade
    g_high = grade(analyte, higher, uln=40.0, baseline=baseline).grade
    assert g_low is not None
    assert g_high is not None
    assert g_high >= g_low
