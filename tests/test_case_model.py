"""The ``lutetia.case/1`` model: the specification's example, YAML, and bad input.

The spec's example dates cycle 1 and its adverse events after its own ``as_of``
and is rejected; the tests here start from the same case with ``as_of`` moved to
2026-04-02 (after cycle 1 and both events, before the planned cycle 2).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from lutetia.cases.io import case_from_mapping, load_case
from lutetia.errors import BadInputError
from tests.conftest import EXAMPLES, shared_spec

CONSISTENT_AS_OF = "2026-04-02"


@pytest.fixture
def case_dict(spec_case: dict[str, Any]) -> dict[str, Any]:
    """The spec's example with ``as_of`` after everything it records (see module docstring)."""
    spec_case["as_of"] = CONSISTENT_AS_OF
    return spec_case


def test_bundled_example_is_the_spec_example() -> None:
    spec = shared_spec("case-format.md").read_text()
    block = re.search(r"```json\n(\{\n  \"schema\": \"lutetia.case/1\".*?)\n```", spec, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == json.loads((EXAMPLES / "spec-example.json").read_text())


def test_spec_example_is_rejected_by_the_model_itself(spec_case: dict[str, Any]) -> None:
    """Chronology is part of the model: ``Case.model_validate`` refuses the spec's example."""
    from pydantic import ValidationError

    from lutetia.cases.model import Case

    with pytest.raises(ValidationError, match=r"course\.cycles\[0\]\.date: 2026-03-03 is after"):
        Case.model_validate(spec_case)
    with pytest.raises(BadInputError) as raised:
        case_from_mapping(spec_case)
    assert raised.value.field == "course.cycles[0].date"


def test_spec_example_loads_and_converts(case_dict: dict[str, Any]) -> None:
    case = case_from_mapping(case_dict)
    labs = {lab.analyte: lab for lab in case.labs}
    assert labs["creatinine"].canonical_value == pytest.approx(88 / 88.4, rel=1e-3)
    assert labs["creatinine"].canonical_uln == pytest.approx(106 / 88.4, rel=1e-3)
    assert labs["testosterone"].canonical_value == pytest.approx(0.4 / 0.0347, rel=1e-3)
    assert case.treatments[0].treatment_class == "naad"
    assert case.consent.signed_at is not None
    assert isinstance(case.consent.signed_at, datetime)
    assert case.consent.signed_at.utcoffset() is not None
    assert case.age_years() == 73


def test_yaml_is_equivalent(tmp_path: Path, case_dict: dict[str, Any]) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(case_dict))
    assert load_case(path) == case_from_mapping(case_dict)


def test_yaml_native_dates_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "case.yml"
    path.write_text(
        "schema: lutetia.case/1\nas_of: 2026-03-02\npatient: {id: p1}\n"
        "consent: {signed_at: 2026-03-01T09:00:00+01:00}\n"
    )
    case = load_case(path)
    assert case.consent.signed_at is not None


Mutation = Callable[[dict[str, Any]], None]

BAD: list[tuple[str, Mutation, str, str]] = [
    ("unknown unit", lambda d: d["labs"][3].update(unit="foo"), "labs[3].unit", "unknown unit"),
    ("typo", lambda d: d["labs"][3].update(unti="g"), "labs[3].unti", "unknown field"),
    ("negative count", lambda d: d["labs"][1].update(value=-2), "labs[1].value", "negative"),
    ("ECOG 7", lambda d: d["performance"].update(ecog=7), "performance.ecog", "4"),
    (
        "naive datetime",
        lambda d: d["consent"].update(signed_at="2026-03-01T09:00:00"),
        "consent.signed_at",
        "UTC offset",
    ),
    ("lab after as_of", lambda d: d["labs"][0].update(date="2026-04-03"), "labs[0].date", "after"),
    (
        "scan after as_of",
        lambda d: d["psma_pet"].update(date="2026-04-03"),
        "psma_pet.date",
        "after",
    ),
    (
        "treatment after as_of",
        lambda d: d["treatments"][0].update(start="2027-01-01", end=None),
        "treatments[0].start",
        "after",
    ),
    ("bad class", lambda d: d["treatments"][0].update({"class": "nad"}), "treatments[0].class", ""),
    ("no id", lambda d: d["patient"].pop("id"), "patient.id", "missing"),
    ("wrong schema", lambda d: d.update(schema="lutetia.case/2"), "schema", "lutetia.case/1"),
    (
        "zero activity",
        lambda d: d["course"]["cycles"][0].update(activity_gbq=0),
        "course.cycles[0].activity_gbq",
        "",
    ),
    ("unit mix-up", lambda d: d["labs"][0].update(value=118), "labs[0].value", "g/L?"),
    (
        "cycle numbering",
        lambda d: d["course"]["cycles"][0].update(number=2),
        "course.cycles[0].number",
        "expected 1",
    ),
    (
        "planned before last cycle",
        lambda d: d["course"].update(planned_date="2026-03-01"),
        "course.planned_date",
        "not after",
    ),
    ("bad date", lambda d: d.update(as_of="02/03/2026"), "as_of", ""),
    ("lln above uln", lambda d: d["labs"][4].update(lln=200), "labs[4].lln", "not below"),
]


@pytest.mark.parametrize(("label", "mutate", "path", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(
    case_dict: dict[str, Any], label: str, mutate: Mutation, path: str, needle: str
) -> None:
    data = copy.deepcopy(case_dict)
    mutate(data)
    with pytest.raises(BadInputError) as raised:
        case_from_mapping(data)
    assert raised.value.field == path, label
    assert needle in raised.value.reason


def test_extensions_take_anything(case_dict: dict[str, Any]) -> None:
    case_dict["extensions"] = {"site": {"ward": "B2", "anything": [1, 2, None, True, 1.5]}}
    assert case_from_mapping(case_dict).extensions["site"]["ward"] == "B2"


def test_malformed_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "lutetia.case/1",')
    with pytest.raises(BadInputError, match="malformed JSON at line 1"):
        load_case(broken)
    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("schema: [unclosed\n")
    with pytest.raises(BadInputError, match="malformed YAML"):
        load_case(bad_yaml)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(BadInputError, match="one object"):
        load_case(listing)
    with pytest.raises(BadInputError, match="no such file"):
        load_case(tmp_path / "absent.json")


def rejected(data: dict[str, Any]) -> BadInputError:
    """The error ``case_from_mapping`` raises for ``data`` (fails the test if it accepts)."""
    with pytest.raises(BadInputError) as raised:
        case_from_mapping(data)
    return raised.value


# --- Strict types (issue 9: `true` was read as 1 and "no" as false) --------------------

STRICT: list[tuple[str, Mutation, str, str]] = [
    ("bool as int", lambda d: d["performance"].update(ecog=True), "performance.ecog", "got true"),
    ("float as int", lambda d: d["performance"].update(ecog=1.0), "performance.ecog", "1.0"),
    ("string as int", lambda d: d["performance"].update(ecog="1"), "performance.ecog", "'1'"),
    (
        "string as bool",
        lambda d: d["diagnosis"].update(metastatic="no"),
        "diagnosis.metastatic",
        "the string 'no'",
    ),
    ("int as bool", lambda d: d["diagnosis"].update(metastatic=0), "diagnosis.metastatic", "0"),
    ("bool as float", lambda d: d["labs"][0].update(value=True), "labs[0].value", "got true"),
    ("string as float", lambda d: d["labs"][0].update(value="11.8"), "labs[0].value", "'11.8'"),
    (
        "float cycle number",
        lambda d: d["course"]["cycles"][0].update(number=1.0),
        "course.cycles[0].number",
        "integer",
    ),
    (
        "bool activity",
        lambda d: d["course"]["cycles"][0].update(activity_gbq=True),
        "course.cycles[0].activity_gbq",
        "got true",
    ),
    (
        "string flag",
        lambda d: d["course"].update(individual_dosimetry="yes"),
        "course.individual_dosimetry",
        "boolean",
    ),
    ("number as id", lambda d: d["patient"].update(id=17), "patient.id", "string"),
    ("number as date", lambda d: d.update(as_of=20260402), "as_of", "ISO 8601"),
]


@pytest.mark.parametrize(("label", "mutate", "path", "needle"), STRICT, ids=[s[0] for s in STRICT])
def test_types_are_strict(
    case_dict: dict[str, Any], label: str, mutate: Mutation, path: str, needle: str
) -> None:
    mutate(case_dict)
    error = rejected(case_dict)
    assert error.field == path, label
    assert needle in error.reason, error.reason


def test_integers_are_accepted_as_floats(case_dict: dict[str, Any]) -> None:
    case_dict["labs"][0]["value"] = 12
    case_dict["course"]["cycles"][0]["activity_gbq"] = 7
    case = case_from_mapping(case_dict)
    assert case.labs[0].value == 12.0
    assert case.course is not None
    assert case.course.cycles[0].activity_gbq == 7.0


# --- Control characters (an ID could print a fake recommendation line) ----------------

UNSAFE = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202e"]

TEXT_FIELDS: list[tuple[str, Callable[[dict[str, Any], str], None]]] = [
    ("patient.id", lambda d, s: d["patient"].update(id=s)),
    ("treatments[1].name", lambda d, s: d["treatments"][1].update(name=s)),
    ("labs[2].loinc", lambda d, s: d["labs"][2].update(loinc=s)),
    ("psma_pet.tracer", lambda d, s: d["psma_pet"].update(tracer=s)),
    ("course.adverse_events[0].term", lambda d, s: d["course"]["adverse_events"][0].update(term=s)),
    ("course.radiopharmaceutical", lambda d, s: d["course"].update(radiopharmaceutical=s)),
    (
        "course.wellbeing[0].note",
        lambda d, s: d["course"].update(
            wellbeing=[{"date": "2026-03-20", "status": "stable", "note": s}]
        ),
    ),
    ("extensions.site.ward[1]", lambda d, s: d.update(extensions={"site": {"ward": ["B", s]}})),
]


@pytest.mark.parametrize("char", UNSAFE, ids=[f"U+{ord(c):04X}" for c in UNSAFE])
@pytest.mark.parametrize(("path", "put"), TEXT_FIELDS, ids=[t[0] for t in TEXT_FIELDS])
def test_control_characters_are_rejected_in_every_text_field(
    case_dict: dict[str, Any], path: str, put: Callable[[dict[str, Any], str], None], char: str
) -> None:
    put(case_dict, f"demo{char}Recommendation: proceed")
    error = rejected(case_dict)
    assert error.field == path
    assert f"U+{ord(char):04X}" in error.reason
    assert char not in str(error)


def test_a_control_character_in_a_key_is_escaped_in_the_message(case_dict: dict[str, Any]) -> None:
    case_dict["patient"]["id\nRecommendation: proceed"] = 1
    error = rejected(case_dict)
    assert error.field == "patient.id\\u000aRecommendation: proceed"
    assert "\n" not in str(error)
    case_dict["patient"].pop("id\nRecommendation: proceed")
    case_dict["extensions"] = {"x": {"key\u2028": 1}}
    error = rejected(case_dict)
    assert error.field == "extensions.x"
    assert "U+2028" in error.reason


def test_other_unicode_text_is_kept(case_dict: dict[str, Any]) -> None:
    case_dict["patient"]["id"] = "Müller-Łukasz 山田 ÆØÅ"
    case_dict["treatments"][0]["name"] = "abiratérone"
    assert case_from_mapping(case_dict).patient.id == "Müller-Łukasz 山田 ÆØÅ"


# --- Dates: plausible range, nothing recorded after as_of or before birth --------------


@pytest.mark.parametrize(
    ("mutate", "path", "ok"),
    [
        (lambda d: d["patient"].update(birth_date="1906-05-01"), "patient.birth_date", True),
        (
            lambda d: d["diagnosis"].update(diagnosis_date="1899-12-31"),
            "diagnosis.diagnosis_date",
            False,
        ),
        (lambda d: d["course"].update(planned_date="2199-12-31"), "course.planned_date", True),
        (lambda d: d["course"].update(planned_date="2200-01-01"), "course.planned_date", False),
        (lambda d: d.update(as_of="9999-12-31"), "as_of", False),
        (lambda d: d.update(as_of="0001-01-01"), "as_of", False),
        (
            lambda d: d["course"].update(planned_date="9999-12-31T23:00:00-05:00"),
            "course.planned_date",
            False,
        ),
        (lambda d: d["patient"].update(birth_date="0001-01-01"), "patient.birth_date", False),
    ],
)
def test_plausible_date_range(
    case_dict: dict[str, Any], mutate: Mutation, path: str, ok: bool
) -> None:
    mutate(case_dict)
    if ok:
        case_from_mapping(case_dict)
        return
    error = rejected(case_dict)
    assert error.field == path
    assert "1900-01-01..2199-12-31" in error.reason


@pytest.mark.parametrize("text", ["20260402", "2026-W14-4", "2026-4-2", "2026-02-30"])
def test_dates_must_be_iso_calendar_dates(case_dict: dict[str, Any], text: str) -> None:
    case_dict["as_of"] = text
    assert rejected(case_dict).field == "as_of"


RECORDED: list[tuple[str, Callable[[dict[str, Any], str], None]]] = [
    ("diagnosis.diagnosis_date", lambda d, day: d["diagnosis"].update(diagnosis_date=day)),
    ("treatments[0].end", lambda d, day: d["treatments"][0].update(end=day)),
    ("labs[3].date", lambda d, day: d["labs"][3].update(date=day)),
    ("psma_pet.date", lambda d, day: d["psma_pet"].update(date=day)),
    ("conventional_imaging[0].date", lambda d, day: d["conventional_imaging"][0].update(date=day)),
    ("consent.signed_at", lambda d, day: d["consent"].update(signed_at=f"{day}T23:30:00-05:00")),
    (
        "course.adverse_events[0].onset",
        lambda d, day: d["course"]["adverse_events"][0].update(onset=day),
    ),
    (
        "course.adverse_events[1].resolved",
        lambda d, day: d["course"]["adverse_events"][1].update(resolved=day),
    ),
    (
        "course.wellbeing[0].date",
        lambda d, day: d["course"].update(wellbeing=[{"date": day, "status": "worse"}]),
    ),
]


@pytest.mark.parametrize(("path", "put"), RECORDED, ids=[r[0] for r in RECORDED])
def test_nothing_recorded_after_as_of(
    case_dict: dict[str, Any], path: str, put: Callable[[dict[str, Any], str], None]
) -> None:
    on_as_of = copy.deepcopy(case_dict)
    put(on_as_of, CONSISTENT_AS_OF)
    case_from_mapping(on_as_of)  # on as_of: fine
    put(case_dict, "2026-04-03")
    error = rejected(case_dict)
    assert error.field == path
    assert "after as_of 2026-04-02" in error.reason


def test_cycles_after_as_of_are_rejected_and_only_the_planned_date_may_follow(
    case_dict: dict[str, Any],
) -> None:
    case_dict["course"]["planned_date"] = "2027-01-01"
    case_from_mapping(case_dict)
    case_dict["course"]["cycles"].append({"number": 2, "date": "2026-04-03", "activity_gbq": 7.4})
    case_dict["course"]["planned_date"] = "2026-05-15"
    assert rejected(case_dict).field == "course.cycles[1].date"


def test_nothing_recorded_before_birth(case_dict: dict[str, Any]) -> None:
    case_dict["treatments"][0]["start"] = "1952-04-10"
    error = rejected(case_dict)
    assert error.field == "treatments[0].start"
    assert "before the birth date 1952-04-11" in error.reason


def test_age_at_most_120(case_dict: dict[str, Any]) -> None:
    case_dict["diagnosis"]["diagnosis_date"] = None
    case_dict["patient"]["birth_date"] = "1906-04-02"  # 120 on as_of 2026-04-02
    case_from_mapping(case_dict)
    case_dict["patient"]["birth_date"] = "1906-04-01"  # 120 years and a day
    case_from_mapping(case_dict)
    case_dict["patient"]["birth_date"] = "1905-04-02"  # 121
    error = rejected(case_dict)
    assert error.field == "patient.birth_date"
    assert "121 years" in error.reason


def test_chronology_is_enforced_by_model_validate(case_dict: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from lutetia.cases.model import Case

    case_dict["course"]["adverse_events"][0]["onset"] = "2026-05-01"
    with pytest.raises(ValidationError, match=r"course\.adverse_events\[0\]\.onset"):
        Case.model_validate(case_dict)


# --- Same-day lab results ---------------------------------------------------------------


def _creatinine(when: str, value: float = 1.0) -> dict[str, Any]:
    return {"analyte": "creatinine", "value": value, "unit": "mg/dL", "date": when}


@pytest.mark.parametrize(
    ("first", "second", "ok"),
    [
        ("2026-03-30", "2026-03-30", False),
        ("2026-03-30", "2026-03-30T10:00:00+02:00", False),
        ("2026-03-30T08:00:00+02:00", "2026-03-30", False),
        ("2026-03-30T08:00:00+02:00", "2026-03-30T08:00:00+02:00", False),
        ("2026-03-30T08:00:00+02:00", "2026-03-30T07:00:00+01:00", False),  # same instant
        ("2026-03-30T08:00:00+02:00", "2026-03-30T10:00:00+02:00", True),
        ("2026-03-30", "2026-03-31", True),
    ],
)
def test_same_day_results_must_be_ordered(
    case_dict: dict[str, Any], first: str, second: str, ok: bool
) -> None:
    case_dict["labs"] += [_creatinine(first), _creatinine(second, 1.1)]
    if ok:
        case_from_mapping(case_dict)
        return
    error = rejected(case_dict)
    assert error.field == "labs[9].date"
    assert "labs[8]" in error.reason


def test_different_analytes_on_one_day_are_fine(case_dict: dict[str, Any]) -> None:
    assert len({lab["date"] for lab in case_dict["labs"]}) == 1
    case_from_mapping(case_dict)


# --- Plausible values, limits, eGFR and activities in the model -------------------------


def test_lab_plausibility_names_value_lln_uln(case_dict: dict[str, Any]) -> None:
    data = copy.deepcopy(case_dict)
    data["labs"][4].update(value=88, unit="mg/dL", uln=None)
    assert rejected(data).field == "labs[4].value"
    data = copy.deepcopy(case_dict)
    data["labs"].append(
        {"analyte": "bilirubin", "value": 3.5, "unit": "mg/dL", "uln": 21, "date": "2026-03-30"}
    )
    assert rejected(data).field == "labs[8].uln"
    data = copy.deepcopy(case_dict)
    data["labs"][0].update(lln=135)  # g/L copied next to a value in g/dL
    assert rejected(data).field == "labs[0].lln"


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [("creatinine", "mg/dL"), ("egfr", "mL/min/{1.73_m2}"), ("hemoglobin", "g/dL")],
)
def test_zero_creatinine_egfr_hemoglobin_are_bad_input(
    case_dict: dict[str, Any], analyte: str, unit: str
) -> None:
    case_dict["labs"].append({"analyte": analyte, "value": 0, "unit": unit, "date": "2026-03-30"})
    error = rejected(case_dict)
    assert error.field == "labs[8].value"
    assert "below what is possible" in error.reason


def _creatinine_for_egfr(egfr: float, age: float) -> float:
    """CKD-EPI 2021 (Inker 2021, Table 2) inverted for a man with Scr below κ = 0.9:
    Scr = 0.9 · (eGFR / (142 · 0.9938^age))^(−1/0.302)."""
    return float(0.9 * (egfr / (142 * 0.9938**age)) ** (-1 / 0.302))


@pytest.mark.parametrize(("egfr", "ok"), [(199.99, True), (200.01, False)])
def test_computed_egfr_above_200_names_the_creatinine(
    case_dict: dict[str, Any], egfr: float, ok: bool
) -> None:
    # A man aged 30 on the day of the result (born 1996-01-01, creatinine on 2026-03-30).
    case_dict["patient"]["birth_date"] = "1996-01-01"
    case_dict["diagnosis"]["diagnosis_date"] = None
    case_dict["treatments"] = []
    case_dict["labs"].append(_creatinine("2026-03-30", _creatinine_for_egfr(egfr, 30)))
    if ok:
        case_from_mapping(case_dict)
        return
    error = rejected(case_dict)
    assert error.field == "labs[8].value"
    assert "gives an eGFR of 200 mL/min/1.73 m², above the physiological 200" in error.reason


def test_computed_egfr_needs_age_and_sex(case_dict: dict[str, Any]) -> None:
    case_dict["patient"].update(birth_date="1996-01-01", sex=None)
    case_dict["diagnosis"]["diagnosis_date"] = None
    case_dict["treatments"] = []
    case_dict["labs"].append(_creatinine("2026-03-30", 0.15))  # ~215 at age 30 if male
    case_from_mapping(case_dict)
    case_dict["patient"]["sex"] = "male"
    assert rejected(case_dict).field == "labs[8].value"


@pytest.mark.parametrize(
    ("activity", "ok"), [(0.99, False), (1.0, True), (15.0, True), (15.01, False), (49.9, False)]
)
def test_activities_within_1_to_15_gbq(
    case_dict: dict[str, Any], activity: float, ok: bool
) -> None:
    for path in ("course.cycles[0].activity_gbq", "course.planned_activity_gbq"):
        data = copy.deepcopy(case_dict)
        course = data["course"]
        (course["cycles"][0] if "cycles" in path else course)[path.rsplit(".", 1)[1]] = activity
        if ok:
            case_from_mapping(data)
        else:
            assert rejected(data).field == path


@pytest.mark.parametrize(("weight", "ok"), [(19.9, False), (20, True), (400, True), (400.1, False)])
def test_weight_within_the_adult_range(case_dict: dict[str, Any], weight: float, ok: bool) -> None:
    case_dict["patient"]["weight_kg"] = weight
    if ok:
        case_from_mapping(case_dict)
    else:
        assert rejected(case_dict).field == "patient.weight_kg"


# --- Files: duplicate keys, nesting, aliases ---------------------------------------------


def test_json_duplicate_keys_name_the_field(tmp_path: Path, case_dict: dict[str, Any]) -> None:
    text = json.dumps(case_dict)
    path = tmp_path / "case.json"
    path.write_text(text)
    load_case(path)
    path.write_text(text.replace('"value": 88,', '"value": 88, "value": 1.0,', 1))
    with pytest.raises(BadInputError) as raised:
        load_case(path)
    assert raised.value.field == "labs[4].value"
    assert "twice" in raised.value.reason
    path.write_text(text[:-1] + ', "as_of": "2026-04-01"}')
    with pytest.raises(BadInputError) as raised:
        load_case(path)
    assert raised.value.field == "as_of"


def test_yaml_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(
        "schema: lutetia.case/1\nas_of: 2026-03-02\npatient: {id: p1, sex: male, sex: female}\n"
    )
    with pytest.raises(BadInputError, match=r"key 'sex' is given twice .* line 3, column 30"):
        load_case(path)


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(
        "schema: lutetia.case/1\nas_of: 2026-03-02\npatient: &p {id: p1}\nextensions: {a: *p}\n"
    )
    with pytest.raises(BadInputError, match="aliases"):
        load_case(path)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_deep_nesting_is_bad_input_not_recursion_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BadInputError, match="nested too deeply"):
        load_case(path)
    nested = '{"a": ' * 60 + "1" + "}" * 60
    path.write_text(
        f'{{"schema": "lutetia.case/1", "as_of": "2026-03-02", "extensions": {nested}}}'
    )
    with pytest.raises(BadInputError, match="nested more than"):
        load_case(path)


def test_extensions_nesting_limit_in_the_model(case_dict: dict[str, Any]) -> None:
    deep: Any = 1
    for _ in range(33):
        deep = {"a": deep}
    case_dict["extensions"] = deep
    error = rejected(case_dict)
    assert error.field.startswith("extensions.a.a.")
    assert "nested more than 32 deep" in error.reason
