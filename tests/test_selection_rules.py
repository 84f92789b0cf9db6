"""Selection rules one at a time, on small cases built for each threshold."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lutetia.cases.io import case_from_mapping
from lutetia.guideline.selection import SelectionResult, assess

RANK = {"recommended": 0, "consider": 1, "insufficient_data": 2, "not_recommended": 3}


def base() -> dict[str, Any]:
    day = "2026-10-14"

    def lab(analyte: str, value: float, unit: str, **limits: float) -> dict[str, Any]:
        return {"analyte": analyte, "value": value, "unit": unit, "date": day, **limits}

    return {
        "schema": "lutetia.case/1",
        "as_of": day,
        "patient": {"id": "t", "birth_date": "1950-01-01", "sex": "male"},
        "diagnosis": {"castration_resistant": True, "metastatic": True},
        "performance": {"ecog": 1, "life_expectancy_months": 24},
        "treatments": [
            {"name": "enzalutamide", "class": "naad", "end": "2021-01-01", "progressed": True},
            {"name": "docetaxel", "class": "taxane", "end": "2022-01-01", "progressed": True},
            {"name": "goserelin", "class": "adt"},
        ],
        "taxane_options": {"docetaxel": "received", "cabazitaxel": "refused"},
        "labs": [
            lab("hemoglobin", 14, "g/dL", lln=13),
            lab("wbc", 6, "10*9/L"),
            lab("anc", 4, "10*9/L"),
            lab("platelets", 250, "10*9/L"),
            lab("creatinine", 0.9, "mg/dL", uln=1.2),
            lab("egfr", 80, "mL/min/{1.73_m2}"),
            lab("ast", 20, "U/L", uln=50),
            lab("alt", 20, "U/L", uln=50),
            lab("bilirubin", 0.5, "mg/dL", uln=1.2),
            lab("albumin", 4, "g/dL"),
            lab("alp", 90, "U/L", uln=130),
            lab("ldh", 200, "U/L"),
            lab("psa", 40, "ng/mL"),
            lab("crp", 2, "mg/L"),
        ],
        "psma_pet": {
            "date": "2026-10-01",
            "tracer": "68Ga-PSMA-11",
            "parotid_suvmean": 12,
            "liver_suvmean": 5,
            "lesions": [{"site": "bone", "size_mm": 20, "suvmax": 30}],
        },
        "conventional_imaging": [{"modality": "ct", "date": "2026-10-01"}],
        "consent": {"signed_at": "2026-10-10"},
    }


def run(mutate: Any = None) -> SelectionResult:
    data = base()
    if mutate is not None:
        mutate(data)
    return assess(case_from_mapping(data))


def codes(result: SelectionResult) -> set[str]:
    return {f.code for f in result.findings}


def set_lab(data: dict[str, Any], analyte: str, value: float, unit: str | None = None) -> None:
    for lab in data["labs"]:
        if lab["analyte"] == analyte:
            lab["value"] = value
            if unit:
                lab["unit"] = unit


def test_clean_case_is_recommended() -> None:
    result = run()
    assert result.recommendation == "recommended"
    assert result.indication.code == "indication.post_taxane"
    assert codes(result) == {"precaution.contraception", "imaging.high_uptake"}


@pytest.mark.parametrize(
    ("analyte", "value", "code"),
    [
        ("platelets", 74.9, "contraindication.myelosuppression.platelets"),
        ("wbc", 2.49, "contraindication.myelosuppression.wbc"),
        ("anc", 1.49, "contraindication.myelosuppression.anc"),
        ("egfr", 29.9, "contraindication.organ_failure.gfr"),
        ("creatinine", 2.41, "contraindication.organ_failure.creatinine"),
        ("ast", 251, "contraindication.organ_failure.liver"),
        ("alt", 251, "contraindication.organ_failure.liver"),
    ],
)
def test_table1_lab_thresholds(analyte: str, value: float, code: str) -> None:
    result = run(lambda d: set_lab(d, analyte, value))
    assert code in codes(result)
    assert result.recommendation == "consider"


@pytest.mark.parametrize(
    ("analyte", "value"),
    [
        ("platelets", 75),
        ("wbc", 2.5),
        ("anc", 1.5),
        ("egfr", 30),
        ("creatinine", 2.4),
        ("ast", 250),
    ],
)
def test_table1_edges_do_not_trigger(analyte: str, value: float) -> None:
    result = run(lambda d: set_lab(d, analyte, value))
    assert not any(c.startswith("contraindication") for c in codes(result))


@pytest.mark.parametrize(
    ("egfr", "expected"), [(50, True), (30, True), (50.1, False), (29.9, False)]
)
def test_reduced_renal_function_band_is_inclusive(egfr: float, expected: bool) -> None:
    result = run(lambda d: set_lab(d, "egfr", egfr))
    assert ("precaution.reduced_renal_function" in codes(result)) is expected


def test_measured_gfr_takes_precedence() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["labs"].append(
            {"analyte": "creatinine_clearance", "value": 25, "unit": "mL/min", "date": "2026-10-13"}
        )

    result = run(mutate)
    gfr = next(f for f in result.findings if f.code == "contraindication.organ_failure.gfr")
    assert "creatinine clearance" in gfr.message
    assert gfr.value is not None
    assert gfr.value.unit == "mL/min"


def test_egfr_never_computed_without_sex() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["labs"] = [lab for lab in d["labs"] if lab["analyte"] != "egfr"]
        del d["patient"]["sex"]

    result = run(mutate)
    missing = next(f for f in result.findings if f.code == "labs.missing")
    assert missing.value is not None
    assert "egfr" in missing.value.value
    assert "sex" in missing.message


def test_life_expectancy_palliative_exception() -> None:
    def short(d: dict[str, Any]) -> None:
        d["performance"]["life_expectancy_months"] = 2

    assert "contraindication.life_expectancy" in codes(run(short))

    def palliative(d: dict[str, Any]) -> None:
        short(d)
        d["performance"]["palliative_intent"] = True

    assert "contraindication.life_expectancy" not in codes(run(palliative))


def test_bone_lesion_uses_soft_tissue_component() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["psma_pet"]["lesions"].append(
            {"site": "bone", "size_mm": 25, "suvmax": 3, "soft_tissue_component_mm": 6}
        )

    assert "imaging.psma_negative_lesion" not in codes(run(mutate))


def test_small_psma_negative_lesion_is_not_an_exclusion() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["psma_pet"]["lesions"].append({"site": "lung", "size_mm": 9, "suvmax": 1})

    assert run(mutate).recommendation == "recommended"


def test_liver_criterion_is_flagged_approximate_for_other_tracers() -> None:
    def mutate(d: dict[str, Any]) -> None:
        del d["psma_pet"]["parotid_suvmean"]
        d["psma_pet"]["tracer"] = "18F-PSMA-1007"
        d["psma_pet"]["lesions"].append({"site": "lymph_node", "size_mm": 15, "suvmax": 4.9})

    result = run(mutate)
    negative = next(f for f in result.findings if f.code == "imaging.psma_negative_lesion")
    assert "approximation" in negative.message
    assert result.recommendation == "not_recommended"


def test_washout_four_weeks() -> None:
    def recent(days_before: int) -> Any:
        def mutate(d: dict[str, Any]) -> None:
            from datetime import date, timedelta

            end = date(2026, 10, 14) - timedelta(days=days_before)
            d["treatments"].append(
                {
                    "name": "EBRT pelvis",
                    "class": "ebrt",
                    "large_field": True,
                    "end": end.isoformat(),
                }
            )

        return mutate

    assert "precaution.washout" in codes(run(recent(27)))
    assert "precaution.washout" not in codes(run(recent(28)))
    # Precautions inform: the recommendation does not change.
    assert run(recent(10)).recommendation == "recommended"


def test_exclusion_wins_over_missing_data() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["conventional_imaging"] = []
        d["psma_pet"]["lesions"].append({"site": "liver", "size_mm": 15, "suvmax": 2})

    result = run(mutate)
    assert result.recommendation == "not_recommended"
    assert {"imaging.comparator_missing", "imaging.psma_negative_lesion"} <= codes(result)


def test_cabazitaxel_unknown_still_places_vision() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["taxane_options"] = {"docetaxel": "received"}

    result = run(mutate)
    assert result.indication.code == "indication.post_taxane"
    assert "TheraP" in result.indication.finding.message


def test_no_naad_at_all_is_other() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["treatments"] = [{"name": "goserelin", "class": "adt"}]
        d["taxane_options"] = {}

    result = run(mutate)
    assert result.indication.code == "indication.other"
    assert result.recommendation == "consider"


_MUTATIONS: dict[str, Callable[[dict[str, Any]], object]] = {
    "ecog": lambda d: d["performance"].update(ecog=3),
    "infection": lambda d: d.setdefault("conditions", {}).update(acute_infection=True),
    "platelets": lambda d: set_lab(d, "platelets", 40),
    "no_ct": lambda d: d.update(conventional_imaging=[]),
    "no_comparator_mri": lambda d: d.update(conventional_imaging=[]),
    "negative": lambda d: d["psma_pet"]["lesions"].append(
        {"site": "lymph_node", "size_mm": 30, "suvmax": 1.0}
    ),
    "washout": lambda d: d["treatments"].append({"name": "carboplatin", "class": "platinum"}),
    "young": lambda d: d["patient"].update(birth_date="1970-01-01"),
    "unknown_docetaxel": lambda d: (
        d.update(taxane_options={}),
        d.update(treatments=[t for t in d["treatments"] if t["class"] != "taxane"]),
    ),
}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(_MUTATIONS)), unique=True), st.sampled_from(sorted(_MUTATIONS))
)
def test_adding_a_problem_never_improves_the_recommendation(applied: list[str], extra: str) -> None:
    data = base()
    for name in applied:
        _MUTATIONS[name](data)
    before = assess(case_from_mapping(copy.deepcopy(data))).recommendation
    _MUTATIONS[extra](data)
    after = assess(case_from_mapping(data)).recommendation
    assert RANK[after] >= RANK[before]
