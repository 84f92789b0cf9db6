"""Printing for the command line: exactly one JSON object with ``--json``, text otherwise."""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime
from typing import Any

from lutetia.errors import BadInputError


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _clean(value: Any) -> Any:
    """Replace non-finite floats by None: JSON has no NaN or Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def emit_json(document: dict[str, Any]) -> None:
    """Print one JSON object on stdout (floats unrounded)."""
    sys.stdout.write(
        json.dumps(_clean(document), ensure_ascii=False, indent=2, default=_default) + "\n"
    )


def parse_aware(text: str, *, option: str) -> datetime:
    """Parse an ISO 8601 datetime that carries a UTC offset, for option ``option``."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(option, f"{text!r} is not an ISO 8601 datetime") from None
    if moment.tzinfo is None:
        raise BadInputError(option, f"{text!r} has no UTC offset (e.g. 2026-03-03T09:30+01:00)")
    return moment


def finite(text: str) -> float:
    """argparse type: a finite float."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


_COLOURS = {
    "RECOMMENDED": "32", "PROCEED": "32",
    "CONSIDER": "33", "REDUCE": "33", "POSTPONE": "33",
    "NOT RECOMMENDED": "31", "DISCONTINUE": "31", "HOLD": "31",
    "INSUFFICIENT DATA": "36", "COMPLETE": "36",
}  # fmt: skip


def for_terminal(report: str) -> str:
    """Colour the decision line when writing to a terminal (honours NO_COLOR)."""
    import os

    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return report
    lines = report.split("\n")
    for i, line in enumerate(lines):
        head, sep, rest = line.partition(": ")
        if sep and head in ("RECOMMENDATION", "DECISION"):
            word = max((w for w in _COLOURS if rest.startswith(w)), key=len, default=None)
            if word:
                lines[i] = f"\033[1m{head}: \033[{_COLOURS[word]}m{rest}\033[0m"
    return "\n".join(lines)
