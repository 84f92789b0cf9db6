"""Every example's full output, word for word, against a reviewed copy in tests/golden/.

The outcome tests (tests/test_selection_examples.py, tests/test_course_examples.py) check
each example's decision and codes; this one checks everything a clinician reads: every
finding's message, section, strength, value, threshold and details, the next-cycle
document and the schedule. A changed word in a rule's message, a dropped field or a
changed date fails here, so that the change is looked at (mutation testing showed that
without it, most message texts could be changed with the suite green).

After an intended change, rewrite the copies and review the diff before committing::

    LUTETIA_UPDATE_GOLDEN=1 uv run pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from lutetia.cases.io import load_case
from lutetia.errors import BadInputError
from lutetia.guideline.assessment import assessment_document, course_document
from lutetia.guideline.course import next_cycle
from lutetia.guideline.ruleset import EANM_SNMMI_2023
from lutetia.guideline.schedule import schedule
from lutetia.guideline.selection import assess
from tests.test_selection_examples import CASES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LUTETIA_UPDATE_GOLDEN") == "1"


def outputs(path: Path) -> dict[str, Any]:
    """What ``assess``, ``next-cycle`` and ``schedule`` give for the example (as JSON)."""
    case = load_case(path)
    document: dict[str, Any] = {"assess": assessment_document(case, assess(case))}
    document["assess"].pop("lutetia_version")
    if case.course is not None:
        try:
            course = course_document(case, next_cycle(case))
            course.pop("lutetia_version")
            document["next_cycle"] = course
        except BadInputError as error:
            document["next_cycle"] = {"bad_input": error.field}
        try:
            document["schedule"] = [event.as_json() for event in schedule(case, EANM_SNMMI_2023)]
        except BadInputError as error:
            document["schedule"] = {"bad_input": error.field}
    # Through JSON, as the CLI writes it (tuples become lists, dates strings).
    loaded: dict[str, Any] = json.loads(json.dumps(document, ensure_ascii=False))
    return loaded


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_example_output_is_the_reviewed_one(path: Path) -> None:
    golden = GOLDEN / f"{path.stem}.json"
    actual = outputs(path)
    if UPDATE:
        golden.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n")
    assert golden.exists(), f"no reviewed output for {path.name}: run with LUTETIA_UPDATE_GOLDEN=1"
    expected = json.loads(golden.read_text())
    assert same(actual, expected), f"{path.name}: {first_difference(actual, expected)}"


def same(actual: Any, expected: Any) -> bool:
    """Equal, numbers to 1e-9 relative (arithmetic may be regrouped; words may not change)."""
    return first_difference(actual, expected) is None


def first_difference(actual: Any, expected: Any, where: str = "") -> str | None:
    """Where the two documents first differ, and how; None when they do not."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in [*expected, *(k for k in actual if k not in expected)]:
            if key not in actual or key not in expected:
                return f"{where}.{key}: present in only one of them"
            found = first_difference(actual[key], expected[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(actual, list) and isinstance(expected, list):
        if len(actual) != len(expected):
            return f"{where}: {len(actual)} items, reviewed {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            found = first_difference(a, e, f"{where}[{i}]")
            if found:
                return found
        return None
    numbers = (int, float)
    if (
        isinstance(actual, numbers)
        and isinstance(expected, numbers)
        and not isinstance(actual, bool)
        and not isinstance(expected, bool)
    ):
        ok = math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)
    else:
        ok = type(actual) is type(expected) and actual == expected
    return None if ok else f"{where}: {actual!r}, reviewed {expected!r}"


def test_the_comparison_sees_a_changed_word_and_ignores_rounding() -> None:
    assert same({"a": [1.0, "x"]}, {"a": [1.0 + 1e-15, "x"]})
    assert not same({"a": [1.0, "x"]}, {"a": [1.0, "y"]})
    assert not same({"a": 1.0}, {"a": 1.001})
    assert not same({"a": 1}, {"a": 1, "b": None})
    assert not same({"a": True}, {"a": 1})


def test_every_reviewed_output_has_its_example() -> None:
    stems = {p.stem for p in CASES}
    orphans = sorted(p.name for p in GOLDEN.glob("*.json") if p.stem not in stems)
    assert not orphans, f"reviewed outputs without an example: {orphans}"
