"""The ruleset is an object the rules are given, not module globals (issue 10).

A site profile (``lutetia.ruleset/1``) changes named thresholds of the published
one; these tests show that every engine (selection, next cycle, the plan) follows
the profile it is given, that the reported ``Threshold`` is the profile's number,
that documents name the profile, and that a profile file that is wrong in any way
is refused with the field named. ``tests/test_thresholds.py`` pins the published
values and tests each at its edges.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lutetia.cases.io import case_from_mapping
from lutetia.cli import main
from lutetia.errors import BadInputError
from lutetia.guideline import ruleset as rs
from lutetia.guideline.context import Settings
from lutetia.guideline.ruleset import (
    BUILTIN,
    EANM_SNMMI_2023,
    Ruleset,
    load_ruleset,
    ruleset_from_mapping,
    ruleset_from_provenance,
    threshold_fields,
)
from lutetia.guideline.schedule import cycle_dates, schedule
from lutetia.services.course import assess_case, decide_next_cycle
from tests.conftest import EXAMPLES, ROOT

SELECTION: dict[str, Any] = json.loads((EXAMPLES / "01-vision-eligible.json").read_text())
COURSE: dict[str, Any] = json.loads((EXAMPLES / "21-course-proceed.json").read_text())
GUIDELINE_MODULES = ("selection.py", "course.py", "context.py", "schedule.py")


def site(**changes: object) -> dict[str, Any]:
    """A ``lutetia.ruleset/1`` document changing ``changes``."""
    return {
        "schema": "lutetia.ruleset/1",
        "name": "site-test",
        "version": "3",
        "based_on": "eanm-snmmi-2023",
        "reason": "national rules of the test site",
        "changes": changes,
    }


def profile(**changes: object) -> Ruleset:
    return ruleset_from_mapping(site(**changes))


def codes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["code"]: f for f in document["findings"]}


# --- The rules read the ruleset they are given ---------------------------------------------


#: Module-level numbers that are not clinical thresholds, each with its reason.
NOT_THRESHOLDS = {
    ("course.py", "REDUCED_ACTIVITY_MATCH"),  # rounding tolerance on a prescription's GBq
}


def test_no_rule_module_keeps_a_threshold_of_its_own() -> None:
    # The class of defect: a number typed in a rule module (schedule.py had its own 7.4 GBq,
    # 6 weeks and 6 cycles beside the catalogue's) cannot follow a site's profile. No module
    # of the engines binds a number or a duration at module level.
    for name in GUIDELINE_MODULES:
        tree = ast.parse((ROOT / "src" / "lutetia" / "guideline" / name).read_text())
        for node in tree.body:
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            target = (
                node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            )
            if value is None or (name, getattr(target, "id", "")) in NOT_THRESHOLDS:
                continue
            numeric = isinstance(value, ast.Constant) and isinstance(value.value, (int, float))
            duration = (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "timedelta"
            )
            assert not numeric, f"{name}:{node.lineno} binds a number"
            assert not duration, f"{name}:{node.lineno} binds a duration"


def test_every_threshold_field_is_read_by_an_engine() -> None:
    source = "".join(
        (ROOT / "src" / "lutetia" / "guideline" / name).read_text() for name in GUIDELINE_MODULES
    )
    unread = [name for name in threshold_fields() if f".{name}" not in source]
    assert not unread, f"fields no engine reads: {unread}"


def test_a_site_profile_changes_selection_and_the_reported_threshold() -> None:
    # Platelets 90/nL: above the published 75/nL, below a site's 100/nL.
    data = copy.deepcopy(SELECTION)
    for lab in data["labs"]:
        if lab["analyte"] == "platelets":
            lab["value"] = 90.0
    case = case_from_mapping(data)
    published = assess_case(case)
    assert "contraindication.myelosuppression.platelets" not in codes(published)
    strict = assess_case(case, Settings(ruleset=profile(platelets_below_per_nl=100)))
    found = codes(strict)["contraindication.myelosuppression.platelets"]
    assert found["threshold"]["value"] == 100.0
    assert strict["ruleset"]["name"] == "site-test"
    assert strict["ruleset"]["changes"] == {"platelets_below_per_nl": 100}
    assert published["ruleset"]["name"] == "eanm-snmmi-2023"


def four_days_old() -> dict[str, Any]:
    """01-vision-eligible with every lab 4 days before ``as_of``."""
    data = copy.deepcopy(SELECTION)
    day = (date.fromisoformat(data["as_of"]) - timedelta(days=4)).isoformat()
    for lab in data["labs"]:
        lab["date"] = day
    return data


def test_a_site_profile_changes_lab_age_and_consent_lead() -> None:
    # Labs 4 days old: fresh under the published 5 days, stale under a site's 3.
    case = case_from_mapping(four_days_old())
    assert "labs.stale" not in codes(assess_case(case))
    stale = codes(assess_case(case, Settings(ruleset=profile(stale_after_days=3))))
    assert stale["labs.stale"]["threshold"]["value"] == 3
    # The run's --consent-lead-h wins over the profile's; without it the profile's applies.
    settings = Settings(ruleset=profile(consent_lead_h=48.0))
    assert settings.lead_h == 48.0
    assert Settings(ruleset=profile(consent_lead_h=48.0), consent_lead_h=12.0).lead_h == 12.0


def test_a_site_profile_changes_the_next_cycle_decision() -> None:
    # A grade-2 count on the scheduled date reduces by 20 % as published, by 30 % here.
    data = json.loads((EXAMPLES / "23-course-grade2-scheduled.json").read_text())
    case = case_from_mapping(data)
    published = decide_next_cycle(case)
    site_run = decide_next_cycle(case, Settings(ruleset=profile(reduction_factor=0.7)))
    assert published["decision"] == site_run["decision"] == "reduce"
    assert published["activity_gbq"] == pytest.approx(published["planned_activity_gbq"] * 0.8)
    assert site_run["activity_gbq"] == pytest.approx(site_run["planned_activity_gbq"] * 0.7)


def test_a_site_profile_changes_the_plan() -> None:
    case = case_from_mapping(copy.deepcopy(COURSE))
    rules = profile(interval="P5W", max_cycles=4, restaging_every="P8W", interim_labs_from="P10D")
    dates = [day for day, _, _ in cycle_dates(case, rules)]
    assert len(dates) == 4
    assert dates[3] - dates[2] == timedelta(weeks=5)
    events = schedule(case, rules)
    first = dates[0]
    restaging = [e.date for e in events if e.kind == "restaging"]
    assert restaging[0] == first + timedelta(weeks=8)
    interim = next(e for e in events if e.kind == "interim_labs")
    assert interim.date == first + timedelta(days=10)
    assert "10–21 days" in interim.description
    cycles = [e for e in events if e.kind == "cycle"]
    assert cycles[0].description.startswith("Cycle 1 of 4:")


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=20.0, max_value=300.0))
def test_the_myelosuppression_edge_follows_any_profile(limit: float) -> None:
    # Property: under any platelet limit, a value a step below fires and the limit itself
    # does not, and the finding reports that limit.
    rules = profile(platelets_below_per_nl=limit)
    for value, fires in ((limit * (1 - 1e-6), True), (limit, False)):
        data = copy.deepcopy(SELECTION)
        for lab in data["labs"]:
            if lab["analyte"] == "platelets":
                lab["value"] = value
        found = codes(assess_case(case_from_mapping(data), Settings(ruleset=rules)))
        hit = found.get("contraindication.myelosuppression.platelets")
        assert (hit is not None) is fires
        if hit is not None:
            assert hit["threshold"]["value"] == limit


# --- Provenance -----------------------------------------------------------------------------


def test_the_published_profile_is_built_in_and_reproducible() -> None:
    assert load_ruleset("eanm-snmmi-2023") is EANM_SNMMI_2023
    assert BUILTIN == {"eanm-snmmi-2023": EANM_SNMMI_2023}
    assert ruleset_from_provenance(EANM_SNMMI_2023.provenance()) is EANM_SNMMI_2023


def test_a_site_profile_is_rebuilt_from_a_document_alone() -> None:
    rules = profile(stale_after_days=3, washout="P6W")
    rebuilt = ruleset_from_provenance(rules.provenance())
    assert rebuilt == rules
    assert rebuilt.washout == timedelta(weeks=6)
    assert rebuilt.thresholds()["washout"] == "P6W"
    with pytest.raises(BadInputError, match="version '0' is not built in"):
        ruleset_from_provenance({"name": "eanm-snmmi-2023", "version": "0", "based_on": None})
    with pytest.raises(BadInputError) as caught:
        ruleset_from_provenance({**rules.provenance(), "changes": {"washout": "P0D"}})
    assert caught.value.field == "changes.washout"


def test_thresholds_are_json_ready() -> None:
    shown = EANM_SNMMI_2023.thresholds()
    assert set(shown) == set(threshold_fields())
    assert shown["interval"] == "P6W"
    assert shown["spect_from"] == "P1D"
    json.dumps(shown)


# --- A wrong profile is refused, naming the field ---------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"platelets_below_per_nl": "75"}, "changes.platelets_below_per_nl"),
        ({"platelets_below_per_nl": True}, "changes.platelets_below_per_nl"),
        ({"platelets_below_per_nl": -1}, "changes.platelets_below_per_nl"),
        ({"platelets_below_per_nl": 0}, "changes.platelets_below_per_nl"),
        ({"platelets_below_per_nl": math.inf}, "changes.platelets_below_per_nl"),
        ({"platelets_below_per_nl": math.nan}, "changes.platelets_below_per_nl"),
        ({"max_cycles": 6.5}, "changes.max_cycles"),
        ({"max_cycles": "6"}, "changes.max_cycles"),
        ({"reduction_factor": 1.2}, "changes.reduction_factor"),
        ({"psa_progression_above": 25}, "changes.psa_progression_above"),
        ({"nonhematologic_grade_at_least": 6}, "changes.nonhematologic_grade_at_least"),
        ({"interval": 42}, "changes.interval"),
        ({"interval": "6 weeks"}, "changes.interval"),
        ({"interval": "PT6H"}, "changes.interval"),
        ({"interval": "P0D"}, "changes.interval"),
        ({"reduced_renal_low_ml_min": 60}, "changes.reduced_renal_low_ml_min"),
        ({"interim_labs_from": "P4W"}, "changes.interim_labs_from"),
        ({"unknown_threshold": 1}, "changes.unknown_threshold"),
        ({"name": "x"}, "changes.name"),
    ],
)
def test_a_bad_change_is_refused_naming_it(change: dict[str, object], field: str) -> None:
    with pytest.raises(BadInputError) as caught:
        ruleset_from_mapping(site(**change))
    assert caught.value.field == field, caught.value
    assert isinstance(caught.value.reason, str)
    assert len(caught.value.reason) > 10, caught.value.reason


def test_the_errors_say_what_is_wrong() -> None:
    with pytest.raises(BadInputError, match=r"ISO 8601 days or weeks \('P28D', 'P4W'\)"):
        ruleset_from_mapping(site(interval="6w"))
    with pytest.raises(BadInputError, match=r"P2W is above ruleset\.interim_labs_until \(P1W\)"):
        ruleset_from_mapping(site(interim_labs_from="P2W", interim_labs_until="P1W"))
    with pytest.raises(BadInputError, match="a fraction: it must lie in"):
        ruleset_from_mapping(site(reduction_factor=2))


def test_the_edges_of_the_ranges_are_allowed() -> None:
    # A fraction may be 1 (no reduction at all), a grade 1 or 5; the version is the file's.
    rules = profile(
        reduction_factor=1.0,
        hematologic_scheduled_grade_at_least=1,
        life_threatening_grade_at_least=5,
    )
    assert (rules.reduction_factor, rules.version, rules.based_on) == (1.0, "3", "eanm-snmmi-2023")
    assert rules.hematologic_scheduled_grade_at_least == 1
    assert rules.life_threatening_grade_at_least == 5
    with pytest.raises(BadInputError, match=r"ruleset\.washout"):
        Ruleset(washout=timedelta(days=28, hours=12))
    with pytest.raises(BadInputError, match=r"ruleset\.washout"):
        Ruleset(washout=timedelta(days=28, microseconds=1))
    with pytest.raises(BadInputError) as caught:
        Ruleset(name=" ")
    assert (caught.value.field, caught.value.reason) == ("ruleset.name", "a profile needs a name")


def test_a_window_of_one_day_is_a_window() -> None:
    # Ordered pairs may be equal (low ≤ high): a SPECT on day 1 exactly.
    rules = profile(spect_from="P1D", spect_until="P1D", interim_labs_from="P3W")
    assert rules.spect_from == rules.spect_until == timedelta(days=1)
    assert rules.interim_labs_from == rules.interim_labs_until


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"schema": "lutetia.ruleset/2"}, "schema"),
        ({"name": ""}, "name"),
        ({"name": "eanm-snmmi-2023"}, "name"),
        ({"version": None}, "version"),
        ({"reason": "  "}, "reason"),
        ({"based_on": "eanm-2019"}, "based_on"),
        ({"changes": {}}, "changes"),
        ({"changes": [1]}, "changes"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_profile_document_is_refused_naming_the_key(
    edit: dict[str, object], field: str
) -> None:
    document = {**site(stale_after_days=3), **edit}
    with pytest.raises(BadInputError) as caught:
        ruleset_from_mapping(document)
    assert caught.value.field == field, caught.value
    assert len(caught.value.reason) > 10, caught.value.reason
    with pytest.raises(BadInputError):
        ruleset_from_mapping([document])


def test_the_profile_object_cannot_be_built_invalid() -> None:
    with pytest.raises(BadInputError, match=r"ruleset\.max_cycles"):
        Ruleset(max_cycles=0)
    with pytest.raises(BadInputError, match=r"ruleset\.practice_activity_low_gbq"):
        Ruleset(practice_activity_low_gbq=10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        EANM_SNMMI_2023.max_cycles = 7  # type: ignore[misc]


def test_load_ruleset_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="is neither a built-in profile") as caught:
        load_ruleset(str(tmp_path / "absent.json"))
    assert caught.value.field == "--ruleset"
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(BadInputError, match="cannot read the ruleset") as caught:
        load_ruleset(str(broken))
    assert caught.value.field == str(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(BadInputError, match="one JSON object") as caught:
        load_ruleset(str(listed))
    assert caught.value.field == str(listed)
    with pytest.raises(BadInputError) as caught:
        ruleset_from_provenance({"name": "nowhere", "version": "1", "based_on": None})
    assert caught.value.field == "ruleset"
    with pytest.raises(BadInputError, match="expected a duration") as caught:
        Ruleset(washout=28)  # type: ignore[arg-type]
    assert caught.value.field == "ruleset.washout"
    good = tmp_path / "site.json"
    good.write_text(json.dumps(site(stale_after_days=4)))
    assert load_ruleset(str(good)).stale_after_days == 4


# --- The command line ------------------------------------------------------------------------


def test_assess_and_next_cycle_run_under_a_site_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps(site(stale_after_days=3)))
    case = str(tmp_path / "case.json")
    Path(case).write_text(json.dumps(four_days_old()))
    assert main(["assess", case, "--json", "--ruleset", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ruleset"]["name"] == "site-test"
    assert codes(document)["labs.stale"]["threshold"]["value"] == 3
    assert main(["next-cycle", str(EXAMPLES / "21-course-proceed.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ruleset"]["name"] == "eanm-snmmi-2023"
    assert main(["rules", "--json", "--ruleset", str(path)]) == 0
    listed = json.loads(capsys.readouterr().out)["ruleset"]
    assert listed["thresholds"]["stale_after_days"] == 3
    assert listed["changes"] == {"stale_after_days": 3}


def test_a_bad_site_file_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps(site(stale_after_days=-3)))
    case = str(EXAMPLES / "01-vision-eligible.json")
    for command in ("assess", "next-cycle", "schedule"):
        assert main([command, case, "--json", "--ruleset", str(path)]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert "changes.stale_after_days" in err
        assert "Traceback" not in err


def test_the_module_has_no_public_numbers_outside_the_profile() -> None:
    # The published values live only as the dataclass's defaults.
    loose = [
        name
        for name, value in vars(rs).items()
        if not name.startswith("_")
        and isinstance(value, (int, float, timedelta, date))
        and not isinstance(value, bool)
    ]
    assert loose == []


def test_messages_state_the_numbers_of_the_profile_in_force() -> None:
    # The class of defect: a message typed with the published number ("below 30 mL/min",
    # "reduce by 20 %") beside a threshold from the profile. Under the published profile the
    # messages are the reviewed ones (tests/test_golden.py); under a site's they follow it.
    rules = profile(gfr_failure_below_ml_min=35, reduction_factor=0.7, consent_lead_h=48.0)
    data = copy.deepcopy(SELECTION)
    for lab in data["labs"]:
        if lab["analyte"] == "egfr":
            lab["value"] = 33.0
    data["consent"] = {}
    found = codes(assess_case(case_from_mapping(data), Settings(ruleset=rules)))
    assert "below 35 mL/min" in found["contraindication.organ_failure.gfr"]["message"]
    assert (
        "discontinue if eGFR falls below 35 mL/min"
        in (found["precaution.reduced_renal_function"]["message"])
    )
    assert "required, 48 h before the first cycle" in found["consent.missing"]["message"]
    course = json.loads((EXAMPLES / "23-course-grade2-scheduled.json").read_text())
    decided = codes(decide_next_cycle(case_from_mapping(course), Settings(ruleset=rules)))
    assert (
        "reduce the activity by 30 %" in decided["toxicity.hematologic_grade2_scheduled"]["message"]
    )


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (1, "1 day"),
        (2, "2 days"),
        (10, "10 days"),
        (7, "1 week"),
        (14, "2 weeks"),
        (84, "12 weeks"),
    ],
)
def test_durations_in_words(days: int, words: str) -> None:
    assert rs.in_words(timedelta(days=days)) == words
