"""Use cases on one patient's course, shared by the command line and the clinic.

They take and give ``lutetia.case/1`` documents (plain JSON-ready mappings) and
the engines' documents; validation is the case model's, so a value the CLI
refuses is refused in the clinic with the same message and field.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from lutetia.cases.model import Case
from lutetia.errors import BadInputError
from lutetia.guideline.context import Settings
from lutetia.guideline.schedule import Event

#: The parts of a case document that hold lists of dated entries, by the entry's name.
Section = Literal["labs", "adverse_events", "wellbeing", "cycles", "treatments"]
_PATHS: dict[Section, tuple[str, ...]] = {
    "labs": ("labs",),
    "treatments": ("treatments",),
    "adverse_events": ("course", "adverse_events"),
    "wellbeing": ("course", "wellbeing"),
    "cycles": ("course", "cycles"),
}


def validated(document: Any, *, source: str = "case") -> Case:
    """The case a document describes; :class:`BadInputError` naming the field otherwise."""
    from lutetia.cases.io import case_from_mapping

    return case_from_mapping(document, source=source)


def assess_case(case: Case, settings: Settings | None = None) -> dict[str, Any]:
    """Patient selection: the ``lutetia.assessment/1`` document (``lutetia assess``)."""
    from lutetia.guideline.assessment import assessment_document
    from lutetia.guideline.selection import assess

    return assessment_document(case, assess(case, settings or Settings()))


def decide_next_cycle(case: Case, settings: Settings | None = None) -> dict[str, Any]:
    """The next-cycle decision document (``lutetia next-cycle``)."""
    from lutetia.guideline.assessment import course_document
    from lutetia.guideline.course import next_cycle

    return course_document(case, next_cycle(case, settings or Settings()))


def plan(case: Case, settings: Settings | None = None) -> list[Event]:
    """The dated plan (``lutetia schedule``) under the settings' ruleset."""
    from lutetia.guideline.schedule import schedule

    return schedule(case, (settings or Settings()).ruleset)


def as_of(document: dict[str, Any], today: date) -> dict[str, Any]:
    """A copy of ``document`` evaluated on ``today`` (its ``as_of`` moved forward, never back)."""
    result = copy.deepcopy(document)
    previous = date.fromisoformat(str(result.get("as_of", today.isoformat())))
    result["as_of"] = max(previous, today).isoformat()
    return result


def _object_at(document: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The object at ``keys`` in ``document``, created empty where it is absent or null."""
    container = document
    for key in keys:
        if container.get(key) is None:
            container[key] = {}
        container = container[key]
    return container


def with_entry(
    document: dict[str, Any], section: Section, entry: dict[str, Any], today: date
) -> tuple[dict[str, Any], Case]:
    """A copy of ``document`` with ``entry`` appended to ``section``, validated.

    The field named in an error is the entry's own (``labs[3].value``), as in a case file.
    """
    result = as_of(document, today)
    *parents, name = _PATHS[section]
    _object_at(result, parents).setdefault(name, []).append(entry)
    return result, validated(result)


def with_fields(
    document: dict[str, Any], part: str, fields: dict[str, Any], today: date
) -> tuple[dict[str, Any], Case]:
    """A copy of ``document`` with ``fields`` set in the object ``part`` (None removes one)."""
    result = as_of(document, today)
    container = _object_at(result, part.split("."))
    for key, value in fields.items():
        if value is None:
            container.pop(key, None)
        else:
            container[key] = value
    return result, validated(result)


def jsonable(value: date | datetime) -> str:
    """A date or an aware datetime as the case file writes it."""
    if isinstance(value, datetime) and value.tzinfo is None:
        raise BadInputError("datetime", "must carry a time zone")
    return value.isoformat()


#: What the case file shows of a planned item: ``done``; ``open`` (not recorded, still
#: relevant); ``missed`` (not recorded, and a later cycle has been given since its window
#: closed: history, not work); ``untracked`` (the case file has no record of this kind:
#: post-therapy scans, so the worklist shows it when due and never as overdue).
DueStatus = Literal["done", "open", "missed", "untracked"]


@dataclass(frozen=True)
class Due:
    """One item of the worklist: a planned event and what the case shows of it."""

    event: Event
    status: DueStatus

    @property
    def done(self) -> bool:
        """Whether the case records it."""
        return self.status == "done"


def due_items(case: Case, settings: Settings | None = None) -> list[Due]:
    """The plan's events with what the case shows of each (:data:`DueStatus`).

    A cycle is done when it was given; a lab panel or interim blood count when a
    blood count is recorded in its window; end-of-treatment PSA when a PSA is; a
    well-being check when one is recorded on or after its date; restaging when
    conventional imaging is recorded on or after its date. Post-therapy scans are
    not recorded in a case file: ``untracked``.
    """
    from lutetia.cases.model import day_of

    count_days = sorted(
        {lab.day for lab in case.labs if lab.analyte in {"hemoglobin", "platelets", "wbc", "anc"}}
    )
    psa_days = sorted({lab.day for lab in case.labs if lab.analyte == "psa"})
    wellbeing_days = sorted(day_of(w.date) for w in (case.course.wellbeing if case.course else []))
    imaging_days = sorted(day_of(i.date) for i in case.conventional_imaging)

    def recorded(days: list[date], start: date, end: date) -> bool:
        return any(start <= day <= end for day in days)

    course = case.course
    if course is None or not (course.cycles or course.planned_date):
        return []  # no plan yet: selection comes first
    given = sorted(day_of(c.date) for c in course.cycles)
    result = []
    for event in plan(case, settings):
        end = event.window_end or event.date
        done: bool | None
        if event.kind == "cycle":
            done = event.given
        elif event.kind in {"lab_panel", "interim_labs", "end_labs"}:
            done = recorded(count_days, event.date, end)
        elif event.kind == "end_psa":
            done = recorded(psa_days, event.date, end)
        elif event.kind == "wellbeing":
            done = any(day >= event.date for day in wellbeing_days)
        elif event.kind == "restaging":
            done = any(day >= event.date for day in imaging_days)
        else:
            done = None
        status: DueStatus
        if done is None:
            status = "untracked"
        elif done:
            status = "done"
        elif any(day > end for day in given):
            status = "missed"
        else:
            status = "open"
        result.append(Due(event, status))
    return result


def stage(case: Case, signed: dict[str, str], settings: Settings | None = None) -> str:
    """The programme stage from the case and the latest signed decisions.

    ``signed`` maps a decision kind (``selection``, ``next_cycle``) to the latest
    final decision of that kind.
    """
    final = signed.get("next_cycle")
    if final == "discontinue":
        return "discontinued"
    if final == "complete":
        return "completed"
    cycles = case.course.cycles if case.course else []
    if cycles:
        last = (settings or Settings()).ruleset.max_cycles
        return "follow_up" if len(cycles) >= last else "in_treatment"
    if signed.get("selection") == "not_recommended":
        return "discontinued"
    if case.consent.signed_at is not None:
        return "consented"
    if "selection" in signed:
        return "assessed"
    return "candidate"
