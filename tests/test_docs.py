"""The project's own contract documents (docs/) agree with the code.

The generated files (finding codes, JSON Schemas) must equal what
``python -m lutetia.docs`` makes now; the hand-written pages must name every
command, option, case field and output key the code has, and their examples
must be what the code accepts and prints.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from lutetia import docs
from lutetia.cases.io import case_from_mapping, load_case
from lutetia.cases.model import Case
from lutetia.cli import COMMANDS, build_parser
from lutetia.errors import BadInputError
from lutetia.guideline.assessment import assessment_document, course_document
from lutetia.guideline.course import next_cycle
from lutetia.guideline.selection import assess
from tests.conftest import EXAMPLES, ROOT

DOCS = ROOT / "docs"
EVERY_FILE = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml", ".yml"))


def code_names(page: str) -> set[str]:
    """Every ``name`` written as inline code on a docs page."""
    return set(re.findall(r"`([^`\n]+)`", (DOCS / page).read_text(encoding="utf-8")))


def json_blocks(page: str) -> list[Any]:
    """The fenced ```json blocks of a docs page, parsed."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", text, re.S)]


# Generated files -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(docs.GENERATED))
def test_generated_file_is_up_to_date(name: str) -> None:
    path = DOCS / name
    fresh = docs.GENERATED[name]()
    assert path.is_file(), f"docs/{name} is missing; run `{docs.REGENERATE}` and commit it"
    assert path.read_text(encoding="utf-8") == fresh, (
        f"docs/{name} is out of date with the code; run `{docs.REGENERATE}` "
        "from the repository root and commit the result"
    )


def test_generator_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert docs.main(["--docs", str(tmp_path), "--check"]) == 1
    assert docs.REGENERATE in capsys.readouterr().out
    assert docs.main(["--docs", str(tmp_path)]) == 0
    assert docs.main(["--docs", str(tmp_path), "--check"]) == 0
    (tmp_path / "finding-codes.md").write_text("edited by hand\n", encoding="utf-8")
    assert docs.stale(tmp_path) == ["finding-codes.md"]


def test_finding_codes_page_lists_every_rule() -> None:
    import lutetia.guideline.course  # noqa: F401  (registers the between-cycles rules)
    from lutetia.guideline.catalogue import RULES

    rows = set(re.findall(r"^\| `([a-z_0-9.]+)` \|", docs.finding_codes(), re.M))
    assert set(RULES) <= rows


# The case schema -----------------------------------------------------------------------


def schema_errors(schema: dict[str, Any], value: Any, root: dict[str, Any], at: str) -> list[str]:
    """Errors of ``value`` against the JSON Schema keywords pydantic emits (a small subset of
    draft 2020-12: $ref, anyOf, type, enum, const, properties, required,
    additionalProperties, items, numeric bounds, minLength, pattern). ``format`` is not
    checked, as in a default JSON Schema validator."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return schema_errors(root["$defs"][name], value, root, at)
    if "anyOf" in schema:
        options = [schema_errors(s, value, root, at) for s in schema["anyOf"]]
        return [] if any(not o for o in options) else [f"{at}: matches no alternative"]
    errors: list[str] = []
    kind = schema.get("type")
    checks: dict[str, Callable[[Any], bool]] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    }
    if kind is not None and not checks[kind](value):
        return [f"{at}: {value!r} is not of type {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: {value!r} is not {schema['const']!r}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{at}.{k}: required" for k in schema.get("required", []) if k not in value]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(properties[key], item, root, f"{at}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}.{key}: not allowed")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(schema["items"], item, root, f"{at}[{i}]")
    if isinstance(value, int | float) and not isinstance(value, bool):
        bounds: dict[str, Callable[[float, float], bool]] = {
            "minimum": lambda v, b: v >= b,
            "maximum": lambda v, b: v <= b,
            "exclusiveMinimum": lambda v, b: v > b,
            "exclusiveMaximum": lambda v, b: v < b,
        }
        for word, holds in bounds.items():
            if word in schema and not holds(value, schema[word]):
                errors.append(f"{at}: {value!r} violates {word} {schema[word]}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{at}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{at}: does not match {schema['pattern']}")
    return errors


def as_json_data(value: Any) -> Any:
    """YAML's native dates as the ISO 8601 text JSON would carry."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: as_json_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json_data(v) for v in value]
    return value


def raw_case(path: Path) -> Any:
    """An example case file as parsed JSON data (not validated)."""
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    return as_json_data(data)


#: The examples that are meant to be valid (others state ``expected_bad_input``).
CASES = [
    p
    for p in EVERY_FILE
    if "expected_bad_input" not in raw_case(p).get("extensions", {}).get("lutetia_example", {})
]


def case_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DOCS / "schemas/lutetia.case-1.schema.json").read_text())
    return schema


def test_case_schema_header() -> None:
    schema = case_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "lutetia.case/1"
    assert set(schema["required"]) == {"schema", "as_of", "patient"}
    assert schema["properties"]["schema"]["const"] == "lutetia.case/1"
    # Aliases, not Python attribute names: what a case file actually says.
    assert "class" in schema["$defs"]["Treatment"]["properties"]


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_example_case_validates_against_the_schema(path: Path) -> None:
    schema = case_schema()
    assert schema_errors(schema, raw_case(path), schema, "case") == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(typo=1), "case.typo: not allowed"),
        (lambda d: d.pop("as_of"), "case.as_of: required"),
        (lambda d: d["patient"].update(sex="m"), "case.patient.sex"),
        (lambda d: d.update(labs=[{"analyte": "psa", "unit": "ng/mL", "date": "2026-01-01"}]),
         "case.labs[0].value: required"),
    ],
)  # fmt: skip
def test_case_schema_rejects_what_the_model_rejects(change: Any, where: str) -> None:
    data = {"schema": "lutetia.case/1", "as_of": "2026-03-02", "patient": {"id": "p"}}
    schema = case_schema()
    assert schema_errors(schema, data, schema, "case") == []
    change(data)
    with pytest.raises(BadInputError):
        case_from_mapping(data)
    errors = schema_errors(schema, data, schema, "case")
    assert any(e.startswith(where) for e in errors), errors


# The case format page ------------------------------------------------------------------


def model_fields(model: type[BaseModel]) -> Iterator[str]:
    """Every field name (its alias where it has one) of ``model`` and its nested models."""
    for name, info in model.model_fields.items():
        yield info.alias or name
        annotation = info.annotation
        for candidate in _models_in(annotation):
            yield from model_fields(candidate)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in getattr(annotation, "__args__", ()):
        yield from _models_in(argument)


def test_case_format_names_every_field() -> None:
    documented = code_names("case-format.md")
    missing = sorted(set(model_fields(Case)) - documented)
    assert not missing, f"docs/case-format.md does not describe {missing}"


def test_case_format_examples_are_valid_cases() -> None:
    blocks = [b for b in json_blocks("case-format.md") if b.get("schema") == "lutetia.case/1"]
    assert blocks
    for block in blocks:
        case_from_mapping(block)


# The assessment format page ------------------------------------------------------------


def documents() -> Iterator[dict[str, Any]]:
    """The assess (and, for courses, next-cycle) documents of Lutetia's numbered examples."""
    for path in (p for p in CASES if p.name[0].isdigit()):
        case = load_case(path)
        yield assessment_document(case, assess(case))
        if case.course is not None:
            yield course_document(case, next_cycle(case))


def test_assessment_format_names_every_key() -> None:
    documented = code_names("assessment-format.md")
    keys: set[str] = set()
    for document in documents():
        keys |= set(document) | set(document["indication"])
        for finding in document["findings"]:
            keys |= set(finding)
    missing = sorted(keys - documented)
    assert not missing, f"docs/assessment-format.md does not describe {missing}"


def matches(example: Any, actual: Any) -> bool:
    """Whether ``actual`` is ``example`` where the example says something ("…" is anything;
    a listed finding must be among the actual ones; numbers within 1e-9)."""
    if example == "…":
        return True
    if isinstance(example, dict):
        return (
            isinstance(actual, dict)
            and example.keys() <= actual.keys()
            and all(matches(v, actual[k]) for k, v in example.items())
        )
    if isinstance(example, list):
        return isinstance(actual, list) and all(any(matches(e, a) for a in actual) for e in example)
    if isinstance(example, float) and isinstance(actual, int | float):
        return math.isclose(example, actual, rel_tol=1e-9)
    return bool(example == actual)


def test_assessment_format_example_is_real_output() -> None:
    (example,) = json_blocks("assessment-format.md")
    path = EXAMPLES / "23-course-grade2-scheduled.json"
    case = load_case(path)
    actual = course_document(case, next_cycle(case))
    assert matches(example, actual), json.dumps(actual, indent=2, ensure_ascii=False)


# The command-line page -----------------------------------------------------------------


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    """The options of one (sub)command, spelt as on the command line."""
    return {
        option
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
        if option not in ("-h", "--help")
    }


def commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, set[str]]]:
    """``(command, options)`` of ``parser`` and of its nested subcommands."""
    yield prefix, options_of(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{prefix} {name}")


def every_command() -> Iterator[tuple[str, set[str]]]:
    """Every subcommand with its options, each from the parser built in full for it."""
    for name in COMMANDS:
        top = build_parser(name)
        (action,) = (a for a in top._actions if isinstance(a, argparse._SubParsersAction))
        yield from commands(action.choices[name], name)


def test_every_command_is_seen() -> None:
    seen = dict(every_command())
    assert {"assess", "activity draw", "dose tac"} <= set(seen)
    assert "--tail" in seen["dose tac"]


def test_cli_page_names_every_command_and_option() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for command, options in every_command():
        assert f"`lutetia {command}" in text, f"docs/cli.md does not describe lutetia {command}"
        missing = sorted(o for o in options if not re.search(rf"[`\[\s]{re.escape(o)}\b", text))
        assert not missing, f"docs/cli.md does not describe lutetia {command} {missing}"


def test_readme_points_to_the_projects_own_contracts() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("case-format.md", "assessment-format.md", "finding-codes.md", "cli.md"):
        assert f"docs/{page}" in readme
    assert "../shared/spec" not in readme
