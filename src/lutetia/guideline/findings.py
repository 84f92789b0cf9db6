"""Findings: what a rule saw, against which threshold, and what it means.

A :class:`Finding` is one rule's verdict on one case. It carries the
guideline section, the strength of the recommendation (where the guideline
grades it), the value seen and the threshold used, and its ``effect`` on the
recommendation. Findings are built only through the catalogue
(:func:`lutetia.guideline.catalogue.finding`), so their section, kind and
strength always match the rule that made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Strength = Literal["strong", "moderate", "weak"]

Kind = Literal[
    "indication",
    "disease_status",
    "relative_contraindication",
    "precaution",
    "imaging",
    "prognostic",
    "procedure",
    "missing_data",
    "followup",
    "toxicity",
    "regimen",
    "response",
    "scope",
]

#: How a finding bears on ``assess``'s recommendation.
#: ``excludes`` → not_recommended; ``insufficient`` → insufficient_data;
#: ``consider`` → at most consider; ``informs`` → no change.
Effect = Literal["excludes", "insufficient", "consider", "informs"]

#: How a finding bears on ``next-cycle``'s decision (most restrictive wins).
Decision = Literal["discontinue", "hold", "postpone", "reduce", "proceed", "complete"]

Comparator = Literal["<", "<=", ">", ">=", "==", "!=", "in", "not in"]


@dataclass(frozen=True)
class Quantity:
    """A value with its UCUM unit (None for counts of things, booleans and lists)."""

    value: Any
    unit: str | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"value": …, "unit": …}`` as in ``lutetia.assessment/1``."""
        return {"value": self.value, "unit": self.unit}


@dataclass(frozen=True)
class Threshold:
    """The limit a rule compares against, and how."""

    value: Any
    unit: str | None
    comparator: Comparator

    def as_json(self) -> dict[str, Any]:
        """``{"value": …, "unit": …, "comparator": …}``."""
        return {"value": self.value, "unit": self.unit, "comparator": self.comparator}


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on a case."""

    code: str
    kind: Kind
    section: str
    strength: Strength | None
    message: str
    value: Quantity | None = None
    threshold: Threshold | None = None
    effect: Effect = "informs"
    decision: Decision | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The finding as ``lutetia.assessment/1`` writes it (plus ``effect``)."""
        document: dict[str, Any] = {
            "code": self.code,
            "kind": self.kind,
            "section": self.section,
            "strength": self.strength,
            "value": self.value.as_json() if self.value is not None else None,
            "threshold": self.threshold.as_json() if self.threshold is not None else None,
            "message": self.message,
            "effect": self.effect,
        }
        if self.decision is not None:
            document["decision"] = self.decision
        if self.details:
            document["details"] = self.details
        return document
