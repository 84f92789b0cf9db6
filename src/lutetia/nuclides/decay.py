"""Radioactive decay between two timezone-aware instants.

A(t₁) = A(t₀)·exp(−λ·(t₁ − t₀)) with λ = ln 2 / T½ (the decay law; see e.g.
Cember & Johnson, Introduction to Health Physics, 4th ed., eq. 4.13).
Decay backwards in time (t₁ < t₀) is allowed: it decay-corrects a later
reading to an earlier reference time.
"""

from __future__ import annotations

import math
from datetime import datetime

from lutetia.errors import BadInputError


def require_aware(moment: datetime, *, field: str) -> datetime:
    """Return ``moment`` if it carries a UTC offset, else raise naming ``field``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadInputError(field, f"{moment.isoformat()} has no UTC offset (e.g. +01:00)")
    return moment


def decay_constant_per_h(half_life_h: float) -> float:
    """λ = ln 2 / T½, in 1/h."""
    if not half_life_h > 0:
        raise BadInputError("half_life_h", f"{half_life_h!r} must be positive")
    return math.log(2) / half_life_h


def elapsed_h(start: datetime, end: datetime) -> float:
    """Hours from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    require_aware(start, field="from")
    require_aware(end, field="to")
    return (end - start).total_seconds() / 3600.0


def decay_factor(start: datetime, end: datetime, half_life_h: float) -> float:
    """exp(−λ·Δt): the fraction of activity at ``start`` that remains at ``end``.

    >>> from datetime import datetime, timezone, timedelta
    >>> t0 = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)
    >>> round(decay_factor(t0, t0 + timedelta(hours=159.528), 159.528), 12)
    0.5
    """
    return math.exp(-decay_constant_per_h(half_life_h) * elapsed_h(start, end))


def activity_at(activity: float, start: datetime, end: datetime, half_life_h: float) -> float:
    """Activity at ``end`` of a source that had ``activity`` at ``start`` (same unit)."""
    if not math.isfinite(activity) or activity < 0:
        raise BadInputError("activity", f"{activity!r} must be a finite, non-negative number")
    return activity * decay_factor(start, end, half_life_h)
