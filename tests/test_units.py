"""Unit conversions against the conventional clinical factors.

The factors are those printed in SI-unit conversion tables (e.g. Young DS,
"Implementation of SI units for clinical laboratory data", Ann Intern Med
1987;106:114-129, Table 1): creatinine 88.4 µmol/L per mg/dL, bilirubin
17.1 µmol/L per mg/dL, testosterone 0.0347 nmol/L per ng/dL, hemoglobin
0.6206 mmol/L per g/dL (monomer). Tolerances are 0.1 % of the value: the
printed factors carry three or four significant digits.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lutetia import units
from lutetia.errors import BadInputError


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        ("creatinine", 88.4, "umol/L", 1.0),
        ("creatinine", 1.0, "mg/dL", 1.0),
        ("creatinine", 88.4, "µmol/L", 1.0),
        ("bilirubin", 17.1, "umol/L", 1.0),
        ("testosterone", 1.0, "nmol/L", 1 / 0.0347),
        ("testosterone", 1.7, "nmol/L", 49.0),
        ("hemoglobin", 0.6206, "mmol/L", 1.0),
        ("hemoglobin", 118, "g/L", 11.8),
        ("platelets", 212, "/nL", 212.0),
        ("platelets", 212, "10*3/uL", 212.0),
        ("platelets", 212_000, "/uL", 212.0),
        ("anc", 3.2, "10^9/L", 3.2),
        ("psa", 84, "ug/L", 84.0),
        ("ast", 0.5, "ukat/L", 30.0),
        ("egfr", 61, "mL/min/1.73m2", 61.0),
        ("crp", 1.2, "mg/dL", 12.0),
    ],
)
def test_lab_conversion_matches_published_factor(
    analyte: units.Analyte, value: float, unit: str, expected: float
) -> None:
    assert units.convert_lab(analyte, value, unit, field="x") == pytest.approx(expected, rel=1e-3)


def test_whole_counts_convert_without_binary_noise() -> None:
    # 75 /nL must stay exactly 75 10*9/L at the platelet threshold.
    assert units.convert_lab("platelets", 75, "/nL", field="x") == 75.0
    assert units.convert_lab("platelets", 75_000, "/uL", field="x") == 75.0


@pytest.mark.parametrize(
    ("value", "unit", "expected_gbq"),
    [
        (200, "mCi", 7.4),
        (7400, "MBq", 7.4),
        (7.4e6, "kBq", 7.4),
        (7.4e9, "Bq", 7.4),
        (7.4, "GBq", 7.4),
    ],
)
def test_activity(value: float, unit: str, expected_gbq: float) -> None:
    # 1 mCi = 37 MBq exactly (1 Ci = 3.7e10 Bq, BIPM SI Brochure 8th ed. Table 10).
    assert units.activity_to_gbq(value, unit, field="a") == pytest.approx(expected_gbq, rel=1e-12)


def test_dose_rate() -> None:
    assert units.dose_rate_to_usv_per_h(0.02, "mSv/h", field="d") == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("analyte", "unit", "needle"),
    [
        ("hemoglobin", "foo", "unknown unit 'foo'"),
        ("hemoglobin", "mg", "cannot be converted"),
        ("platelets", "g/L", "cannot be converted"),
        ("creatinine", "", "a unit is required"),
    ],
)
def test_bad_unit_names_the_field(analyte: units.Analyte, unit: str, needle: str) -> None:
    with pytest.raises(BadInputError) as raised:
        units.convert_lab(analyte, 1.0, unit, field="labs[3].unit")
    assert raised.value.field == "labs[3].unit"
    assert needle in str(raised.value)


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_impossible_values_rejected(value: float) -> None:
    with pytest.raises(BadInputError, match="labs"):
        units.convert_lab("wbc", value, "10*9/L", field="labs[0].value")


def test_convert_lab_only_converts() -> None:
    """Range checks live in one place (lutetia.clinical.plausibility), not in the converter."""
    assert units.convert_lab("hemoglobin", 118, "g/L", field="labs[0]") == pytest.approx(11.8)
    assert not hasattr(units, "PLAUSIBLE_MAXIMUM")


_PAIRS = [
    ("g/dL", "g/L", None),
    ("g/dL", "mmol/L", units.MOLAR_MASSES["hemoglobin"].g_per_mol),
    ("mg/dL", "umol/L", units.MOLAR_MASSES["creatinine"].g_per_mol),
    ("ng/dL", "nmol/L", units.MOLAR_MASSES["testosterone"].g_per_mol),
    ("10*9/L", "/uL", None),
    ("10*3/uL", "/nL", None),
    ("ng/mL", "ug/L", None),
    ("GBq", "mCi", None),
    ("MBq", "kBq", None),
    ("uSv/h", "mSv/h", None),
]


@given(
    pair=st.sampled_from(_PAIRS),
    value=st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_conversions_round_trip(pair: tuple[str, str, float | None], value: float) -> None:
    source, target, molar = pair
    there = units.convert(value, source, target, field="x", molar_mass_g_per_mol=molar)
    back = units.convert(there, target, source, field="x", molar_mass_g_per_mol=molar)
    assert back == pytest.approx(value, rel=1e-9)


# --- the table of exact factors (no UCUM registry for the common units) --------------------

#: Every unit Lutetia converts to: the canonical units, and those of activity and dose rate.
_TARGETS = sorted({*units.CANONICAL_UNITS.values(), "GBq", "MBq", "mCi", "uSv/h"})
_MOLAR = [m.g_per_mol for m in units.MOLAR_MASSES.values()]
_KINDS = sorted({kind for kind, _ in units.KNOWN_UNITS.values()})


def _bases() -> list[str]:
    """One code of each kind in the table."""
    return [next(c for c, (k, _) in units.KNOWN_UNITS.items() if k == kind) for kind in _KINDS]


@pytest.mark.parametrize("code", sorted(units.KNOWN_UNITS))
def test_table_agrees_with_ucum_into_every_target(code: str) -> None:
    # The factor from the table equals the one pint/UCUM computes (both rounded to 12
    # significant digits), and the table says "cannot be converted" exactly where pint does.
    for target in _TARGETS:
        assert units._table_factor(code, target, None) == units._factor(code, target, None), target


@pytest.mark.parametrize("molar_mass", _MOLAR)
def test_table_agrees_with_ucum_across_mass_and_substance(molar_mass: float) -> None:
    codes = [c for c, (kind, _) in units.KNOWN_UNITS.items() if kind in ("mass", "substance")]
    for source in codes:
        for target in ("g/dL", "mg/dL", "ng/dL", "mmol/L", "umol/L", "nmol/L"):
            expected = units._factor(source, target, molar_mass)
            assert units._table_factor(source, target, molar_mass) == expected, (source, target)


def test_table_kinds_are_compatible_exactly_where_ucum_says() -> None:
    for molar_mass in (None, *_MOLAR):
        for source in _bases():
            for target in _bases():
                table = units._table_factor(source, target, molar_mass)
                assert table == units._factor(source, target, molar_mass), (source, target)


def test_unknown_spellings_still_go_to_ucum() -> None:
    # Not in the table, valid UCUM: answered by the registry, as before.
    assert units._table_factor("[IU]/L", "10*9/L", None) is False
    assert units.convert(1.0, "mmol/dL", "mmol/L", field="x") == pytest.approx(10.0)
    with pytest.raises(BadInputError, match="unknown unit 'furlong'"):
        units.convert(1.0, "furlong", "mg/dL", field="x")


def test_case_format_units_need_no_registry() -> None:
    # The units spec/case-format.md names, in the spellings of the examples.
    spellings = ["g/dL", "g/L", "mmol/L", "mg/dL", "µmol/L", "umol/L", "/nl", "/nL", "10*9/L",
                 "10^9/L", "/µL", "/uL", "10*3/uL", "U/L", "ukat/L", "ng/mL", "ug/L", "nmol/L",
                 "ng/dL", "mg/L", "mL/min", "mL/min/1.73m2", "mL/min/{1.73_m2}"]  # fmt: skip
    for spelling in spellings:
        assert units.normalize_ucum(spelling) in units.KNOWN_UNITS, spelling
