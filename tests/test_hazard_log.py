"""docs/hazards.md points at the tests that guard each hazard: every one of them must exist.

A reference is ``tests/<file>.py::<test>`` or, after one, ``::<test>`` in the same file
(a parametrized id in brackets is allowed). A test renamed or deleted without updating the
log would leave a hazard listed as guarded by nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "docs" / "hazards.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(\w+)(?:\[[^\]`]*\])?`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def references() -> list[tuple[int, str, str]]:
    """(line, file, test) of every test the hazard log names."""
    found = []
    for number, line in enumerate(LOG.read_text().splitlines(), start=1):
        if not line.startswith("| H-"):
            continue
        current = None
        for match in REFERENCE.finditer(line):
            current = match[1] or current
            assert current is not None, f"hazards.md:{number}: '::{match[2]}' names no file"
            found.append((number, current, match[2]))
    return found


def test_the_log_names_tests() -> None:
    assert len(references()) > 100


def test_every_test_the_hazard_log_names_exists() -> None:
    cache: dict[str, set[str]] = {}
    missing = []
    for number, file, test in references():
        path = ROOT / file
        if file not in cache:
            cache[file] = _tests_in(path) if path.exists() else set()
        if test not in cache[file]:
            missing.append(f"hazards.md:{number}: {file}::{test}")
    assert not missing, "\n".join(missing)


FILE = re.compile(r"`(tests/[\w/]+\.py)(?:::[^`]*)?`")


def _rows() -> list[list[str]]:
    return [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in LOG.read_text().splitlines()
        if line.startswith("| H-")
    ]


def test_every_test_file_the_hazard_log_names_exists() -> None:
    files = {match[1] for row in _rows() for match in FILE.finditer(" | ".join(row))}
    assert files
    missing = sorted(f for f in files if not (ROOT / f).is_file())
    assert not missing, missing


def test_every_hazard_has_a_guard() -> None:
    """The last column names a test (file or test), or points to another hazard that does."""
    rows = _rows()
    ids = {row[0] for row in rows}
    bare = []
    for row in rows:
        guard = row[-1]
        pointed = re.findall(r"see (H-[A-Z]+\d+)", guard)
        if "`tests/" in guard or "`::" in guard:
            continue
        if pointed and all(p in ids for p in pointed):
            continue
        bare.append(row[0])
    assert not bare, f"hazards without a test in their last column: {bare}"
