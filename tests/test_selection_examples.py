"""The example cases: each one's expected outcome, and together every selection code.

Each file in examples/cases/ states what a clinician expects of it under
``extensions.lutetia_example`` (recommendation, indication, codes that must
be found), or the field a bad-input error must name (``expected_bad_input``).
The spec's own example is bad input: it dates cycle 1 and its adverse events
after its ``as_of`` (exit 2, naming ``course.cycles[0].date``); its selection
is checked by hand below on 35-course-skeletal-event-untreated.json, the same
case dated consistently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lutetia.cases.io import load_case
from lutetia.cli import main
from lutetia.errors import BadInputError
from lutetia.guideline.assessment import assessment_document
from lutetia.guideline.selection import assess, selection_codes
from tests.conftest import EXAMPLES, shared_spec


def stated(path: Path) -> dict[str, Any]:
    """``extensions.lutetia_example`` of an example, read without validating the case."""
    text = path.read_text()
    raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    found: dict[str, Any] = raw.get("extensions", {}).get("lutetia_example", {})
    return found


EVERY_FILE = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
#: Examples that are bad input, and the field the error must name. The spec's example
#: is kept identical to spec/case-format.md, so its expectation is stated here; any
#: other example may state it as ``extensions.lutetia_example.expected_bad_input``.
BAD_INPUT: dict[Path, str] = {
    EXAMPLES / "spec-example.json": "course.cycles[0].date",
    **{p: stated(p)["expected_bad_input"] for p in EVERY_FILE if "expected_bad_input" in stated(p)},
}
CASES = [p for p in EVERY_FILE if p not in BAD_INPUT]
DOCUMENTED = [p for p in CASES if "expected_recommendation" in stated(p)]


def run(path: Path) -> dict[str, Any]:
    case = load_case(path)
    return assessment_document(case, assess(case))


def expectation(path: Path) -> dict[str, Any]:
    expected: dict[str, Any] = load_case(path).extensions["lutetia_example"]
    return expected


def test_at_least_twelve_examples() -> None:
    assert len(DOCUMENTED) >= 12


@pytest.mark.parametrize("path", DOCUMENTED, ids=[p.name for p in DOCUMENTED])
def test_example_outcome(path: Path) -> None:
    document = run(path)
    expected = expectation(path)
    codes = {f["code"] for f in document["findings"]}
    assert document["recommendation"] == expected["expected_recommendation"]
    assert document["indication"]["code"] == expected["expected_indication"]
    assert set(expected["expected_codes"]) <= codes, set(expected["expected_codes"]) - codes


def test_spec_example_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    """Cycle 1 (2026-03-03) is dated after as_of (2026-03-02): rejected, exit 2, one line."""
    path = EXAMPLES / "spec-example.json"
    with pytest.raises(BadInputError) as raised:
        load_case(path)
    assert raised.value.field == "course.cycles[0].date"
    assert "after as_of 2026-03-02" in raised.value.reason
    assert main(["assess", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "course.cycles[0].date" in err


def test_spec_example_dated_consistently() -> None:
    # The spec's case with as_of after its course (35-course-skeletal-event-untreated.json).
    # Liver lesion 12 mm with SUVmax 3.1 < 0.5 x parotid 13.0 = 6.5: excluded.
    document = run(EXAMPLES / "35-course-skeletal-event-untreated.json")
    assert document["recommendation"] == "not_recommended"
    assert document["indication"] == {
        "code": "indication.post_taxane",
        "strength": "strong",
        "section": "Indications, 1",
        "message": document["indication"]["message"],
    }
    negative = next(f for f in document["findings"] if f["code"] == "imaging.psma_negative_lesion")
    assert negative["value"] == {"value": 3.1, "unit": None}
    assert negative["threshold"] == {"value": 6.5, "unit": None, "comparator": "<"}
    computed = next(f for f in document["findings"] if f["code"] == "labs.egfr_computed")
    assert "CKD-EPI 2021" in computed["message"]


def spec_selection_codes() -> set[str]:
    """Codes listed in spec/finding-codes.md outside the between-cycles table."""
    text = shared_spec("finding-codes.md").read_text()
    selection_part = text.split("## Between cycles")[0]
    found = set(re.findall(r"`((?:[a-z_]+\.)+[a-z_0-9]+)`", selection_part))
    # Field names quoted in the prose are not codes.
    return {code for code in found if not code.startswith(("course.", "lutetia."))}


def test_every_spec_selection_code_is_in_the_catalogue() -> None:
    missing = spec_selection_codes() - set(selection_codes())
    assert not missing


def selection_codes_found() -> set[str]:
    """Every indication and finding code that the example cases produce."""
    found: set[str] = set()
    for path in CASES:
        document = run(path)
        found.add(document["indication"]["code"])
        found.update(f["code"] for f in document["findings"])
    return found


def test_examples_trigger_every_selection_code() -> None:
    assert set(selection_codes()) - selection_codes_found() == set()


def test_examples_trigger_every_spec_selection_code() -> None:
    assert spec_selection_codes() - selection_codes_found() == set()


def test_json_output_contract() -> None:
    """Keys and types exactly as spec/case-format.md, "Output of lutetia assess"."""
    document = run(EXAMPLES / "11-superscan-myelosuppressed.json")
    assert document["schema"] == "lutetia.assessment/1"
    assert document["guideline"] == "EANM/SNMMI 177Lu-PSMA-RLT procedure guideline (2023)"
    assert document["recommendation"] in {
        "recommended", "consider", "not_recommended", "insufficient_data",
    }  # fmt: skip
    assert set(document["indication"]) >= {"code", "strength"}
    assert document["catalogue_version"]
    for item in document["findings"]:
        assert set(item) >= {"code", "kind", "section", "strength", "value", "threshold", "message"}
        assert item["strength"] in (None, "strong", "moderate", "weak")
        assert item["section"]
        if item["value"] is not None:
            assert set(item["value"]) == {"value", "unit"}
        if item["threshold"] is not None:
            assert set(item["threshold"]) == {"value", "unit", "comparator"}
    platelets = next(
        f
        for f in document["findings"]
        if f["code"] == "contraindication.myelosuppression.platelets"
    )
    assert platelets["kind"] == "relative_contraindication"
    assert platelets["section"] == "Contra-indications, Table 1"
    assert platelets["value"] == {"value": 60.0, "unit": "10*9/L"}
    assert platelets["threshold"] == {"value": 75, "unit": "10*9/L", "comparator": "<"}
    json.dumps(document)  # serialisable as is


def test_contract_validator_rejects_a_broken_document() -> None:
    from pydantic import ValidationError

    from lutetia.cases.assessment import validate_assessment

    document = run(EXAMPLES / "01-vision-eligible.json")
    broken = {**document, "recommendation": "maybe"}
    with pytest.raises(ValidationError):
        validate_assessment(broken)
    finding = dict(document["findings"][0])
    del finding["threshold"]
    with pytest.raises(ValidationError):
        validate_assessment({**document, "findings": [finding]})
