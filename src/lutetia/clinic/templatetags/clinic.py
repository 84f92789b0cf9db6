"""Template filters of the clinic's pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
def shown(value: Any) -> str:
    """A finding's value or threshold for the page: ``—`` when absent, mappings and lists
    as ``key: value`` text, numbers to 4 significant digits."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {shown(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(shown(item) for item in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@register.filter
def as_json(value: Any) -> str:
    """A stored document as indented JSON (the audit trail's before and after)."""
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True, default=str)


@register.filter
def unit(value: str | None) -> str:
    """A UCUM unit as a reader writes it: ``10*9/L`` → ``×10⁹/L``, ``{grade}`` → ``grade``."""
    if not value:
        return ""
    text = str(value).replace("10*9/", "×10⁹/").replace("10*12/", "×10¹²/")
    return text.replace("{", "").replace("}", "").replace("_", " ")


@register.filter
def cut_at(value: str, separator: str) -> str:
    """The text before ``separator`` (the short name of a long method description)."""
    return str(value).split(separator, 1)[0].strip()
