"""Reading case files (JSON or YAML) into validated :class:`~lutetia.cases.model.Case` objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lutetia.cases.model import Case, check_chronology
from lutetia.errors import BadInputError


def field_path(location: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as ``labs[3].unit``.

    >>> field_path(("labs", 3, "unit"))
    'labs[3].unit'
    """
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_MESSAGES = {
    "extra_forbidden": "unknown field (a typo? other data belong under 'extensions')",
    "missing": "required field is missing",
}


def case_from_mapping(data: Any, *, source: str = "case") -> Case:
    """Validate a parsed document as a ``lutetia.case/1`` case.

    Raises :class:`BadInputError` naming the first offending field.
    """
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise BadInputError(source, "a case file must hold one object (a mapping)")
    schema = data.get("schema")
    if schema != "lutetia.case/1":
        raise BadInputError("schema", f"{schema!r} is not 'lutetia.case/1'")
    try:
        case = Case.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        location = tuple(first["loc"])
        message = _MESSAGES.get(first["type"], first["msg"])
        message = message.removeprefix("Value error, ")
        raise BadInputError(field_path(location), message) from None
    check_chronology(case)
    return case


def load_case(path: str | Path) -> Case:
    """Read a case file; JSON unless the name ends in .yaml or .yml."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(str(path), f"cannot be read: {error}") from None
    if file.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise BadInputError(str(path), f"malformed YAML{where}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise BadInputError(
                str(path),
                f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}",
            ) from None
    return case_from_mapping(data, source=str(path))
