"""iCalendar (RFC 5545) export of a treatment plan, written with ``icalendar``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lutetia.errors import BadInputError
from lutetia.guideline.schedule import Event


def to_ics(events: Sequence[Event], *, patient_id: str) -> bytes:
    """All-day events (a window spans its days) with the section in the description."""
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    calendar = Calendar()
    calendar.add("prodid", "-//Lutetia//177Lu-PSMA RLT plan//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"RLT plan {patient_id}")
    stamp = datetime.now(UTC).replace(microsecond=0)
    for event in events:
        item = CalendarEvent()
        key = f"{patient_id}|{event.kind}|{event.cycle}|{event.date.isoformat()}"
        item.add("uid", hashlib.sha256(key.encode()).hexdigest()[:32] + "@lutetia")
        item.add("dtstamp", stamp)
        item.add("dtstart", event.date)
        item.add("dtend", (event.window_end or event.date) + timedelta(days=1))
        item.add("summary", f"{patient_id}: {event.description.split(':')[0]}")
        item.add("description", f"{event.description}\nGuideline: {event.section}")
        item.add("categories", [event.kind])
        calendar.add_component(item)
    data: bytes = calendar.to_ical()
    return data


def write_ics(events: Sequence[Event], path: str | Path, *, patient_id: str) -> None:
    """Write the plan to ``path`` (the file is replaced whole, never half-written)."""
    target = Path(path)
    data = to_ics(events, patient_id=patient_id)
    temporary = target.with_name(target.name + ".part")
    try:
        temporary.write_bytes(data)
        temporary.replace(target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise BadInputError("--ics", f"cannot write {path}: {error.strerror}") from None
