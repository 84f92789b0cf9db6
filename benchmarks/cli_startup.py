"""Wall time of each ``lutetia`` command as a user runs it: a fresh process per call.

Usage (from the repository root)::

    uv run python benchmarks/cli_startup.py [N] [--bytecode-cache DIR]

Each command runs N times (default 15) after one warm-up run, in a subprocess
``python -m lutetia ...`` with its output discarded; the script prints the
median and the fastest wall time and the median CPU time (user + system) of
each, against the goal of 0.3 s for every command but ``dose`` and ``letter``.

Python recompiles every module it imports when no bytecode is cached, which is
the case under ``PYTHONDONTWRITEBYTECODE=1`` in a virtual environment synced
without ``--compile-bytecode``. ``--bytecode-cache DIR`` runs the commands with
``PYTHONPYCACHEPREFIX=DIR`` (and bytecode writing allowed), as after
``uv sync --compile-bytecode``, without touching the environment itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "examples" / "cases"
GOAL_S = 0.3
T0 = "2026-02-19T10:30+01:00"

#: (label, arguments, goal applies). Arguments may use {tmp} for a scratch folder.
COMMANDS: list[tuple[str, list[str], bool]] = [
    ("--help", ["--help"], True),
    ("assess", ["assess", str(CASES / "01-vision-eligible.json")], True),
    ("assess --json", ["assess", str(CASES / "01-vision-eligible.json"), "--json"], True),
    ("next-cycle", ["next-cycle", str(CASES / "23-course-grade2-scheduled.json")], True),
    ("schedule", ["schedule", str(CASES / "21-course-proceed.json")], True),
    (
        "schedule --ics",
        ["schedule", str(CASES / "21-course-proceed.json"), "--ics", "{tmp}/plan.ics"],
        True,
    ),
    ("rules", ["rules"], True),
    ("decay", ["decay", "--activity-gbq", "7.4", "--from", T0, "--to", "2026-02-20T10:30+01:00"],
     True),
    ("grade", ["grade", "--analyte", "platelets", "--value", "62", "--unit", "/nL"], True),
    ("egfr", ["egfr", "--creatinine", "88", "--unit", "umol/L", "--age", "70", "--sex", "male"],
     True),
    (
        "activity administered",
        ["activity", "administered", "--before-gbq", "7.6", "--before-at", T0,
         "--residual-gbq", "0.15", "--residual-at", "2026-02-19T11:00+01:00",
         "--injected-at", T0],
        True,
    ),
    (
        "activity draw",
        ["activity", "draw", "--vial-gbq", "7.4", "--vial-ml", "10", "--calibrated-at", T0,
         "--prescribed-gbq", "7.4", "--inject-at", T0],
        True,
    ),
    (
        "release",
        ["release", "--administered-at", T0, "--dose-rate", "2=25", "--dose-rate", "24=12",
         "--dose-rate", "48=8"],
        True,
    ),
    (
        "release, 4 readings",
        ["release", "--administered-at", T0, "--dose-rate", "1=25", "--dose-rate", "24=12",
         "--dose-rate", "48=7", "--dose-rate", "120=2.5"],
        True,
    ),
    ("dose bed", ["dose", "bed", "--dose-gy", "2.07", "--teff-h", "42.4"], False),
    (
        "letter (HTML)",
        ["letter", str(CASES / "21-course-proceed.json"), "--injected-at", T0,
         "--prescribed-gbq", "7.4", "--dose-rate", "2=25", "--dose-rate", "24=12",
         "--html", "{tmp}/letter.html"],
        False,
    ),
]  # fmt: skip


def _time_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the child, exit status) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "lutetia", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, completed.returncode


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def main() -> int:
    """Run the benchmark and print one line per command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=15, help="runs per command")
    parser.add_argument("--bytecode-cache", metavar="DIR", help="PYTHONPYCACHEPREFIX for runs")
    options = parser.parse_args()

    env = dict(os.environ)
    if options.bytecode_cache:
        env["PYTHONPYCACHEPREFIX"] = options.bytecode_cache
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    bytecode = (
        f"cached in {options.bytecode_cache}"
        if options.bytecode_cache
        else "not written (PYTHONDONTWRITEBYTECODE=1)"
        if env.get("PYTHONDONTWRITEBYTECODE")
        else "written and read as usual"
    )
    print(f"machine: {_machine()}")
    print(f"bytecode: {bytecode}; load average at start: {os.getloadavg()[0]:.2f}")
    print(f"{options.n} runs per command after one warm-up; goal {GOAL_S} s wall")
    print(f"{'command':<24}{'median s':>10}{'fastest s':>11}{'CPU s':>8}  goal")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, template, goal in COMMANDS:
            argv = [a.replace("{tmp}", tmp) for a in template]
            _, _, status = _time_once(argv, env)
            if status != 0:
                print(f"{label:<24}  exits {status}: check the command line")
                failures += 1
                continue
            runs = [_time_once(argv, env) for _ in range(options.n)]
            walls = [wall for wall, _, _ in runs]
            median = statistics.median(walls)
            cpu = statistics.median(c for _, c, _ in runs)
            verdict = ("met" if median < GOAL_S else "MISSED") if goal else "none set"
            print(f"{label:<24}{median:>10.3f}{min(walls):>11.3f}{cpu:>8.3f}  {verdict}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
