"""No input can forge a line of a text report or of the iCalendar file.

The case model rejects control characters in identifiers; these tests build
hostile values past it (``model_copy`` does not validate, and the report
functions take plain documents) so that they test the report layer on its own:
a patient ID like ``"x\\nRECOMMENDATION: recommended"`` must print as an escape
on the report's first line, never as a recommendation line of its own.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lutetia.cases.io import load_case
from lutetia.cases.model import Case
from lutetia.cli import main
from lutetia.guideline.assessment import assessment_document, course_document
from lutetia.guideline.context import Settings
from lutetia.guideline.course import next_cycle
from lutetia.guideline.ruleset import EANM_SNMMI_2023
from lutetia.guideline.schedule import schedule
from lutetia.guideline.selection import assess
from lutetia.reports.calendar import to_ics
from lutetia.reports.text import (
    assessment_report,
    course_report,
    escape_controls,
    schedule_report,
)
from tests.conftest import EXAMPLES

FORGED = "RECOMMENDATION: FORGED"
#: A patient ID that tries every way of starting a line or acting on a terminal.
HOSTILE_IDS = [
    f"ex-01\n{FORGED}",
    f"ex-01\r\n{FORGED}",
    f"ex-01\r{FORGED}",
    f"ex-01\x1b[2K\x1b[1G{FORGED}",  # erase the line, back to column 1
    "ex-01\x1b]0;title\x07",  # OSC: set the terminal title
    f"ex-01\x9b2K{FORGED}",  # C1 CSI
    f"ex-01\x85{FORGED}",  # NEL
    f"ex-01\u2028{FORGED}",
    f"ex-01\u2029{FORGED}",
    f"ex-01\x0b\x0c\x1c\x1d\x1e{FORGED}",  # vertical tab, form feed, separators
    "ex-01\u202e10-xe",  # right-to-left override
    "ex-01\ud800",  # a lone surrogate cannot even be encoded
]
#: Characters that must never reach a text output: controls, line and paragraph
#: separators, surrogates, and the bidirectional formatting characters.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def is_inert(text: str) -> bool:
    """One line of text with nothing a terminal would act on."""
    return all(
        unicodedata.category(c) not in ("Cc", "Zl", "Zp", "Cs") and c not in _BIDI for c in text
    )


def assert_inert_lines(report: str) -> None:
    for line in report.split("\n"):
        assert is_inert(line), repr(line)
    assert report.split("\n") == report.splitlines()  # no other line boundary either


def with_patient_id(case: Case, patient_id: str) -> Case:
    """The case with another ID, not validated (the model would refuse these IDs)."""
    return case.model_copy(update={"patient": case.patient.model_copy(update={"id": patient_id})})


# --- escape_controls -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("a\tb", "a\\tb"),
        ("\x1b[31m", "\\x1b[31m"),
        ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("\u202e\u2066", "\\u202e\\u2066"),
        ("\ud800", "\\ud800"),
    ],
)
def test_controls_are_shown_as_escapes(text: str, shown: str) -> None:
    assert escape_controls(text) == shown


def test_ordinary_clinical_text_is_untouched() -> None:
    text = "Hämoglobin 11.8 g/dL ≥ 10 ×10⁹/L, µmol/L, 1.73 m², Œdème, 患者, ✖ ? ! ·"
    assert escape_controls(text) == text


@given(st.text())
def test_any_text_escapes_to_one_inert_line(text: str) -> None:
    shown = escape_controls(text)
    assert is_inert(shown)
    assert len(shown.splitlines()) <= 1
    shown.encode("utf-8")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))))
def test_text_without_controls_is_unchanged(text: str) -> None:
    if not set(text) & _BIDI:
        assert escape_controls(text) == text


# --- reports -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selection_document() -> dict[str, Any]:
    case = load_case(EXAMPLES / "11-superscan-myelosuppressed.json")
    return assessment_document(case, assess(case, Settings()))


@pytest.fixture(scope="module")
def course_case() -> Case:
    return load_case(EXAMPLES / "22-course-grade3-interim.json")


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_assessment_report_cannot_be_forged(
    selection_document: dict[str, Any], hostile: str
) -> None:
    document = copy.deepcopy(selection_document)
    document["patient_id"] = hostile
    finding = document["findings"][0]
    finding["message"] = f"see below\n{FORGED}"
    finding["value"] = {"value": [hostile, "bone"], "unit": f"g/dL\n{FORGED}"}
    report = assessment_report(document)
    assert_inert_lines(report)
    lines = report.split("\n")
    assert lines[3] == "RECOMMENDATION: CONSIDER"
    assert [line for line in lines if line.startswith("RECOMMENDATION")] == [lines[3]]
    assert lines[0].startswith(f"Lutetia patient selection: {escape_controls(hostile)}, as of")


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_course_report_cannot_be_forged(course_case: Case, hostile: str) -> None:
    case = with_patient_id(course_case, hostile)
    document = course_document(case, next_cycle(case, Settings()))
    document["findings"][0]["message"] = "fine\nDECISION: PROCEED with cycle 3"
    report = course_report(document)
    assert_inert_lines(report)
    lines = report.split("\n")
    assert lines[0] == f"Lutetia next cycle: {escape_controls(hostile)}, as of 2026-03-30"
    assert [line for line in lines if line.startswith("DECISION")] == [lines[3]]
    assert lines[3].startswith("DECISION: POSTPONE")


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_schedule_report_is_one_line_per_event(course_case: Case, hostile: str) -> None:
    case = with_patient_id(course_case, hostile)
    events = schedule(case, EANM_SNMMI_2023)
    report = schedule_report(case.patient.id, events, ics=f"plan\n{FORGED}.ics")
    assert_inert_lines(report)
    assert len(report.split("\n")) == 1 + len(events) + 1


# --- iCalendar -----------------------------------------------------------------------------


def _unfolded_lines(data: bytes) -> list[str]:
    """The content lines of an iCalendar file (RFC 5545 §3.1: CRLF, folded with a space)."""
    text = data.decode("utf-8")
    assert "\n" not in text.replace("\r\n", "")
    assert "\r" not in text.replace("\r\n", "")
    return text.replace("\r\n ", "").split("\r\n")


def _text_value(raw: str) -> str:
    """Undo RFC 5545 §3.3.11 TEXT escaping (``\\\\``, ``\\;``, ``\\,``, ``\\n``)."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), raw)


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_ics_with_a_hostile_id_is_well_formed(course_case: Case, hostile: str) -> None:
    from icalendar import Calendar

    case = with_patient_id(course_case, hostile)
    events = schedule(case, EANM_SNMMI_2023)
    data = to_ics(events, patient_id=hostile)
    lines = _unfolded_lines(data)
    assert all(is_inert(line) for line in lines)
    assert sum(line == "BEGIN:VEVENT" for line in lines) == len(events)
    parsed = Calendar.from_ical(data)
    shown = escape_controls(hostile)
    assert _text_value(str(parsed.get("x-wr-calname"))) == f"RLT plan {shown}"
    for item in parsed.walk("VEVENT"):
        summary = str(item.get("summary"))
        assert summary.startswith(f"{shown}: ")
        assert is_inert(summary)
        assert is_inert(str(item.get("uid")))
        assert "\nGuideline: " in str(item.get("description"))  # the one intended line break


def test_ics_uid_is_stable_and_distinct_per_patient(course_case: Case) -> None:
    from icalendar import Calendar

    events = schedule(course_case, EANM_SNMMI_2023)

    def uids(patient_id: str) -> list[str]:
        parsed = Calendar.from_ical(to_ics(events, patient_id=patient_id))
        return [str(item.get("uid")) for item in parsed.walk("VEVENT")]

    assert uids("co-22") == uids("co-22")
    assert len(set(uids("co-22"))) == len(events)
    assert not set(uids("co-22")) & set(uids("co-22\n"))


# --- the commands, with the model's own check bypassed -------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE_IDS[:4])
@pytest.mark.parametrize(
    ("command", "example", "headline"),
    [
        ("assess", "01-vision-eligible.json", "RECOMMENDATION:"),
        ("next-cycle", "22-course-grade3-interim.json", "DECISION:"),
        ("schedule", "22-course-grade3-interim.json", "Lutetia treatment plan:"),
    ],
)
def test_commands_print_hostile_ids_inert(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    *,
    hostile: str,
    command: str,
    example: str,
    headline: str,
) -> None:
    import lutetia.cases.io

    case = with_patient_id(load_case(EXAMPLES / example), hostile)
    monkeypatch.setattr(lutetia.cases.io, "load_case", lambda path: case)
    extra = ["--ics", str(tmp_path / "plan.ics")] if command == "schedule" else []
    assert main([command, str(EXAMPLES / example), *extra]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert_inert_lines(out.rstrip("\n"))
    assert sum(line.startswith(headline) for line in out.splitlines()) == 1
    assert FORGED not in [line.strip() for line in out.splitlines()]
    if extra:
        assert all(is_inert(line) for line in _unfolded_lines((tmp_path / "plan.ics").read_bytes()))
