"""Between-cycles rules on small courses built for each threshold."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from lutetia.cases.io import case_from_mapping
from lutetia.cli import main
from lutetia.errors import BadInputError
from lutetia.guideline.course import DECISION_ORDER, CourseResult, next_cycle
from lutetia.guideline.ruleset import EANM_SNMMI_2023
from lutetia.guideline.schedule import schedule
from lutetia.reports.calendar import to_ics
from tests.conftest import EXAMPLES

BASE = json.loads((EXAMPLES / "21-course-proceed.json").read_text())


def run(mutate: Callable[[dict[str, Any]], object] | None = None) -> CourseResult:
    data = copy.deepcopy(BASE)
    if mutate is not None:
        mutate(data)
    return next_cycle(case_from_mapping(data))


def add_lab(analyte: str, value: float, unit: str, day: str, **limits: float) -> Any:
    """Record a result, replacing the example's result of the same analyte on that day
    (two results on one day without times are bad input)."""

    def mutate(d: dict[str, Any]) -> None:
        d["labs"] = [
            lab for lab in d["labs"] if not (lab["analyte"] == analyte and lab["date"] == day)
        ]
        d["labs"].append({"analyte": analyte, "value": value, "unit": unit, "date": day, **limits})

    return mutate


def test_base_proceeds() -> None:
    assert run().decision == "proceed"


@pytest.mark.parametrize(
    ("value", "decision"),
    [(100, "proceed"), (74, "reduce"), (49, "postpone"), (20, "postpone")],
)
def test_platelets_on_the_scheduled_date(value: float, decision: str) -> None:
    # 75 is grade 1 ("<LLN - 75"), 74 grade 2, 49 grade 3, 20 grade 4 (CTCAE v5.0).
    result = run(add_lab("platelets", value, "10*9/L", "2026-03-30", lln=150))
    assert result.decision == decision


def test_lab_six_days_before_is_interim_not_scheduled() -> None:
    # 2026-03-27 is 6 days before 2026-04-02: an interim test.
    result = run(add_lab("anc", 0.8, "10*9/L", "2026-03-27"))
    assert result.decision == "postpone"
    assert {f.code for f in result.findings} >= {"toxicity.hematologic_grade3_interim"}
    assert result.earliest_date == date(2026, 4, 16)


def test_hematologic_adverse_event_counts_as_a_result() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["adverse_events"] = [{"term": "Anemia", "grade": 3, "onset": "2026-03-12"}]

    assert run(mutate).decision == "postpone"


def test_reductions_carry_over_and_make_one_cut() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["cycles"][1]["activity_gbq"] = 5.92
        add_lab("anc", 1.2, "10*9/L", "2026-03-30")(d)
        add_lab("egfr", 40, "mL/min/{1.73_m2}", "2026-03-30")(d)

    result = run(mutate)
    assert result.decision == "reduce"
    # The planned activity carries the earlier reduction; two reasons make one 20 % cut.
    assert result.activity_gbq == pytest.approx(5.92 * 0.8)


def test_stale_safety_labs_postpone_to_the_planned_date() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["labs"] = [lab for lab in d["labs"] if lab["date"] != "2026-03-30"]

    result = run(mutate)
    assert result.decision == "postpone"
    assert result.earliest_date == date(2026, 4, 2)


def test_wellbeing_worse_does_not_change_the_decision() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["course"]["wellbeing"] = [{"date": "2026-03-30", "status": "worse"}]

    result = run(mutate)
    assert result.decision == "proceed"
    assert "followup.wellbeing_worse" in {f.code for f in result.findings}


def test_treated_skeletal_event_does_not_hold() -> None:
    def event(treated: bool | None) -> Any:
        def mutate(d: dict[str, Any]) -> None:
            d["course"]["adverse_events"] = [
                {
                    "term": "Skeletal-related event",
                    "grade": 3,
                    "onset": "2026-03-01",
                    "treated": treated,
                }
            ]

        return mutate

    assert run(event(True)).decision == "proceed"
    assert run(event(False)).decision == "hold"
    assert run(event(None)).decision == "hold"  # not recorded as treated: never assumed


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["course"]["cycles"][1].update(date="2026-01-01"), "course.cycles[1].date"),
        (
            lambda d: d["course"]["cycles"][0].update(activity_gbq=0),
            "course.cycles[0].activity_gbq",
        ),
        (
            lambda d: (
                d.update(as_of="2026-07-25"),
                d["course"].pop("planned_date"),
                d["course"]["cycles"].extend(
                    {"number": n, "date": f"2026-0{n}-20", "activity_gbq": 7.4} for n in range(3, 8)
                ),
            ),
            "course.cycles[6]",
        ),
    ],
)
def test_inconsistent_courses_are_bad_input(
    mutate: Callable[[dict[str, Any]], object], field: str
) -> None:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(BadInputError) as raised:
        case_from_mapping(data)
    assert raised.value.field == field


_EVENTS = {
    "interim_g3": add_lab("platelets", 40, "10*9/L", "2026-03-12"),
    "scheduled_g2": add_lab("anc", 1.2, "10*9/L", "2026-03-30"),
    "egfr_low": add_lab("egfr", 25, "mL/min/{1.73_m2}", "2026-03-30"),
    "ast_high": add_lab("ast", 400, "U/L", "2026-03-30", uln=50),
    "fatigue": lambda d: d["course"]["adverse_events"].append(
        {"term": "fatigue", "grade": 3, "onset": "2026-03-20"}
    ),
    "gcsf": lambda d: d["treatments"].append(
        {"name": "G-CSF", "class": "gcsf", "end": "2026-03-28"}
    ),
}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(sorted(_EVENTS)), unique=True), st.sampled_from(sorted(_EVENTS)))
def test_most_restrictive_wins(applied: list[str], extra: str) -> None:
    data = copy.deepcopy(BASE)
    for name in applied:
        _EVENTS[name](data)
    before = next_cycle(case_from_mapping(copy.deepcopy(data))).decision
    _EVENTS[extra](data)
    after = next_cycle(case_from_mapping(data)).decision
    assert DECISION_ORDER.index(after) <= DECISION_ORDER.index(before)


def test_schedule_and_ics_round_trip(tmp_path: Path) -> None:
    case = case_from_mapping(copy.deepcopy(BASE))
    events = schedule(case, EANM_SNMMI_2023)
    cycles = [e for e in events if e.kind == "cycle"]
    assert [e.date for e in cycles][:3] == [date(2026, 1, 8), date(2026, 2, 19), date(2026, 4, 2)]
    assert len(cycles) == 6
    assert all(e.section for e in events)
    interim = [e for e in events if e.kind == "interim_labs"]
    assert interim[0].date == date(2026, 1, 22)  # 2 weeks after cycle 1
    assert interim[0].window_end == date(2026, 1, 29)  # to 3 weeks
    restaging = [e.date for e in events if e.kind == "restaging"]
    assert restaging[0] == date(2026, 4, 2)  # 12 weeks after cycle 1
    parsed = Calendar.from_ical(to_ics(events, patient_id="co-21"))
    vevents = parsed.walk("VEVENT")
    assert len(vevents) == len(events)
    starts = sorted(v.decoded("dtstart") for v in vevents)
    assert starts[0] == events[0].date


def test_schedule_cli_writes_ics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "plan.ics"
    assert (
        main(["schedule", str(EXAMPLES / "21-course-proceed.json"), "--json", "--ics", str(target)])
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert all(set(e) >= {"date", "kind", "description", "section"} for e in document["events"])
    assert Calendar.from_ical(target.read_bytes()).walk("VEVENT")


def test_next_cycle_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next-cycle", str(EXAMPLES / "22-course-grade3-interim.json")]) == 0
    out = capsys.readouterr().out
    assert "DECISION: POSTPONE cycle 3: not before 2026-04-16" in out
    assert "Management of side effects, 1" in out


def test_consent_lead_is_configurable(capsys: pytest.CaptureFixture[str]) -> None:
    # Consent signed 15.5 h before cycle 1: too late with 24 h, fine where the law asks 12 h.
    path = str(EXAMPLES / "34-first-cycle-late-consent.json")
    assert main(["next-cycle", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "postpone"
    assert main(["next-cycle", path, "--json", "--consent-lead-h", "12"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "consent.missing" not in {f["code"] for f in document["findings"]}
