"""Template filters of the clinic's pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def when(value: str | datetime | None) -> str:
    """An ISO datetime (as the engines' documents write it) in the department's zone, to
    the minute: ``2026-12-02 17:00 CET``."""
    if value in (None, ""):
        return "—"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


@register.filter
def cut_at(value: str, separator: str) -> str:
    """The text before ``separator`` (the short name of a long method description)."""
    return str(value).split(separator, 1)[0].strip()
