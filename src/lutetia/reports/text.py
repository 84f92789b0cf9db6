r"""Plain-text reports for the terminal, written for a physician.

The decision comes first, then the findings grouped by kind; each finding
shows its code, guideline section and strength, and the value seen against
the threshold used, with units.

Every string that reaches a report passes through :func:`escape_controls`
first, so that no value from the input (a patient ID, a treatment name, a unit)
can start a new line or send a terminal escape sequence: an ID written as
``"x\nRECOMMENDATION: recommended"`` prints as ``x\nRECOMMENDATION: ...`` on the
report's first line, never as a recommendation line of its own.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lutetia.guideline.schedule import Event

#: C0 and C1 control characters, DEL, the Unicode line and paragraph separators,
#: the bidirectional embeddings, overrides and isolates (which can make text read
#: as something it is not), and lone surrogates (which cannot be printed at all).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str) -> str:
    r"""``text`` with every control character written as an escape (``\n``, ``\x1b``, ``\u2028``).

    >>> print(escape_controls("ex-01\nRECOMMENDATION: recommended"))
    ex-01\nRECOMMENDATION: recommended
    >>> print(escape_controls("\x1b[2J\u2028\x85"))
    \x1b[2J\u2028\x85
    """
    return _CONTROLS.sub(_escape, text)


def escaped(value: Any) -> Any:
    """A copy of a JSON-like document with :func:`escape_controls` applied to every string,
    keys included."""
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict):
        return {escaped(k): escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escaped(v) for v in value]
    return value


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
    """The human report of an ``assess`` document (control characters escaped)."""
    document = escaped(document)
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
    """The human report of a ``next-cycle`` document: the decision first (control
    characters escaped)."""
    document = escaped(document)
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


def schedule_report(patient_id: str, events: Sequence[Event], *, ics: str | None = None) -> str:
    """The dated plan, one line per event (control characters escaped)."""
    lines = [f"Lutetia treatment plan: {escape_controls(patient_id)}"]
    for e in events:
        window = f" – {e.window_end.isoformat()}" if e.window_end else ""
        lines.append(
            f"  {e.date.isoformat()}{window:<13}  {escape_controls(e.kind):<18} "
            f"{escape_controls(e.description)}  [{escape_controls(e.section)}]"
        )
    if ics:
        lines.append(f"iCalendar written to {escape_controls(ics)}")
    return "\n".join(lines)
