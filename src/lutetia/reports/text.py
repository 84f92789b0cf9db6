"""Plain-text reports for the terminal, written for a physician.

The decision comes first, then the findings grouped by kind; each finding
shows its code, guideline section and strength, and the value seen against
the threshold used, with units.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

KIND_TITLES: dict[str, str] = {
    "indication": "Indication",
    "disease_status": "Disease status",
    "relative_contraindication": "Relative contra-indications",
    "imaging": "Imaging (PSMA PET and comparator)",
    "missing_data": "Missing data",
    "procedure": "Procedure",
    "precaution": "Precautions",
    "followup": "Follow-up",
    "scope": "Scope",
    "prognostic": "Prognostic factors (inform; do not change the recommendation)",
    "toxicity": "Toxicity",
    "regimen": "Regimen",
    "response": "Response",
}
EFFECT_MARK = {"excludes": "✖", "insufficient": "?", "consider": "!", "informs": "·"}
UNIT_TEXT = {"10*9/L": "×10⁹/L", "mL/min/{1.73_m2}": "mL/min/1.73 m²", "1": "", "{grade}": ""}


def _quantity(document: dict[str, Any] | None) -> str:
    if document is None:
        return ""
    value = document.get("value")
    unit = document.get("unit")
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = ", ".join(f"{k} {v}" for k, v in value.items())
    else:
        text = str(value)
    unit_text = UNIT_TEXT.get(unit, unit) if unit else ""
    return f"{text} {unit_text}".strip()


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=92, initial_indent=indent, subsequent_indent=indent)


def finding_lines(finding: dict[str, Any]) -> list[str]:
    """The lines of one finding: mark, code, message, then value/threshold/source."""
    mark = EFFECT_MARK.get(finding.get("effect", "informs"), "·")
    lines = [f"  {mark} {finding['code']}", _wrap(finding["message"], "      ")]
    facts = []
    if finding.get("value") is not None and finding["value"].get("value") is not None:
        facts.append(f"value {_quantity(finding['value'])}")
    threshold = finding.get("threshold")
    if threshold is not None:
        facts.append(f"threshold {threshold['comparator']} {_quantity(threshold)}")
    source = finding["section"]
    if finding.get("strength"):
        source += f", {finding['strength']} recommendation"
    facts.append(source)
    lines.append(_wrap(" | ".join(facts), "      "))
    return lines


def grouped_findings(findings: Iterable[dict[str, Any]]) -> list[str]:
    """Findings grouped under a heading per kind, in the order given."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        groups.setdefault(f["kind"], []).append(f)
    lines: list[str] = []
    for kind, items in groups.items():
        lines.append("")
        lines.append(KIND_TITLES.get(kind, kind.replace("_", " ").capitalize()))
        for item in items:
            lines.extend(finding_lines(item))
    return lines


def assessment_report(document: dict[str, Any]) -> str:
    """The human report of an ``assess`` document."""
    recommendation = document["recommendation"].replace("_", " ").upper()
    indication = document["indication"]
    strength = indication["strength"] or "no graded strength"
    lines = [
        f"Lutetia patient selection: {document['patient_id']}, as of {document['as_of']} "
        f"(labs and washout referenced to {document['reference_date']})",
        f"{document['guideline']}; rule catalogue {document['catalogue_version']}",
        "",
        f"RECOMMENDATION: {recommendation}",
        f"Indication: {indication['code']} ({strength}; {indication['section']})",
        _wrap(indication["message"], "  "),
    ]
    decisive = [f for f in document["findings"] if f.get("effect") != "informs"]
    if decisive:
        lines.append("Because of:")
        lines.extend(
            _wrap(f"{EFFECT_MARK[f['effect']]} {f['code']}: {f['message']}", "  ") for f in decisive
        )
    lines.extend(grouped_findings(document["findings"]))
    lines.append("")
    lines.append(
        "Marks: ✖ excludes, ? data needed, ! individual judgement (consider), · informs. "
        "Lutetia supports, and does not replace, the treating physician's judgement."
    )
    return "\n".join(lines)


def _headline(document: dict[str, Any]) -> str:
    decision = document["decision"]
    cycle = document["next_cycle"]
    activity = document["activity_gbq"]
    if decision == "proceed":
        return f"PROCEED with cycle {cycle}: give {activity:.2f} GBq on {document['earliest_date']}"
    if decision == "reduce":
        return (
            f"REDUCE: give {activity:.2f} GBq (planned {document['planned_activity_gbq']:.2f} GBq "
            f"less 20 %) for cycle {cycle} on {document['earliest_date']}"
        )
    if decision == "postpone":
        return (
            f"POSTPONE cycle {cycle}: not before {document['earliest_date']} "
            f"(planned {document['planned_date']})"
        )
    if decision == "hold":
        return f"HOLD cycle {cycle} until the problem below has resolved"
    if decision == "discontinue":
        return "DISCONTINUE 177Lu-PSMA RLT"
    return "COMPLETE: the course is over; continue with follow-up"


def course_report(document: dict[str, Any]) -> str:
    """The human report of a ``next-cycle`` document: the decision first."""
    headline = _headline(document)
    course_kinds = {"toxicity", "regimen", "response", "followup"}
    course = [
        f
        for f in document["findings"]
        if f["kind"] in course_kinds or f.get("decision") is not None
    ]
    others = [f for f in document["findings"] if f not in course]
    lines = [
        f"Lutetia next cycle: {document['patient_id']}, as of {document['as_of']}",
        f"{document['guideline']}; rule catalogue {document['catalogue_version']}",
        "",
        f"DECISION: {headline}",
    ]
    deciding = [f for f in course if f.get("decision") is not None]
    if deciding:
        lines.append("Because of:")
        lines.extend(
            _wrap(f"{f['decision']}: {f['code']}: {f['message']} ({f['section']})", "  ")
            for f in deciding
        )
    else:
        lines.append("No rule of the guideline stands against the planned cycle.")
    lines.extend(grouped_findings(course))
    if others:
        lines.append("")
        lines.append("For reference, the selection findings on the same data:")
        lines.extend(grouped_findings(others))
    lines.append("")
    lines.append("Lutetia supports, and does not replace, the treating physician's judgement.")
    return "\n".join(lines)
