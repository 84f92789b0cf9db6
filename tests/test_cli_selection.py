"""``lutetia assess`` and ``lutetia rules`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lutetia.cli import main
from tests.conftest import EXAMPLES


def test_assess_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", str(EXAMPLES / "01-vision-eligible.json"), "--json"]) == 0
    out = capsys.readouterr().out
    document = json.loads(out)
    assert document["recommendation"] == "recommended"


def test_assess_report_leads_with_the_recommendation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", str(EXAMPLES / "11-superscan-myelosuppressed.json")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[3] == "RECOMMENDATION: CONSIDER"
    assert lines[4].startswith("Indication: indication.post_taxane (strong; Indications, 1)")
    assert "Relative contra-indications" in out
    assert "Contra-indications, Table 1" in out
    assert "×10⁹/L" in out


def test_rules_lists_every_code_with_provenance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rules = {r["code"]: r for r in document["rules"]}
    assert rules["imaging.psma_pet_missing"]["strength"] == "strong"
    assert rules["imaging.liver_metastases_fdg"]["strength"] == "weak"
    assert rules["indication.taxane_naive_docetaxel_unsuitable"]["strength"] == "moderate"
    high_ldh = rules["prognostic.high_ldh"]["cutoff"]
    assert high_ldh["value"] == 276.5
    assert "PMC9525362" in high_ldh["source"]
    assert all(r["section"] for r in rules.values())


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"schema": "lutetia.case/1", "as_of": "2026-01-01"', "malformed JSON"),
        ('{"schema": "lutetia.case/1", "as_of": "2026-01-01", "patient": {"id": "x"}, '
         '"performance": {"ecog": 7}}', "performance.ecog"),
        ('{"schema": "lutetia.case/1", "as_of": "2026-01-01", "patient": {"id": "x"}, '
         '"labs": [{"analyte": "wbc", "value": -1, "unit": "10*9/L", "date": "2025-12-30"}]}',
         "labs[0].value"),
        ('{"schema": "lutetia.case/1", "as_of": "2026-01-01", "patient": {"id": "x"}, '
         '"labs": [{"analyte": "wbc", "value": 4, "unit": "10*9/L", "date": "2026-02-01"}]}',
         "labs[0].date"),
        ('{"schema": "lutetia.case/1", "as_of": "2026-01-01", "patient": {"id": "x", "nmae": 1}}',
         "patient.nmae"),
    ],
)  # fmt: skip
def test_bad_case_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    path = tmp_path / "case.json"
    path.write_text(content)
    assert main(["assess", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
