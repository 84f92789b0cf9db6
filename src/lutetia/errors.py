"""Errors the core raises for bad input.

Every error names the field (a dotted path such as ``labs[3].unit`` or a
command-line option) so that the shell can print one clear line and exit 2.
"""

from __future__ import annotations


class BadInputError(ValueError):
    """Input that cannot be used: an unknown unit, an impossible value, a malformed file.

    ``field`` is the path of the offending field; ``reason`` says why.

    >>> str(BadInputError("labs[3].unit", "unknown unit 'foo'"))
    "labs[3].unit: unknown unit 'foo'"
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason
