"""iCalendar (RFC 5545) export of a treatment plan, written with ``icalendar``.

Text values are escaped twice over: control characters from the input (a CR/LF
or an ESC in a patient ID) are written as visible escapes by
:func:`lutetia.reports.text.escape_controls`, so that no calendar program shows
a forged line; then ``icalendar`` applies RFC 5545 TEXT escaping (``\\,``,
``\\;``, ``\\n``) to every property. Writing the file is the caller's business
(``lutetia schedule --ics`` writes it atomically).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from lutetia.guideline.schedule import Event
from lutetia.reports.text import escape_controls


def to_ics(events: Sequence[Event], *, patient_id: str) -> bytes:
    """All-day events (a window spans its days) with the section in the description.

    The UID of an event is a hash of the patient ID (as given), its kind, cycle
    and date: stable across exports, so that a re-import updates the events.
    """
    from icalendar import Calendar, vText
    from icalendar import Event as CalendarEvent

    shown_id = escape_controls(patient_id)
    calendar = Calendar()
    calendar.add("prodid", "-//Lutetia//177Lu-PSMA RLT plan//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", vText(f"RLT plan {shown_id}"))
    stamp = datetime.now(UTC).replace(microsecond=0)
    for event in events:
        item = CalendarEvent()
        key = f"{patient_id}|{event.kind}|{event.cycle}|{event.date.isoformat()}"
        item.add(
            "uid",
            hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32] + "@lutetia",
        )
        item.add("dtstamp", stamp)
        item.add("dtstart", event.date)
        item.add("dtend", (event.window_end or event.date) + timedelta(days=1))
        description = escape_controls(event.description)
        item.add("summary", f"{shown_id}: {description.split(':')[0]}")
        item.add("description", f"{description}\nGuideline: {escape_controls(event.section)}")
        item.add("categories", [escape_controls(event.kind)])
        calendar.add_component(item)
    data: bytes = calendar.to_ical()
    return data
