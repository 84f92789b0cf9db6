"""Reading case files (JSON or YAML) into validated :class:`~lutetia.cases.model.Case` objects.

Everything that is wrong with a file becomes one :class:`BadInputError` naming the
field (or the file and line): malformed syntax, a key given twice in one object
(JSON or YAML: which one would count?), nesting deeper than any case needs, a YAML
alias, and every validation error of the model.
"""

from __future__ import annotations

import functools
import json
import reprlib
from pathlib import Path
from typing import Any, Final

from lutetia.cases.model import Case, printable, walk_items
from lutetia.errors import BadInputError

#: Deepest nesting of objects and lists a case file may have (the case itself nests 4
#: deep; ``extensions`` may nest :data:`~lutetia.cases.model.MAX_EXTENSION_DEPTH`).
MAX_DOCUMENT_DEPTH: Final = 48


def field_path(location: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as ``labs[3].unit`` (control characters escaped).

    >>> field_path(("labs", 3, "unit"))
    'labs[3].unit'
    >>> field_path(("patient", "id\\nX"))
    'patient.id\\\\u000aX'
    """
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = printable(str(part))
            text += f".{name}" if text else name
    return text


def join_path(base: str, relative: str) -> str:
    """``base`` followed by a path relative to it.

    >>> join_path("labs[3]", "value"), join_path("extensions", "[0]"), join_path("", "as_of")
    ('labs[3].value', 'extensions[0]', 'as_of')
    """
    if not base or not relative:
        return base or relative
    return base + relative if relative.startswith("[") else f"{base}.{relative}"


_MESSAGES = {
    "extra_forbidden": "unknown field (a typo? other data belong under 'extensions')",
    "missing": "required field is missing",
}

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


def _describe(value: Any) -> str:
    """How a JSON value of the wrong type was given: ``the string 'no'``, ``true``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {_repr.repr(value)}"
    if isinstance(value, str):
        return f"the string {_repr.repr(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _check_depth(data: Any) -> None:
    for path, depth, _ in walk_items(data):
        if depth > MAX_DOCUMENT_DEPTH:
            raise BadInputError(path, f"nested more than {MAX_DOCUMENT_DEPTH} deep")


def case_from_mapping(data: Any, *, source: str = "case") -> Case:
    """Validate a parsed document as a ``lutetia.case/1`` case.

    Raises :class:`BadInputError` naming the first offending field.
    """
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise BadInputError(source, "a case file must hold one object (a mapping)")
    schema = data.get("schema")
    if schema != "lutetia.case/1":
        raise BadInputError("schema", f"{_repr.repr(schema)} is not 'lutetia.case/1'")
    _check_depth(data)
    try:
        return Case.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        location = field_path(tuple(first["loc"]))
        original = (first.get("ctx") or {}).get("error")
        if isinstance(original, BadInputError):
            # A model validator named the field relative to where it ran.
            raise BadInputError(join_path(location, original.field), original.reason) from None
        message = _MESSAGES.get(first["type"], first["msg"])
        message = message.removeprefix("Value error, ")
        if first["type"].endswith("_type") or first["type"] == "literal_error":
            message += f" (got {_describe(first['input'])})"
        raise BadInputError(location, message) from None


class _DuplicateKeyError(Exception):
    def __init__(self, key: Any, line: int, column: int) -> None:
        super().__init__(key)
        self.key, self.line, self.column = key, line, column


def _json_document(text: str, source: str) -> Any:
    """Parse JSON, rejecting a key given twice in one object (naming its path)."""
    repeated: dict[int, str] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key, value in items:
            if key in mapping and id(mapping) not in repeated:
                repeated[id(mapping)] = key
            mapping[key] = value
        return mapping

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as error:
        raise BadInputError(
            source,
            f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}",
        ) from None
    except RecursionError:
        raise BadInputError(source, "nested too deeply to be a case file") from None
    if repeated:
        _check_depth(data)
        for path, _, item in walk_items(data):
            if isinstance(item, dict) and id(item) in repeated:
                key = repeated[id(item)]
                raise BadInputError(
                    join_path(path, printable(key)),
                    "the key is given twice in the same object (which one counts?)",
                )
    return data


@functools.cache
def _yaml_loader() -> type:
    """A safe YAML loader that refuses duplicate keys and aliases (built on first use)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.MarkedYAMLError(
                    problem="aliases (*name) are not allowed in case files",
                    problem_mark=event.start_mark,
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # unhashable: the base class says so
                if duplicate:
                    mark = key_node.start_mark
                    raise _DuplicateKeyError(key, mark.line + 1, mark.column + 1)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _yaml_document(text: str, source: str) -> Any:
    """Parse YAML safely, rejecting duplicate keys and aliases."""
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())
    except _DuplicateKeyError as error:
        raise BadInputError(
            source,
            f"key {_repr.repr(error.key)} is given twice in the same mapping at line "
            f"{error.line}, column {error.column} (which one counts?)",
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None)
        detail = f": {problem}" if problem and "alias" in str(problem) else ""
        raise BadInputError(source, f"malformed YAML{where}{detail}") from None
    except RecursionError:
        raise BadInputError(source, "nested too deeply to be a case file") from None


def parse_document(text: str, *, yaml_syntax: bool, source: str) -> Any:
    """A case document's text parsed as YAML or JSON, duplicate keys refused (not validated)."""
    return _yaml_document(text, source) if yaml_syntax else _json_document(text, source)


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
        data = _yaml_document(text, str(path))
    else:
        data = _json_document(text, str(path))
    return case_from_mapping(data, source=str(path))
