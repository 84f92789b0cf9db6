"""Random cases: the engines either answer with a contract-valid document or reject the
input with :class:`BadInputError` — never another exception (no traceback for bad input)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lutetia.cases.io import case_from_mapping
from lutetia.errors import BadInputError
from lutetia.guideline.assessment import assessment_document, course_document
from lutetia.guideline.course import next_cycle
from lutetia.guideline.selection import assess

AS_OF = date(2026, 6, 1)
UNITS = {
    "hemoglobin": ["g/dL", "g/L", "mmol/L"], "wbc": ["10*9/L", "/nL"], "anc": ["10*9/L"],
    "platelets": ["10*9/L", "/uL"], "creatinine": ["mg/dL", "umol/L"], "egfr": ["mL/min/{1.73_m2}"],
    "ast": ["U/L"], "alt": ["U/L"], "psa": ["ng/mL"], "ldh": ["U/L"], "alp": ["U/L"],
    "crp": ["mg/L"], "testosterone": ["ng/dL", "nmol/L"], "albumin": ["g/dL"],
    "bilirubin": ["mg/dL"],
}  # fmt: skip


def days_before(max_days: int) -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=max_days).map(
        lambda d: (AS_OF - timedelta(days=d)).isoformat()
    )


lab = st.sampled_from(sorted(UNITS)).flatmap(
    lambda analyte: st.fixed_dictionaries(
        {
            "analyte": st.just(analyte),
            "value": st.floats(min_value=0, max_value=300, allow_nan=False),
            "unit": st.sampled_from(UNITS[analyte]),
            "date": days_before(400),
        },
        optional={
            "uln": st.floats(min_value=0.1, max_value=300),
            "lln": st.floats(min_value=0, max_value=300),
        },
    )
)
treatment = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["abiraterone", "docetaxel", "cabazitaxel", "EBRT", "G-CSF"]),
        "class": st.sampled_from(["naad", "taxane", "ebrt", "gcsf", "adt", "platinum"]),
    },
    optional={
        "end": days_before(900),
        "progressed": st.none() | st.booleans(),
        "large_field": st.booleans(),
    },
)
lesion = st.fixed_dictionaries(
    {
        "site": st.sampled_from(["bone", "lymph_node", "liver", "lung", "prostate"]),
        "size_mm": st.floats(min_value=1, max_value=80),
        "suvmax": st.floats(min_value=0, max_value=60),
    },
    optional={"fdg": st.sampled_from(["positive", "negative", "not_done"])},
)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    n_cycles = draw(st.integers(min_value=0, max_value=6))
    start = AS_OF - timedelta(days=6 * 7 * n_cycles + draw(st.integers(0, 20)))
    cycles = [
        {"number": i + 1, "date": (start + timedelta(weeks=6 * i)).isoformat(),
         "activity_gbq": draw(st.sampled_from([7.4, 5.92, 6.0, 9.0]))}
        for i in range(n_cycles)
    ]  # fmt: skip
    document: dict[str, Any] = {
        "schema": "lutetia.case/1",
        "as_of": AS_OF.isoformat(),
        "patient": {
            "id": "fuzz",
            "birth_date": "1950-01-01",
            "sex": draw(st.sampled_from(["male", "female"])),
        },
        "diagnosis": {
            "castration_resistant": draw(st.none() | st.booleans()),
            "metastatic": draw(st.none() | st.booleans()),
        },
        "performance": {"ecog": draw(st.none() | st.integers(0, 4))},
        "treatments": draw(st.lists(treatment, max_size=5)),
        "taxane_options": {
            "docetaxel": draw(st.none() | st.sampled_from(["received", "fit", "unfit", "refused"]))
        },
        "labs": draw(st.lists(lab, max_size=20)),
        "consent": {"signed_at": draw(st.none() | days_before(60))},
    }
    if draw(st.booleans()):
        document["psma_pet"] = {
            "date": draw(days_before(60)),
            "parotid_suvmean": draw(st.none() | st.floats(min_value=1, max_value=30)),
            "liver_suvmean": draw(st.none() | st.floats(min_value=1, max_value=15)),
            "lesions": draw(st.lists(lesion, max_size=6)),
        }
    if n_cycles or draw(st.booleans()):
        document["course"] = {
            "cycles": cycles,
            "planned_date": (AS_OF + timedelta(days=draw(st.integers(1, 20)))).isoformat(),
            "adverse_events": draw(
                st.lists(
                    st.fixed_dictionaries(
                        {"term": st.sampled_from(["fatigue", "anemia", "dry mouth",
                                                  "skeletal-related event", "sepsis"]),
                         "grade": st.integers(1, 5), "onset": days_before(100)},
                        optional={"treated": st.booleans(),
                                  "unacceptable_to_patient": st.booleans()},
                    ),
                    max_size=3,
                )
            ),
        }  # fmt: skip
    return document


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_random_cases_answer_or_reject_cleanly(document: dict[str, Any]) -> None:
    try:
        case = case_from_mapping(document)
    except BadInputError:
        return
    selection = assessment_document(case, assess(case))
    assert selection["recommendation"] in {
        "recommended", "consider", "not_recommended", "insufficient_data",
    }  # fmt: skip
    course = course_document(case, next_cycle(case))
    assert course["decision"] in {
        "proceed",
        "reduce",
        "postpone",
        "hold",
        "discontinue",
        "complete",
    }
