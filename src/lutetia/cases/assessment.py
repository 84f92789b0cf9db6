"""The output document ``lutetia.assessment/1`` as a typed, validated model.

``spec/case-format.md`` ("Output of lutetia assess and lutetia next-cycle")
fixes the keys below; Lutetia adds keys (``effect``, ``details``,
``catalogue_version``, …) but never renames or drops one. Every document the
command line prints is validated against this model first, so a document that
breaks the contract is a bug caught before it reaches a user.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Strength = Literal["strong", "moderate", "weak"]


class _Open(BaseModel):
    # Additions are allowed (the project may add fields); the contract's keys are required.
    model_config = ConfigDict(extra="allow", frozen=True)


class QuantityOut(_Open):
    value: Any
    unit: str | None


class ThresholdOut(_Open):
    value: Any
    unit: str | None
    comparator: str


class FindingOut(_Open):
    code: str = Field(pattern=r"^[a-z_0-9]+(\.[a-z_0-9]+)+$")
    kind: str
    section: str = Field(min_length=1)
    strength: Strength | None
    value: QuantityOut | None
    threshold: ThresholdOut | None
    message: str = Field(min_length=1)


class IndicationOut(_Open):
    code: str = Field(pattern=r"^indication\.[a-z_]+$")
    strength: Strength | None


class AssessmentOut(_Open):
    schema_: Literal["lutetia.assessment/1"] = Field(alias="schema")
    guideline: str
    recommendation: Literal["recommended", "consider", "not_recommended", "insufficient_data"]
    indication: IndicationOut
    findings: list[FindingOut]


class NextCycleOut(AssessmentOut):
    decision: Literal["proceed", "reduce", "postpone", "hold", "discontinue", "complete"]
    activity_gbq: float | None
    earliest_date: str | None


def validate_assessment(document: dict[str, Any]) -> dict[str, Any]:
    """Check an ``assess`` document against the contract; return it unchanged."""
    AssessmentOut.model_validate(document)
    return document


def validate_next_cycle(document: dict[str, Any]) -> dict[str, Any]:
    """Check a ``next-cycle`` document against the contract; return it unchanged."""
    result = NextCycleOut.model_validate(document)
    if result.decision in ("proceed", "reduce") and result.activity_gbq is None:
        raise ValueError("activity_gbq is required for proceed and reduce")
    if result.decision in ("hold", "discontinue", "complete") and result.earliest_date is not None:
        raise ValueError("earliest_date must be null for hold, discontinue and complete")
    return document
