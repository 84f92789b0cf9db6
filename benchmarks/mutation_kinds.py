"""Sort the mutants that survived ``make mutation`` by what they change.

Run after ``make mutation``: ``uv run python benchmarks/mutation_kinds.py [--list]``.
It reads ``mutmut results --all true`` and the mutated sources that mutmut left
in ``mutants/``, diffs each surviving mutant's function against the original, and
counts the survivors by the kind of change (the table of benchmarks/README.md,
"Mutation testing"):

* ``comparison``: a comparison operator changed (``<`` ↔ ``<=``, ``==`` ↔ ``!=``);
* ``number``: a numeric constant changed;
* ``logic``: ``and``/``or``/``not`` or an ``if`` forced (``and False``, ``or True``);
* ``none``: a value replaced by ``None``;
* ``string``: only string literals changed;
* ``other``: the rest (an argument dropped, ``continue`` → ``break``, an operator).

The goal of issue 9 is no survivor of the first two kinds. ``--list`` prints every
survivor that is not a string change, with its diff.
"""

from __future__ import annotations

import ast
import collections
import difflib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
TOKEN = re.compile(
    r"\"[^\"]*\"|'[^']*'|\d+\.?\d*(?:e[-+]?\d+)?|<=|>=|==|!=|<|>"
    r"|\band\b|\bor\b|\bnot\b|\bNone\b|\bTrue\b|\bFalse\b|[+\-*/%]|\w+"
)


def survivors() -> dict[str, str]:
    """Mutant name → status, for the mutants that survived or had no tests."""
    output = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout  # fmt: skip
    found = {}
    for line in output.splitlines():
        match = re.match(r"\s*([\w.ǁ]+__mutmut_\d+): (.+)$", line)
        if match and match[2].strip() in ("survived", "no tests"):
            found[match[1]] = match[2].strip()
    return found


def functions() -> dict[tuple[str, str], str]:
    """(module, function name) → source, for every function of the mutated sources."""
    table = {}
    for path in MUTANTS.glob("src/lutetia/**/*.py"):
        module = ".".join(path.relative_to(MUTANTS / "src").with_suffix("").parts)
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and "__mutmut_" in node.name
            ):
                table[module, node.name] = "\n".join(lines[node.lineno - 1 : node.end_lineno])
    return table


def kind(changed: list[str]) -> str:
    """The kind of change, from the tokens removed (``- x``) and added (``+ y``)."""
    if changed and all(re.match(r"[+-] [\"']", t) for t in changed):
        return "string"
    for name, pattern in (
        ("comparison", r"[+-] (<=|>=|==|!=|<|>)$"),
        ("number", r"[+-] \d"),
        ("logic", r"[+-] (and|or|not)$"),
        ("none", r"[+-] None$"),
    ):
        if any(re.match(pattern, t) for t in changed):
            return name
    return "other"


def main(argv: list[str]) -> int:
    if not MUTANTS.is_dir():
        print("no mutants/ folder: run `make mutation` first", file=sys.stderr)
        return 2
    table = functions()
    counts: collections.Counter[str] = collections.Counter()
    listing = []
    for name, status in sorted(survivors().items()):
        module, _, function = name.rpartition(".")
        original = table.get((module, function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"))
        mutated = table.get((module, function))
        if original is None or mutated is None:
            counts["unknown"] += 1
            continue
        diff = [
            line
            for line in difflib.unified_diff(
                original.splitlines()[1:], mutated.splitlines()[1:], lineterm="", n=0
            )
            if line[:1] in "+-" and line[:3] not in ("---", "+++")
        ]
        removed = " ".join(line[1:].strip() for line in diff if line.startswith("-"))
        added = " ".join(line[1:].strip() for line in diff if line.startswith("+"))
        changed = [
            t for t in difflib.ndiff(TOKEN.findall(removed), TOKEN.findall(added)) if t[:1] in "+-"
        ]
        what = kind(changed)
        counts[what] += 1
        if what != "string":
            listing.append(f"[{what}] {name} ({status})\n    - {removed}\n    + {added}")
    for what, count in counts.most_common():
        print(f"{what:>10}  {count}")
    print(f"{'total':>10}  {sum(counts.values())}")
    if "--list" in argv:
        print("\n".join(listing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
