"""The rule engine's own correctness (issue 9, section 3): one complete catalogue, decision
precedence, CTCAE term routing, time windows measured to the reference date, and the
missing-data rules of selection.

Each test is named after the defect class it guards; docs/hazards.md points here.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from lutetia.cases.io import case_from_mapping
from lutetia.clinical.ctcae_terms import TERMS, lookup
from lutetia.guideline.catalogue import RULES
from lutetia.guideline.course import DECISION_ORDER, CourseResult, next_cycle
from lutetia.guideline.selection import SelectionResult, assess
from tests.conftest import EXAMPLES, ROOT

COURSE = json.loads((EXAMPLES / "21-course-proceed.json").read_text())
COMPLETE = json.loads((EXAMPLES / "32-course-complete.json").read_text())
SELECTION = json.loads((EXAMPLES / "01-vision-eligible.json").read_text())


def course(mutate: Callable[[dict[str, Any]], object], base: dict[str, Any] = COURSE) -> Any:
    data = copy.deepcopy(base)
    mutate(data)
    return next_cycle(case_from_mapping(data))


def codes(result: CourseResult | SelectionResult) -> set[str]:
    return {f.code for f in result.findings}


def find(result: CourseResult, code: str) -> Any:
    return next(f for f in result.findings if f.code == code)


# --- One immutable catalogue, complete at import ---------------------------------------


CODE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


def _emitted_codes() -> tuple[set[str], set[str]]:
    """Codes passed to ``finding(...)`` in the engines: literal codes, and f-string prefixes."""
    literal: set[str] = set()
    prefixes: set[str] = set()
    for path in (ROOT / "src" / "lutetia" / "guideline").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "finding"):
                continue
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                literal.add(first.value)
            elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
                prefixes.add(str(first.values[0].value))
    # Codes passed through a variable (the prognostic lab loop, the indication helper):
    # any string constant of an engine module that is a code. The catalogue itself, which
    # names every code, is not an engine.
    for path in (ROOT / "src" / "lutetia" / "guideline").glob("*.py"):
        if path.name == "catalogue.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        literal |= {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and CODE.fullmatch(node.value)
        }
    return literal, prefixes


def test_rules_in_a_fresh_process_list_every_code_the_engines_emit() -> None:
    # A new interpreter imports only what `lutetia rules` imports: before issue 9 the
    # course rules were missing there because they registered on import of the engine.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-m", "lutetia", "rules", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    listed = {rule["code"] for rule in json.loads(out.stdout)["rules"]}
    literal, prefixes = _emitted_codes()
    emitted = {code for code in literal if code.split(".")[0] in {c.split(".")[0] for c in listed}}
    assert emitted <= listed, emitted - listed
    assert prefixes, "the f-string codes (myelosuppression) were not found"
    for prefix in prefixes:
        assert any(code.startswith(prefix) for code in listed), prefix
    # And nothing in the catalogue is dead: each code is emitted somewhere.
    for code in listed:
        assert code in emitted or any(code.startswith(p) for p in prefixes), code
    assert {"toxicity.hematologic_grade3_interim", "regimen.max_cycles"} <= listed


def test_catalogue_is_read_only() -> None:
    with pytest.raises(TypeError):
        RULES["x.y"] = RULES["consent.missing"]  # type: ignore[index]


# --- Decision precedence -------------------------------------------------------------


def test_precedence_is_discontinue_hold_complete_postpone_reduce_proceed() -> None:
    assert DECISION_ORDER == ("discontinue", "hold", "complete", "postpone", "reduce", "proceed")


def test_individual_dosimetry_warns_instead_of_completing() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["individual_dosimetry"] = True

    result = course(mutate, COMPLETE)
    warning = find(result, "regimen.max_cycles")
    assert warning.decision is None
    assert result.decision != "complete"


def test_discontinue_outranks_complete() -> None:
    def mutate(d: dict[str, Any]) -> None:
        for lab in d["labs"]:
            if lab["analyte"] == "egfr" and lab["date"] == "2026-08-20":
                lab["value"] = 25
        if not any(lab["analyte"] == "egfr" and lab["value"] == 25 for lab in d["labs"]):
            d["labs"].append(
                {"analyte": "egfr", "value": 25, "unit": "mL/min/{1.73_m2}", "date": "2026-08-20"}
            )

    result = course(mutate, COMPLETE)
    assert result.decision == "discontinue"
    assert "regimen.max_cycles" in codes(result)


def test_hold_outranks_complete() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["adverse_events"] = [{"term": "Nausea", "grade": 3, "onset": "2026-08-10"}]

    assert course(mutate, COMPLETE).decision == "hold"


def test_complete_when_nothing_more_restrictive() -> None:
    assert course(lambda d: None, COMPLETE).decision == "complete"


# --- CTCAE terms ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "term",
    ["Lymphocyte count decreased", "lymphopenia", "LYMPHOCYTOPENIA", "lymphocyte-count decreased"],
)
def test_lymphopenia_is_hematological_not_a_hold(term: str) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["adverse_events"] = [{"term": term, "grade": 3, "onset": "2026-03-12"}]

    result = course(mutate)
    assert "toxicity.nonhematologic_grade3" not in codes(result)
    assert "toxicity.hematologic_other" in codes(result)
    assert result.decision == "proceed"


@pytest.mark.parametrize(
    "term", ["Anemia", "anaemia", "Neutropenia", "thrombocytopenia", "Platelet count decreased"]
)
def test_hematological_synonyms_reach_items_1_and_2(term: str) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["adverse_events"] = [{"term": term, "grade": 3, "onset": "2026-03-12"}]

    result = course(mutate)
    assert "toxicity.hematologic_grade3_interim" in codes(result)
    assert "toxicity.nonhematologic_grade3" not in codes(result)
    assert result.decision == "postpone"


def test_unknown_term_is_reported_and_held_conservatively() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["adverse_events"] = [
            {"term": "Flux capacitor failure", "grade": 3, "onset": "2026-03-12"}
        ]

    result = course(mutate)
    assert {"toxicity.term_unknown", "toxicity.nonhematologic_grade3"} <= codes(result)
    assert result.decision == "hold"


def test_unknown_skeletal_wording_still_holds() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["adverse_events"] = [
            {"term": "rib fracture after fall", "grade": 2, "onset": "2026-03-12"}
        ]

    result = course(mutate)
    assert {"toxicity.term_unknown", "toxicity.skeletal_event"} <= codes(result)
    assert result.decision == "hold"


def test_every_term_and_synonym_is_found_by_lookup() -> None:
    for term in TERMS:
        for alias in (term.name, *term.synonyms):
            assert lookup(f"  {alias.upper()} ") is term


# --- Time windows to the reference date --------------------------------------------------


def test_event_resolved_after_the_planned_date_is_unresolved_on_it() -> None:
    # Planned 2026-04-02; the case was written on 2026-04-05 (after the planned date) and
    # records that the nausea resolved on 2026-04-04: on 2026-04-02 it was still grade 3.
    def mutate(d: dict[str, Any]) -> None:
        d["as_of"] = "2026-04-05"
        d["course"]["adverse_events"] = [
            {"term": "Nausea", "grade": 3, "onset": "2026-03-20", "resolved": "2026-04-04"}
        ]

    assert course(mutate).decision == "hold"


def test_unresolved_life_threatening_toxicity_counts_to_the_planned_date() -> None:
    # Onset 2026-03-04; planned 2026-04-02 is 29 days later (> 28); as_of 2026-03-30 is only
    # 26 days later. The rule counts to the planned date: discontinue.
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["adverse_events"] = [{"term": "Sepsis", "grade": 4, "onset": "2026-03-04"}]

    result = course(mutate)
    assert result.decision == "discontinue"
    assert find(result, "discontinue.unresolved_toxicity").value.value == 29


def test_unresolved_life_threatening_toxicity_at_exactly_four_weeks_holds() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["adverse_events"] = [{"term": "Sepsis", "grade": 4, "onset": "2026-03-05"}]

    result = course(mutate)
    assert "discontinue.unresolved_toxicity" not in codes(result)
    assert result.decision == "hold"


def test_without_a_planned_date_the_reference_date_is_as_of() -> None:
    def mutate(d: dict[str, Any]) -> None:
        del d["course"]["planned_date"]

    # Before issue 9 the engine assumed last cycle + 6 weeks (2026-04-02).
    result = course(mutate)
    assert result.planned_date == date(2026, 3, 30)
    assert result.earliest_date == date(2026, 3, 30)


def test_interval_message_names_as_of_when_it_is_the_reference() -> None:
    # Cycle 2 on 2026-02-19, as_of 2026-03-30 and no planned date; moving cycle 2 to
    # 2026-02-02 makes as_of 56 days later: outside 6 ± 1 weeks.
    def mutate(d: dict[str, Any]) -> None:
        del d["course"]["planned_date"]
        d["course"]["cycles"][1]["date"] = "2026-02-02"

    interval = find(course(mutate), "regimen.interval")
    assert interval.value.value == 56
    assert "as_of" in interval.message


# --- Consent and PSA -------------------------------------------------------------------


def test_consent_never_recorded_stays_reported_after_cycle_1() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["consent"] = {}

    result = course(mutate)
    assert "consent.missing" in codes(result)


def test_psa_progression_without_a_value_before_cycle_1() -> None:
    # No PSA on or before cycle 1 (2026-01-08); after the flare window the nadir of the
    # values available (10 on 2026-03-10) is compared with 13 on 2026-03-30: +30 % > 25 %.
    def mutate(d: dict[str, Any]) -> None:
        d["labs"] = [lab for lab in d["labs"] if lab["analyte"] != "psa"]
        d["labs"] += [
            {"analyte": "psa", "value": 20.0, "unit": "ng/mL", "date": "2026-02-17"},
            {"analyte": "psa", "value": 10.0, "unit": "ng/mL", "date": "2026-03-10"},
            {"analyte": "psa", "value": 13.0, "unit": "ng/mL", "date": "2026-03-30"},
        ]

    result = course(mutate)
    progression = find(result, "response.psa_progression")
    assert progression.threshold.value == pytest.approx(12.5)
    assert "response.pcwg3" not in codes(result)  # no baseline: no PCWG3 response claimed


def test_psa_rise_from_an_undetectable_nadir_is_progression() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["labs"] += [
            {"analyte": "psa", "value": 0.0, "unit": "ng/mL", "date": "2026-03-06"},
            {"analyte": "psa", "value": 4.0, "unit": "ng/mL", "date": "2026-03-30"},
        ]
        d["labs"] = [
            lab
            for lab in d["labs"]
            if not (lab["analyte"] == "psa" and lab["date"] == "2026-03-30" and lab["value"] == 15)
        ]

    assert "response.psa_progression" in codes(course(mutate))


# --- Same-day results: one rule everywhere -------------------------------------------


def test_same_day_results_with_times_take_the_later_in_both_engines() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["labs"] = [
            lab for lab in d["labs"] if not (lab["analyte"] == "psa" and lab["value"] == 15.0)
        ]
        d["labs"] += [
            {"analyte": "psa", "value": 40.0, "unit": "ng/mL", "date": "2026-03-30T08:00+02:00"},
            {"analyte": "psa", "value": 16.0, "unit": "ng/mL", "date": "2026-03-30T14:00+02:00"},
        ]

    data = copy.deepcopy(COURSE)
    mutate(data)
    case = case_from_mapping(data)
    selection = assess(case)
    result = next_cycle(case)
    assert "response.psa_progression" not in codes(result)  # 16 is not > 1.25 × 19
    assert result.decision == "proceed"
    assert selection.recommendation  # assess accepts the same file


# --- Selection with missing data ---------------------------------------------------------


def test_no_labs_at_all_is_insufficient_data() -> None:
    data = copy.deepcopy(SELECTION)
    data["labs"] = []
    assert assess(case_from_mapping(data)).recommendation == "insufficient_data"


@pytest.mark.parametrize("analyte", ["hemoglobin", "wbc", "anc", "platelets"])
def test_a_missing_blood_count_analyte_is_insufficient_data(analyte: str) -> None:
    data = copy.deepcopy(SELECTION)
    data["labs"] = [lab for lab in data["labs"] if lab["analyte"] != analyte]
    assert assess(case_from_mapping(data)).recommendation == "insufficient_data"


def test_renal_function_missing_only_when_every_source_is() -> None:
    data = copy.deepcopy(SELECTION)
    data["labs"] = [lab for lab in data["labs"] if lab["analyte"] != "creatinine"]
    has_egfr = any(lab["analyte"] == "egfr" for lab in data["labs"])
    result = assess(case_from_mapping(data))
    if has_egfr:
        assert result.recommendation != "insufficient_data"
    data["labs"] = [lab for lab in data["labs"] if lab["analyte"] not in ("egfr", "creatinine")]
    assert assess(case_from_mapping(data)).recommendation == "insufficient_data"


def test_other_missing_analytes_only_inform() -> None:
    data = copy.deepcopy(SELECTION)
    before = assess(case_from_mapping(data)).recommendation
    data["labs"] = [lab for lab in data["labs"] if lab["analyte"] not in ("crp", "ldh")]
    result = assess(case_from_mapping(data))
    assert "labs.missing" in codes(result)
    assert result.recommendation == before


def test_a_stale_blood_count_is_insufficient_data() -> None:
    data = copy.deepcopy(SELECTION)
    for lab in data["labs"]:
        if lab["analyte"] == "platelets":
            lab["date"] = "2025-01-02"
    result = assess(case_from_mapping(data))
    assert result.recommendation == "insufficient_data"
    stale = next(f for f in result.findings if f.code == "labs.stale")
    assert stale.effect == "insufficient"


def test_exclusion_still_wins_over_insufficient_data() -> None:
    data = copy.deepcopy(SELECTION)
    data["labs"] = []
    data["diagnosis"]["castration_resistant"] = False
    assert assess(case_from_mapping(data)).recommendation == "not_recommended"
