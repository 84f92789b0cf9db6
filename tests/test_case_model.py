"""The ``lutetia.case/1`` model: the specification's example, YAML, and bad input."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from lutetia.cases.io import case_from_mapping, load_case
from lutetia.errors import BadInputError
from tests.conftest import EXAMPLES, SHARED_SPEC


def test_bundled_example_is_the_spec_example() -> None:
    spec = (SHARED_SPEC / "case-format.md").read_text()
    block = re.search(r"```json\n(\{\n  \"schema\": \"lutetia.case/1\".*?)\n```", spec, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == json.loads((EXAMPLES / "spec-example.json").read_text())


def test_spec_example_loads_and_converts(spec_case: dict[str, Any]) -> None:
    case = case_from_mapping(spec_case)
    labs = {lab.analyte: lab for lab in case.labs}
    assert labs["creatinine"].canonical_value == pytest.approx(88 / 88.4, rel=1e-3)
    assert labs["creatinine"].canonical_uln == pytest.approx(106 / 88.4, rel=1e-3)
    assert labs["testosterone"].canonical_value == pytest.approx(0.4 / 0.0347, rel=1e-3)
    assert case.treatments[0].treatment_class == "naad"
    assert case.consent.signed_at is not None
    assert isinstance(case.consent.signed_at, datetime)
    assert case.consent.signed_at.utcoffset() is not None
    assert case.age_years() == 73


def test_yaml_is_equivalent(tmp_path: Path, spec_case: dict[str, Any]) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(spec_case))
    assert load_case(path) == case_from_mapping(spec_case)


def test_yaml_native_dates_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "case.yml"
    path.write_text(
        "schema: lutetia.case/1\nas_of: 2026-03-02\npatient: {id: p1}\n"
        "consent: {signed_at: 2026-03-01T09:00:00+01:00}\n"
    )
    case = load_case(path)
    assert case.consent.signed_at is not None


Mutation = Callable[[dict[str, Any]], None]

BAD: list[tuple[str, Mutation, str, str]] = [
    ("unknown unit", lambda d: d["labs"][3].update(unit="foo"), "labs[3].unit", "unknown unit"),
    ("typo", lambda d: d["labs"][3].update(unti="g"), "labs[3].unti", "unknown field"),
    ("negative count", lambda d: d["labs"][1].update(value=-2), "labs[1].value", "negative"),
    ("ECOG 7", lambda d: d["performance"].update(ecog=7), "performance.ecog", "4"),
    (
        "naive datetime",
        lambda d: d["consent"].update(signed_at="2026-03-01T09:00:00"),
        "consent.signed_at",
        "UTC offset",
    ),
    ("lab after as_of", lambda d: d["labs"][0].update(date="2026-03-09"), "labs[0].date", "after"),
    (
        "scan after as_of",
        lambda d: d["psma_pet"].update(date="2026-03-09"),
        "psma_pet.date",
        "after",
    ),
    (
        "treatment after as_of",
        lambda d: d["treatments"][0].update(start="2027-01-01", end=None),
        "treatments[0].start",
        "after",
    ),
    ("bad class", lambda d: d["treatments"][0].update({"class": "nad"}), "treatments[0].class", ""),
    ("no id", lambda d: d["patient"].pop("id"), "patient.id", "missing"),
    ("wrong schema", lambda d: d.update(schema="lutetia.case/2"), "schema", "lutetia.case/1"),
    (
        "zero activity",
        lambda d: d["course"]["cycles"][0].update(activity_gbq=0),
        "course.cycles[0].activity_gbq",
        "",
    ),
    ("unit mix-up", lambda d: d["labs"][0].update(value=118), "labs[0].unit", "possible"),
    (
        "cycle numbering",
        lambda d: d["course"]["cycles"][0].update(number=2),
        "course.cycles[0].number",
        "expected 1",
    ),
    (
        "planned before last cycle",
        lambda d: d["course"].update(planned_date="2026-03-01"),
        "course.planned_date",
        "not after",
    ),
    ("bad date", lambda d: d.update(as_of="02/03/2026"), "as_of", ""),
    ("lln above uln", lambda d: d["labs"][4].update(lln=200), "labs[4].lln", "not below"),
]


@pytest.mark.parametrize(("label", "mutate", "path", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(
    spec_case: dict[str, Any], label: str, mutate: Mutation, path: str, needle: str
) -> None:
    data = copy.deepcopy(spec_case)
    mutate(data)
    with pytest.raises(BadInputError) as raised:
        case_from_mapping(data)
    assert raised.value.field == path, label
    assert needle in raised.value.reason


def test_extensions_take_anything(spec_case: dict[str, Any]) -> None:
    spec_case["extensions"] = {"site": {"ward": "B2", "anything": [1, 2]}}
    assert case_from_mapping(spec_case).extensions["site"]["ward"] == "B2"


def test_malformed_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "lutetia.case/1",')
    with pytest.raises(BadInputError, match="malformed JSON at line 1"):
        load_case(broken)
    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("schema: [unclosed\n")
    with pytest.raises(BadInputError, match="malformed YAML"):
        load_case(bad_yaml)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(BadInputError, match="one object"):
        load_case(listing)
    with pytest.raises(BadInputError, match="no such file"):
        load_case(tmp_path / "absent.json")
