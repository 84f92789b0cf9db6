"""The course use cases shared by the CLI and the clinic: entries, plan status, stages."""

from __future__ import annotations

from datetime import date

import pytest

from lutetia.cases.io import load_case
from lutetia.errors import BadInputError
from lutetia.services.course import as_of, due_items, stage, with_entry
from tests.conftest import EXAMPLES


def test_plan_items_are_done_missed_open_or_untracked() -> None:
    """Example 21: cycles 1 and 2 given (2026-01-08, 2026-02-19), as_of 2026-03-30."""
    case = load_case(EXAMPLES / "21-course-proceed.json")
    items = {(d.event.kind, d.event.cycle): d.status for d in due_items(case)}
    assert items[("cycle", 1)] == items[("cycle", 2)] == "done"
    # no blood count in 2026-01-03..08 (it was drawn on 01-02) and cycle 2 came since: missed
    assert items[("lab_panel", 1)] == "missed"
    # the interim count after cycle 2 (2026-03-05..12) is not recorded, no cycle since: open
    assert items[("interim_labs", 2)] == "open"
    assert items[("post_therapy_scan", 1)] == "untracked"
    assert items[("cycle", 3)] == "open"


def test_no_plan_before_a_first_cycle_is_planned() -> None:
    case = load_case(EXAMPLES / "01-vision-eligible.json")
    assert due_items(case) == []


def test_an_entry_is_validated_with_the_whole_case_and_names_its_field() -> None:
    import json

    document = json.loads((EXAMPLES / "21-course-proceed.json").read_text())
    entry = {"analyte": "creatinine", "value": 80, "unit": "mg/dL", "date": "2026-03-29"}
    with pytest.raises(BadInputError) as error:
        with_entry(document, "labs", entry, date(2026, 3, 30))
    assert error.value.field.startswith(f"labs[{len(document['labs'])}]")
    good = {"analyte": "creatinine", "value": 0.9, "unit": "mg/dL", "date": "2026-03-29"}
    new, case = with_entry(document, "labs", good, date(2026, 3, 30))
    assert len(new["labs"]) == len(document["labs"]) + 1
    assert len(case.labs) == len(new["labs"])
    assert "extensions" not in document or document["extensions"] == new.get("extensions")


def test_as_of_moves_forward_never_back() -> None:
    document = {"as_of": "2026-03-30"}
    assert as_of(document, date(2026, 4, 2))["as_of"] == "2026-04-02"
    assert as_of(document, date(2026, 3, 1))["as_of"] == "2026-03-30"
    assert document == {"as_of": "2026-03-30"}


@pytest.mark.parametrize(
    ("example", "signed", "expected"),
    [
        ("01-vision-eligible.json", {}, "consented"),
        ("14-incomplete-workup.json", {}, "candidate"),
        ("14-incomplete-workup.json", {"selection": "recommended"}, "assessed"),
        ("06-history-incomplete.json", {"selection": "not_recommended"}, "discontinued"),
        ("21-course-proceed.json", {}, "in_treatment"),
        ("32-course-complete.json", {}, "follow_up"),
        ("21-course-proceed.json", {"next_cycle": "discontinue"}, "discontinued"),
        ("32-course-complete.json", {"next_cycle": "complete"}, "completed"),
    ],
)
def test_stage_follows_the_case_and_the_signed_decisions(
    example: str, signed: dict[str, str], expected: str
) -> None:
    assert stage(load_case(EXAMPLES / example), signed) == expected
