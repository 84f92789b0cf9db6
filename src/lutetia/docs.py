"""Lutetia's contract documents that are generated from the code, so that they cannot drift.

``python -m lutetia.docs`` (run from the repository root) writes:

* ``docs/finding-codes.md``: every code of the rule catalogue, with its guideline
  section, strength, rule, threshold, and its effect on ``assess`` or its decision
  for ``next-cycle``;
* ``docs/schemas/lutetia.case-1.schema.json``: the JSON Schema of the case file,
  from the pydantic model :class:`lutetia.cases.model.Case`;
* ``docs/schemas/lutetia.assessment-1.schema.json``: the JSON Schema of the output
  of ``assess`` and ``next-cycle``, from :mod:`lutetia.cases.assessment`.

``python -m lutetia.docs --check`` writes nothing and exits 1 when a committed file
differs from what the code generates (the test suite runs the same comparison).
The models and the catalogue are imported inside the functions, so importing
this module costs nothing.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: The command that regenerates every file below (from the repository root).
REGENERATE = "uv run python -m lutetia.docs"

_JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _schema_document(title: str, description: str, schema: dict[str, Any]) -> str:
    """A schema as indented JSON, with the dialect, title and description first."""
    body = {k: v for k, v in schema.items() if k not in ("title", "description")}
    document = {
        "$schema": _JSON_SCHEMA_DIALECT,
        "title": title,
        "description": description,
        **body,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def case_schema() -> str:
    """The JSON Schema of ``lutetia.case/1``, generated from :class:`~lutetia.cases.model.Case`."""
    from lutetia.cases.model import Case

    return _schema_document(
        "lutetia.case/1",
        "One patient's clinical picture at one moment, as read by `lutetia assess`, "
        "`lutetia next-cycle`, `lutetia schedule` and `lutetia letter`. Generated from "
        "Lutetia's model (lutetia.cases.model.Case); docs/case-format.md explains the "
        "fields. Lutetia applies further checks that a schema cannot express: every lab "
        "unit must convert to the analyte's unit, and dates must be consistent with "
        "as_of and with each other.",
        Case.model_json_schema(by_alias=True, mode="validation"),
    )


def assessment_schema() -> str:
    """The JSON Schema of ``lutetia.assessment/1`` (``assess`` and ``next-cycle``)."""
    from pydantic.json_schema import models_json_schema

    from lutetia.cases.assessment import AssessmentOut, NextCycleOut

    _, schema = models_json_schema(
        [(AssessmentOut, "validation"), (NextCycleOut, "validation")], by_alias=True
    )
    schema["anyOf"] = [
        {"$ref": "#/$defs/NextCycleOut"},
        {"$ref": "#/$defs/AssessmentOut"},
    ]
    return _schema_document(
        "lutetia.assessment/1",
        "The JSON object printed by `lutetia assess --json` (AssessmentOut) and "
        "`lutetia next-cycle --json` (NextCycleOut: the same keys plus decision, "
        "activity_gbq and earliest_date). Generated from Lutetia's output models "
        "(lutetia.cases.assessment); every document is validated against them before it "
        "is printed. Objects may carry more keys than listed (additions, never renamings); "
        "docs/assessment-format.md explains them.",
        schema,
    )


_KIND_TITLES = {
    "indication": "Indication (exactly one per assessment)",
    "disease_status": "Disease status",
    "relative_contraindication": "Relative contra-indications (guideline Table 1)",
    "precaution": "Precautions for use",
    "imaging": "Imaging",
    "prognostic": "Prognostic factors (informational)",
    "procedure": "Treatment procedure",
    "missing_data": "Missing data",
    "followup": "Follow-up",
    "toxicity": "Toxicity",
    "regimen": "Regimen",
    "response": "Response",
    "scope": "Scope of the guideline",
}

_STAGES = {
    "selection": (
        "Patient selection (`lutetia assess`)",
        "effect on the recommendation",
    ),
    "course": (
        "Between cycles (`lutetia next-cycle`)",
        "decision it asks for",
    ),
}


def _cell(text: object) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _threshold(rule: Any) -> str:
    parts = []
    if rule.threshold:
        parts.append(rule.threshold)
    if rule.cutoff is not None:
        unit = f" {rule.cutoff.unit}" if rule.cutoff.unit else ""
        parts.append(f"{rule.cutoff.comparator} {rule.cutoff.value:g}{unit} (Lutetia's cut-off)")
    return "; ".join(parts) or "—"


def finding_codes() -> str:
    """``docs/finding-codes.md`` from the rule catalogue."""
    import lutetia.guideline.course  # noqa: F401  (registers the between-cycles rules)
    from lutetia.guideline.catalogue import CATALOGUE_VERSION, RULES

    lines = [
        "# Finding codes",
        "",
        "<!-- Generated from the rule catalogue by `python -m lutetia.docs`; do not edit by "
        "hand: change the catalogue, then regenerate. -->",
        "",
        f"Rule catalogue version **{CATALOGUE_VERSION}** (each assessment names the version it "
        "was made with in `catalogue_version`).",
        "",
        "Every finding that `lutetia assess` or `lutetia next-cycle` reports carries one of "
        "the codes below in `findings[].code`; the indication of an assessment carries one "
        "of the `indication.*` codes. A code stands for one rule of the EANM/SNMMI "
        "177Lu-PSMA-RLT procedure guideline (2023), or for a situation in which a rule "
        "cannot be applied (missing data, scope). Codes are stable: Lutetia may add codes, "
        "in the same dotted style, but never renames one or changes what it means. "
        "`lutetia rules` prints this catalogue; `lutetia rules --json` gives it as data.",
        "",
        "Columns:",
        "",
        "- **section**: the part of the guideline the finding cites.",
        "- **strength**: the strength of recommendation where the guideline grades the rule "
        "(`strong`, `moderate`, `weak`); — where it does not.",
        "- **threshold**: the limit in words; the finding itself carries the value seen and "
        "the threshold used as numbers with units. Where the guideline names a factor "
        "without a value, Lutetia's cut-off and its source are listed at the end.",
        "- **effect** (patient selection): how the finding bears on the recommendation of "
        "`assess`. `excludes` gives `not_recommended`, `insufficient` gives "
        "`insufficient_data`, `consider` gives at most `consider`, `informs` changes "
        "nothing. The strongest effect wins: not_recommended > insufficient_data > "
        "consider > recommended. A finding may state a different effect when the same rule "
        "meets missing rather than contrary data.",
        "- **decision** (between cycles): what the finding asks of `next-cycle`. The most "
        "restrictive decision wins: discontinue > hold > postpone > reduce > proceed; "
        "`complete` ends the course. — marks a finding that is reported for the physician "
        "but does not change the decision by itself.",
        "",
        "`next-cycle` also reports the patient-selection findings that still apply "
        "(for example missing or stale labs, consent). [rules.md](rules.md) records how "
        "Lutetia reads the places where the guideline leaves a choice open.",
    ]
    rules = list(RULES.values())
    stages = list(_STAGES) + sorted({r.stage for r in rules} - set(_STAGES))
    for stage in stages:
        chosen = [r for r in rules if r.stage == stage]
        if not chosen:
            continue
        title, column = _STAGES.get(stage, (stage, "effect"))
        lines += ["", f"## {title}"]
        kinds: list[str] = []
        for rule in chosen:
            if rule.kind not in kinds:
                kinds.append(rule.kind)
        for kind in kinds:
            heading = _KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())
            lines += [
                "",
                f"### {heading}",
                "",
                f"| code | section | strength | rule | threshold | {column} |",
                "|---|---|---|---|---|---|",
            ]
            for rule in (r for r in chosen if r.kind == kind):
                outcome = (rule.decision or "—") if stage == "course" else rule.effect
                lines.append(
                    f"| `{rule.code}` | {_cell(rule.section)} | {rule.strength or '—'} | "
                    f"{_cell(rule.text)} | {_cell(_threshold(rule))} | {_cell(outcome)} |"
                )
    with_cutoff = [r for r in rules if r.cutoff is not None]
    if with_cutoff:
        lines += [
            "",
            "## Cut-offs the guideline does not give",
            "",
            "The guideline names these factors without a value; Lutetia uses the published "
            "cut-off below, and every finding made with it states the cut-off and its source.",
            "",
            "| code | cut-off | source |",
            "|---|---|---|",
        ]
        for rule in with_cutoff:
            assert rule.cutoff is not None
            unit = f" {rule.cutoff.unit}" if rule.cutoff.unit else ""
            lines.append(
                f"| `{rule.code}` | {rule.cutoff.comparator} {rule.cutoff.value:g}{unit} | "
                f"{_cell(rule.cutoff.source)} |"
            )
    return "\n".join(lines) + "\n"


#: Generated files, by path relative to ``docs/``.
GENERATED: dict[str, Callable[[], str]] = {
    "finding-codes.md": finding_codes,
    "schemas/lutetia.case-1.schema.json": case_schema,
    "schemas/lutetia.assessment-1.schema.json": assessment_schema,
}


def generate() -> dict[str, str]:
    """Every generated file's text, by path relative to ``docs/``."""
    return {name: make() for name, make in GENERATED.items()}


def stale(docs: Path) -> list[str]:
    """The generated files under ``docs`` that are missing or differ from the code's output."""
    out = []
    for name, text in generate().items():
        path = docs / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the generated documents; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m lutetia.docs",
        description="Regenerate docs/finding-codes.md and docs/schemas/*.schema.json "
        "from the rule catalogue and the models.",
    )
    parser.add_argument(
        "--docs", type=Path, default=Path("docs"), help="the docs folder (default: ./docs)"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )
    args = parser.parse_args(argv)
    docs: Path = args.docs
    if args.check:
        outdated = stale(docs)
        for name in outdated:
            print(f"{docs / name} is out of date; run: {REGENERATE}")  # noqa: T201
        return 1 if outdated else 0
    for name, text in generate().items():
        path = docs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
