"""Course examples: each one's expected decision; together every between-cycles code.

Each course file in examples/cases/ states the decision a clinician expects
(``extensions.lutetia_example``) and the codes that must be among the
findings. The spec's own example dates cycle 1 and its adverse events after
its ``as_of``: it is bad input (exit 2, naming ``course.cycles[0].date``);
35-course-skeletal-event-untreated.json is the same case dated consistently
(a skeletal event not yet treated must hold).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lutetia.cases.io import load_case
from lutetia.cli import main
from lutetia.errors import BadInputError
from lutetia.guideline.assessment import course_document
from lutetia.guideline.course import next_cycle
from tests.conftest import EXAMPLES, shared_spec
from tests.test_selection_examples import BAD_INPUT, CASES, stated

COURSES = [p for p in CASES if "expected_decision" in stated(p)]


def run(path: Path) -> dict[str, Any]:
    case = load_case(path)
    return course_document(case, next_cycle(case))


def test_at_least_ten_course_examples() -> None:
    assert len(COURSES) >= 10


@pytest.mark.parametrize("path", COURSES, ids=[p.name for p in COURSES])
def test_course_example(path: Path) -> None:
    document = run(path)
    expected = load_case(path).extensions["lutetia_example"]
    codes = {f["code"] for f in document["findings"]}
    assert document["decision"] == expected["expected_decision"]
    assert set(expected["expected_codes"]) <= codes, set(expected["expected_codes"]) - codes
    if expected.get("expected_activity_gbq") is not None:
        assert document["activity_gbq"] == pytest.approx(expected["expected_activity_gbq"])
    if expected.get("expected_earliest_date") is not None:
        assert document["earliest_date"] == expected["expected_earliest_date"]
    if document["decision"] in ("hold", "discontinue", "complete"):
        assert document["earliest_date"] is None
        assert document["activity_gbq"] is None


def test_untreated_skeletal_event_holds() -> None:
    """The spec's example, dated consistently (as_of after cycle 1 and its events)."""
    document = run(EXAMPLES / "35-course-skeletal-event-untreated.json")
    assert document["decision"] == "hold"
    assert document["earliest_date"] is None
    skeletal = next(f for f in document["findings"] if f["code"] == "toxicity.skeletal_event")
    assert skeletal["section"] == "Management of side effects, 5"


@pytest.mark.parametrize("path", sorted(BAD_INPUT), ids=[p.name for p in sorted(BAD_INPUT)])
def test_bad_input_example_exits_2_naming_the_field(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    field = BAD_INPUT[path]
    with pytest.raises(BadInputError) as raised:
        load_case(path)
    assert raised.value.field == field
    assert main(["next-cycle", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert field in err


def between_cycles_codes() -> set[str]:
    text = shared_spec("finding-codes.md").read_text().split("## Between cycles")[1]
    return set(re.findall(r"^\| `([a-z_.0-9]+)`", text, re.MULTILINE))


def test_examples_cover_every_between_cycles_code() -> None:
    found: set[str] = set()
    for path in COURSES:
        found.update(f["code"] for f in run(path)["findings"])
    assert between_cycles_codes() - found == set()


def test_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    document = run(EXAMPLES / "23-course-grade2-scheduled.json")
    assert document["schema"] == "lutetia.assessment/1"
    assert {"decision", "activity_gbq", "earliest_date", "recommendation", "indication"} <= set(
        document
    )
    # 7.4 GBq less 20 % (spec/case-format.md).
    assert document["activity_gbq"] == pytest.approx(5.92)
