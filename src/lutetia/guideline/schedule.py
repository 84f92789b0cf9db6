"""The dated plan of a course, from its first cycle (Process item 11 and Follow-up 1–5).

The plan takes its numbers from the ruleset it is given; those below are the
guideline's (:data:`lutetia.guideline.ruleset.EANM_SNMMI_2023`). Cycles are 6 weeks
apart, up to 6: cycles already given keep their dates and the rest follow the last
given (or planned) one. Around each cycle:

* the lab panel within the 5 days before (Process item 2), PSA included
  (Follow-up item 2) and well-being assessed at the visit (Follow-up item 5);
* a planar post-therapy scan more than 2 h after the administration (Process
  item 9) and an optional SPECT 1–2 days after (Follow-up item 3);
* blood counts and creatinine 2–3 weeks after (Follow-up item 1).

After the last cycle: blood counts and creatinine, and PSA, 4–6 weeks after
(Follow-up items 1 and 2). Restaging every 12 weeks from the first cycle and at
the end of the series (Follow-up item 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from lutetia.cases.model import Case, day_of
from lutetia.errors import BadInputError
from lutetia.guideline.ruleset import Ruleset, span_in_words

EventKind = Literal[
    "cycle",
    "lab_panel",
    "post_therapy_scan",
    "spect",
    "interim_labs",
    "end_labs",
    "end_psa",
    "restaging",
    "wellbeing",
]

_PROC = "Process of treatment procedure"
_FU = "Follow-up"


Day = date


@dataclass(frozen=True)
class Event:
    """One dated item of the plan; ``window_end`` when it is a window, not a day."""

    date: date
    kind: EventKind
    description: str
    section: str
    cycle: int | None = None
    window_end: Day | None = None
    given: bool = False

    def as_json(self) -> dict[str, Any]:
        """``{date, kind, description, section}`` per spec/cli.md, plus the window."""
        return {
            "date": self.date.isoformat(),
            "kind": self.kind,
            "description": self.description,
            "section": self.section,
            "cycle": self.cycle,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "given": self.given,
        }


def cycle_dates(case: Case, rules: Ruleset) -> list[tuple[date, bool, float]]:
    """(date, given, activity in GBq) of cycles 1 to ``rules.max_cycles``: given ones as
    recorded, the rest every ``rules.interval`` at the planned activity (earlier
    reductions carry over); under individual dosimetry, every given cycle and the
    planned one, also beyond the maximum."""
    course = case.course
    if course is None or (not course.cycles and course.planned_date is None):
        raise BadInputError(
            "course", "a schedule needs the first cycle: course.cycles or course.planned_date"
        )
    dates = [(day_of(c.date), True, c.activity_gbq) for c in course.cycles]
    planned = course.planned_activity_gbq or (
        dates[-1][2] if dates else rules.approved_activity_gbq
    )
    # The planned cycle is on the plan before cycle 6, and after it under individual
    # dosimetry (which allows more than six cycles).
    beyond = course.individual_dosimetry
    if course.planned_date is not None and (len(dates) < rules.max_cycles or beyond):
        dates.append((day_of(course.planned_date), False, planned))
    while len(dates) < rules.max_cycles:
        dates.append((dates[-1][0] + rules.interval, False, planned))
    return dates


def schedule(case: Case, rules: Ruleset) -> list[Event]:
    """Every event of the plan under ``rules``, in date order."""
    cycles = cycle_dates(case, rules)
    stale = rules.stale_after_days
    interim = (rules.interim_labs_from, rules.interim_labs_until)
    end = (rules.end_follow_up_from, rules.end_follow_up_until)
    events: list[Event] = []
    for number, (day, given, activity) in enumerate(cycles, start=1):
        events += [
            Event(
                day - timedelta(days=stale),
                "lab_panel",
                f"Lab panel for cycle {number}: blood count, creatinine, eGFR, AST, ALT, total "
                f"bilirubin, albumin, ALP, LDH, PSA, CRP (not older than {stale} days)",
                f"{_PROC}, 2; {_FU}, 2",
                number,
                window_end=day,
            ),
            Event(
                day,
                "cycle",
                f"Cycle {number} of {max(rules.max_cycles, len(cycles))}: "
                f"177Lu-PSMA {activity:.2f} GBq i.v. "
                + ("(given)" if given else "(hydration, saline flush)"),
                f"{_PROC}, 11",
                number,
                given=given,
            ),
            Event(
                day,
                "wellbeing",
                "Patient-reported well-being (fatigue, pain, level of activity)",
                f"{_FU}, 5",
                number,
            ),
            Event(
                day,
                "post_therapy_scan",
                "Planar post-therapy scan > 2 h p.i.: extravasation, biodistribution",
                f"{_PROC}, 9",
                number,
            ),
            Event(
                day + rules.spect_from,
                "spect",
                "Optional 177Lu SPECT(/CT) "
                f"{span_in_words(rules.spect_from, rules.spect_until)} after infusion "
                "(medium-energy collimator, 208 keV)",
                f"{_FU}, 3",
                number,
                window_end=day + rules.spect_until,
            ),
        ]
        if number < len(cycles):
            events.append(
                Event(
                    day + interim[0],
                    "interim_labs",
                    f"Blood count and creatinine {span_in_words(*interim)} after cycle {number} "
                    "(anticipated nadir)",
                    f"{_FU}, 1",
                    number,
                    window_end=day + interim[1],
                )
            )
    first, last = cycles[0][0], cycles[-1][0]
    events += [
        Event(
            last + end[0],
            "end_labs",
            f"Blood count and creatinine {span_in_words(*end)} after the last cycle",
            f"{_FU}, 1",
            window_end=last + end[1],
        ),
        Event(
            last + end[0],
            "end_psa",
            f"PSA {span_in_words(*end)} after the end of therapy (PCWG3)",
            f"{_FU}, 2",
            window_end=last + end[1],
        ),
    ]
    restage = first + rules.restaging_every
    while restage < last:
        events.append(
            Event(
                restage,
                "restaging",
                "Restaging: PSMA PET/CT (or SPECT) with a second modality (diagnostic CT; "
                "bone scan or FDG PET/CT in selected patients)",
                f"{_FU}, 4",
            )
        )
        restage += rules.restaging_every
    events.append(
        Event(
            last + end[1],
            "restaging",
            "Restaging at the end of the series: PSMA PET/CT with a second modality",
            f"{_FU}, 4",
        )
    )
    return sorted(events, key=lambda e: (e.date, e.kind != "lab_panel"))
