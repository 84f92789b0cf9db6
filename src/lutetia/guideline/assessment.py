"""The ``lutetia.assessment/1`` document (spec/case-format.md, "Output")."""

from __future__ import annotations

from typing import Any

from lutetia import __version__
from lutetia.cases.assessment import validate_assessment, validate_next_cycle
from lutetia.cases.model import Case
from lutetia.guideline.catalogue import CATALOGUE_VERSION, RULES
from lutetia.guideline.course import CourseResult
from lutetia.guideline.selection import SelectionResult

ASSESSMENT_SCHEMA = "lutetia.assessment/1"


def assessment_document(case: Case, result: SelectionResult) -> dict[str, Any]:
    """The assessment as JSON-ready data: the contract's keys, then Lutetia's additions."""
    indication = result.indication
    rule = RULES[indication.code]
    document = {
        "schema": ASSESSMENT_SCHEMA,
        "guideline": result.ruleset.guideline,
        "recommendation": result.recommendation,
        "indication": {
            "code": indication.code,
            "strength": rule.strength,
            "section": rule.section,
            "message": indication.finding.message,
        },
        "findings": [f.as_json() for f in result.findings],
        "catalogue_version": CATALOGUE_VERSION,
        "ruleset": result.ruleset.provenance(),
        "lutetia_version": __version__,
        "patient_id": case.patient.id,
        "as_of": case.as_of.isoformat(),
        "reference_date": result.reference_date.isoformat(),
    }
    return validate_assessment(document)


def course_document(case: Case, result: CourseResult) -> dict[str, Any]:
    """The ``next-cycle`` document: the assessment's keys plus the decision."""
    document = assessment_document(case, result.selection)
    document["findings"] = [f.as_json() for f in result.findings]
    document["decision"] = result.decision
    document["activity_gbq"] = result.activity_gbq
    document["earliest_date"] = (
        result.earliest_date.isoformat() if result.earliest_date is not None else None
    )
    document["next_cycle"] = result.next_cycle
    document["planned_date"] = result.planned_date.isoformat()
    document["planned_activity_gbq"] = result.planned_activity_gbq
    return validate_next_cycle(document)
