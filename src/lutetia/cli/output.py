"""Printing for the command line: exactly one JSON object with ``--json``, text otherwise."""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from lutetia.errors import BadInputError

if TYPE_CHECKING:
    import argparse


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


#: Characters ``json.dumps(ensure_ascii=False)`` leaves raw that a terminal or a
#: line-oriented reader may act on: DEL, C1 controls, line and paragraph
#: separators, bidirectional controls, lone surrogates (C0 is always escaped).
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def json_text(document: dict[str, Any]) -> str:
    """The JSON text of ``document``: indented, floats unrounded, NaN/∞ as null, and every
    control character inside a string written as a ``\\uXXXX`` escape (same data)."""
    text = json.dumps(_clean(document), ensure_ascii=False, indent=2, default=_default)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit_json(document: dict[str, Any]) -> None:
    """Print one JSON object on stdout (see :func:`json_text`)."""
    sys.stdout.write(json_text(document) + "\n")


#: Years a date or time on the command line may fall in. Wide enough for any
#: record of a living patient and any plan; narrow enough to catch a mistyped
#: year (0001, 9999) before it reaches date arithmetic, which would overflow.
YEARS: Final = range(1900, 2200)


def parse_aware(text: str, *, option: str) -> datetime:
    """Parse an ISO 8601 datetime that carries a UTC offset, for option ``option``.

    A year outside :data:`YEARS` is refused.
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(option, f"{text!r} is not an ISO 8601 datetime") from None
    if moment.tzinfo is None:
        raise BadInputError(option, f"{text!r} has no UTC offset (e.g. 2026-03-03T09:30+01:00)")
    if moment.year not in YEARS:
        raise BadInputError(
            option, f"{text!r}: the year must be {YEARS.start}–{YEARS.stop - 1} (a typo?)"
        )
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


def check_output_path(target: str, *, option: str, inputs: Sequence[str] = ()) -> Path:
    """Validate an output file named on the command line, before any work is done.

    Refuses ``-`` (callers that can write to stdout handle it before calling),
    a name ending in a path separator, an existing symlink, FIFO, device,
    socket or directory, an existing file that is read-only, a path that is one
    of the command's ``inputs`` (never overwrite what was read, whatever the
    spelling or hard link), and a missing parent folder. Raises
    :class:`BadInputError` naming ``option``.
    """
    import os
    import stat

    if target in ("", "-"):
        raise BadInputError(option, f"{target!r} is not a file name (this option cannot be stdout)")
    if target.endswith(("/", os.sep)):
        raise BadInputError(option, f"{target} names a folder, not a file")
    path = Path(target)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise BadInputError(option, f"cannot use {target}: {error.strerror}") from None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise BadInputError(option, f"{target} is a symbolic link; it is not replaced")
        if not stat.S_ISREG(info.st_mode):
            raise BadInputError(option, f"{target} exists and is not a regular file")
        for source in inputs:
            try:
                same = os.path.samefile(path, source)
            except (OSError, ValueError):
                continue
            if same:
                raise BadInputError(option, f"{target} is an input of this command")
        if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
            # No write bit for anyone: someone protected it (refused even for root).
            raise BadInputError(option, f"{target} is read-only; it is not replaced")
    parent = path.parent
    if not parent.is_dir():
        raise BadInputError(option, f"folder {parent} does not exist")
    return path


def _new_file_mode(path: Path) -> int:
    """The permissions of the file being replaced, else those of a new file (0666 less umask)."""
    import os
    import stat

    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_output(target: str, *, option: str, inputs: Sequence[str] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; replace ``target`` with it on success.

    The file appears whole or not at all: if the body raises, the temporary file
    is removed and ``target`` is untouched. :func:`check_output_path` runs
    first, and again just before the replacement (a symlink put there meanwhile
    is refused, not followed). The new file keeps the permissions of the file it
    replaces; a new one gets 0666 less the umask, as a shell redirection would.

    For a command writing several files, nest the blocks and write every file
    in the innermost one, so that none is replaced unless all were written::

        with atomic_output(html, option="--html") as h, atomic_output(pdf, option="--pdf") as p:
            write(h)
            write(p)
    """
    import os
    import tempfile

    path = check_output_path(target, option=option, inputs=inputs)
    mode = _new_file_mode(path)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as error:
        raise BadInputError(option, f"cannot write {target}: {error.strerror}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        check_output_path(target, option=option, inputs=inputs)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as error:
        raise BadInputError(option, f"cannot write {target}: {error.strerror}") from None
    finally:
        temporary.unlink(missing_ok=True)


#: Fields the imaging and service layers name, as the options a user of these commands typed.
#: Only fields that come from one option alone (``labels`` and ``mask`` also name arrays
#: built inside the program, so they are not mapped).
OPTION_OF_FIELD: Final[dict[str, str]] = {
    "masks": "--masks",
    "labels_file": "--labels",
    "calibration_cps_per_mbq": "--calibration-cps-per-mbq",
}


def named_as_options(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Run ``handler``; an error about a field the user gave as an option names the option."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except BadInputError as error:
            option = OPTION_OF_FIELD.get(error.field)
            if option is None:
                raise
            raise BadInputError(option, error.reason) from None

    return run


#: A UTC offset typed by a user: ±HH:MM or ±HHMM.
_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<h>\d{2}):?(?P<m>\d{2})$")


def parse_offset(text: str) -> tzinfo:
    """A fixed UTC offset from ``+01:00`` / ``-0500``."""
    match = _OFFSET.match(text.strip())
    if not match:
        raise BadInputError("--timezone", f"{text!r} is not a UTC offset like +01:00")
    from lutetia.imaging.dicom import fixed_utc_offset

    return fixed_utc_offset(
        match["sign"], int(match["h"]), int(match["m"]), field="--timezone", text=text
    )


def refuse_inside(target: str | Path, *, option: str, folders: list[str]) -> None:
    """Refuse an output that is, or lies inside, an input folder (a series folder).

    A file written into a DICOM series folder would be read with the series
    next time (an RTDOSE there makes it two series); one written over a file
    of the series destroys the input.
    """
    place = Path(target).resolve()
    for folder in folders:
        source = Path(folder)
        if not source.is_dir():
            continue
        inside = source.resolve()
        if place == inside or place.is_relative_to(inside):
            raise BadInputError(option, f"{target} is inside the input folder {folder}")
