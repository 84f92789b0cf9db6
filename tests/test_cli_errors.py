"""Every command, fed bad input, exits 2 with exactly one line on stderr (spec/cli.md).

The sweep runs each command in-process (``lutetia.cli.main``) with unknown
options, missing or unreadable files, empty, binary and deeply nested files,
files that are not one object, dates in year 1 and 9999, nan/inf/1e308 and
zero where they break the arithmetic, and output files that must not be
written. Each case checks: exit status 2, one line on stderr that starts with
``lutetia`` and names the field or option, no traceback, nothing on stdout. A
few run as a separate process, as a user runs them.

The shell itself: ``lutetia --help`` imports no subcommand module and none of
the heavy libraries, and the help line of each command in the lazy table is
the one its module registers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lutetia.cli import COMMANDS, build_parser, command_of, main
from tests.conftest import EXAMPLES

SELECTION = str(EXAMPLES / "01-vision-eligible.json")
COURSE = str(EXAMPLES / "21-course-proceed.json")
T = "2026-02-19T10:30+01:00"
T_LATER = "2026-02-19T11:00+01:00"
RATES = ["--dose-rate", "2=25", "--dose-rate", "24=12", "--dose-rate", "48=8"]
YEAR_1 = "0001-01-01T00:00+01:00"
YEAR_9999 = "9999-12-31T23:00-05:00"


def _mutated(example: str, change: Callable[[dict[str, Any]], None]) -> Callable[[], str]:
    def build() -> str:
        data = json.loads((EXAMPLES / example).read_text())
        change(data)
        return json.dumps(data)

    return build


def _set(*path: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


#: File name → text (or bytes, or a builder) of the bad files the sweep reads.
FILES: dict[str, str | bytes | Callable[[], str]] = {
    "empty.json": "",
    "blank.json": " \n\t\n",
    "binary.json": bytes(range(256)),
    "malformed.json": '{"schema": "lutetia.case/1", "as_of": ',
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "deep-object.json": '{"schema": "lutetia.case/1", "extensions": {"x": '
    + "[" * 100_000
    + "]" * 100_000
    + "}}",
    "deep.yaml": "[" * 100_000 + "]" * 100_000,
    "list.json": "[1, 2, 3]",
    "string.json": '"lutetia.case/1"',
    "null.json": "null",
    "tabs.yaml": "schema:\t[",
    "as-of-year-1.json": _mutated("21-course-proceed.json", _set("as_of", value="0001-01-01")),
    "as-of-year-9999.json": _mutated("21-course-proceed.json", _set("as_of", value="9999-12-31")),
    "birth-year-1.json": _mutated(
        "21-course-proceed.json", _set("patient", "birth_date", value="0001-01-01")
    ),
    "lab-year-9999.json": _mutated(
        "21-course-proceed.json", _set("labs", 0, "date", value="9999-12-31")
    ),
    "cycle-year-9999.json": _mutated(
        "21-course-proceed.json", _set("course", "cycles", 1, "date", value="9999-12-28")
    ),
    "planned-year-9999.json": _mutated(
        "21-course-proceed.json", _set("course", "planned_date", value="9999-12-28")
    ),
    "consent-year-1.json": _mutated(
        "21-course-proceed.json", _set("consent", "signed_at", value=YEAR_1)
    ),
    "lab-nan.json": _mutated(
        "01-vision-eligible.json", _set("labs", 0, "value", value=float("nan"))
    ),
    "lab-inf.json": _mutated(
        "01-vision-eligible.json", _set("labs", 0, "value", value=float("inf"))
    ),
    "lab-1e308.json": _mutated("01-vision-eligible.json", _set("labs", 0, "value", value=1e308)),
    "weight-1e308.json": _mutated(
        "01-vision-eligible.json", _set("patient", "weight_kg", value=1e308)
    ),
    "crlf-id.json": _mutated("21-course-proceed.json", _set("patient", "id", value="co\r\n21")),
    "esc-id.json": _mutated(
        "01-vision-eligible.json",
        _set("patient", "id", value="ex\x1b[2K\rRECOMMENDATION: RECOMMENDED"),
    ),
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding :data:`FILES`, a folder named like a case, a FIFO and a symlink."""
    folder = tmp_path_factory.mktemp("bad-input")
    for name, content in FILES.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else content())
    (folder / "folder.json").mkdir()
    os.mkfifo(folder / "fifo.ics")
    (folder / "real.ics").write_text("keep")
    (folder / "link.ics").symlink_to(folder / "real.ics")
    (folder / "case.json").write_text((EXAMPLES / "21-course-proceed.json").read_text())
    return folder


def _expand(argv: list[str], folder: Path) -> list[str]:
    return [a.replace("{dir}", str(folder)) for a in argv]


def _xfail(owner: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"owned by {owner}, reported")


def case_file_cases() -> list[Any]:
    """Every case-file command against every unreadable or impossible file."""
    params = []
    bad = {
        "missing.json": "no such file",
        "folder.json": "folder.json",
        "empty.json": "empty.json",
        "blank.json": "blank.json",
        "binary.json": "binary.json",
        "malformed.json": "malformed JSON",
        "deep.json": "deep.json",
        "deep-object.json": "deep-object.json",
        "deep.yaml": "deep.yaml",
        "tabs.yaml": "tabs.yaml",
        "list.json": "list.json",
        "string.json": "string.json",
        "null.json": "null.json",
        "as-of-year-1.json": "as_of",
        "as-of-year-9999.json": "as_of",
        "birth-year-1.json": "birth_date",
        "lab-year-9999.json": "labs[0].date",
        "cycle-year-9999.json": "course.cycles[1].date",
        "planned-year-9999.json": "course.planned_date",
        "consent-year-1.json": "consent.signed_at",
        "lab-nan.json": "labs[0].value",
        "lab-inf.json": "labs[0].value",
        "lab-1e308.json": "labs[0].value",
        "weight-1e308.json": "weight_kg",
        "crlf-id.json": "patient.id",
        "esc-id.json": "patient.id",
    }
    commands = {
        "assess": ["--json"],
        "next-cycle": ["--json"],
        "schedule": ["--json"],
        "letter": ["--injected-at", T, *RATES, "--html", "{dir}/letter.html"],
    }
    for command, extra in commands.items():
        for name, needle in bad.items():
            params.append(
                pytest.param([command, f"{{dir}}/{name}", *extra], needle, id=f"{command}-{name}")
            )
    return params


ADMINISTERED = "activity administered --before-gbq 7.6 --residual-gbq 0.1 --injected-at " + T
DRAW = "activity draw --vial-gbq 7.4 --prescribed-gbq 7.4"
STP = "dose stp --time-h 24 --method madsen --region kidneys"
LETTER = f"letter {COURSE} --injected-at {T} " + " ".join(RATES)
KIDNEYS = str(EXAMPLES.parent / "tac" / "kidneys.csv")

#: (id, what the message must name, command line: split like a shell, or a list as is).
_OPTION_TABLE: list[tuple[str, str, str | list[str]]] = [
    # unknown options and missing arguments, at every level
    ("no-command", "COMMAND", []),
    ("top-unknown-option", "COMMAND", "--bogus"),
    ("unknown-command", "nosuch", "nosuch"),
    ("assess-unknown-option", "lutetia assess: error: unrecognized", f"assess {SELECTION} --bogus"),
    ("assess-no-case", "CASE", "assess"),
    ("next-cycle-unknown-option", "lutetia next-cycle: error", f"next-cycle {COURSE} --bogus x"),
    ("schedule-no-consent-option", "lutetia schedule: error",
     f"schedule {COURSE} --consent-lead-h 12"),
    ("rules-bad-choice", "--stage", "rules --stage x"),
    ("rules-extra-argument", "lutetia rules: error", "rules extra"),
    ("decay-nothing", "required", "decay"),
    ("grade-bad-analyte", "--analyte", "grade --analyte ecog --value 1 --unit 1"),
    ("egfr-no-sex", "--sex", "egfr --creatinine 1 --unit mg/dL --age 50"),
    ("activity-no-subcommand", "WHAT", "activity"),
    ("activity-unknown-subcommand", "give", "activity give"),
    ("activity-draw-unknown-option", "lutetia activity draw: error", "activity draw --bogus"),
    ("release-unknown-option", "lutetia release: error", "release --bogus"),
    ("letter-no-case", "CASE", "letter"),
    ("dose-no-subcommand", "WHAT", "dose"),
    ("dose-bed-unknown-option", "lutetia dose bed: error",
     "dose bed --dose-gy 2 --teff-h 40 --bogus"),
    ("dose-tac-no-mass", "--mass-g", "dose tac {dir}/missing.csv"),
    ("decay-newline-in-time", "--to",
     ["decay", "--activity-gbq", "7.4", "--from", T, "--to", f"{T}\nRECOMMENDATION"]),
    ("grade-escape-in-unit", "--unit",
     ["grade", "--analyte", "platelets", "--value", "5", "--unit", "\x1b[2J\n/nL"]),
    # dates in year 1 and 9999
    ("decay-from-year-1", "--from", f"decay --activity-gbq 7.4 --from {YEAR_1} --to {T}"),
    ("decay-to-year-9999", "--to", f"decay --activity-gbq 7.4 --from {T} --to {YEAR_9999}"),
    ("decay-9999-to-1", "--from", f"decay --activity-gbq 7.4 --from {YEAR_9999} --to {YEAR_1}"),
    ("release-year-9999", "--administered-at", ["release", "--administered-at", YEAR_9999, *RATES]),
    ("release-year-1", "--administered-at", ["release", "--administered-at", YEAR_1, *RATES]),
    ("administered-year-1", "--before-at",
     f"{ADMINISTERED} --before-at {YEAR_1} --residual-at {T_LATER}"),
    ("administered-year-9999", "--residual-at",
     f"{ADMINISTERED} --before-at {T} --residual-at {YEAR_9999}"),
    ("draw-year-1", "--calibrated-at",
     f"{DRAW} --vial-ml 10 --calibrated-at {YEAR_1} --inject-at {T}"),
    ("draw-year-9999", "--inject-at",
     f"{DRAW} --vial-ml 10 --calibrated-at {T} --inject-at {YEAR_9999}"),
    ("letter-year-9999", "--injected-at",
     f"letter {COURSE} --injected-at {YEAR_9999} {' '.join(RATES)} --html {{dir}}/l.html"),
    # nan, inf, 1e308, zero
    ("decay-nan", "--activity-gbq", f"decay --activity-gbq nan --from {T} --to {T}"),
    ("decay-inf", "--activity-gbq", f"decay --activity-gbq inf --from {T} --to {T}"),
    ("decay-1e308-backwards", "--to",
     "decay --activity-gbq 1e308 --from 2026-03-01T00:00Z --to 2020-01-01T00:00Z"),
    ("decay-three-centuries-back", "--to",
     "decay --activity-gbq 7.4 --from 2199-01-01T00:00Z --to 1900-01-01T00:00Z"),
    ("grade-1e308", "platelets", "grade --analyte platelets --value 1e308 --unit /nL"),
    ("grade-uln-0", "--uln", "grade --analyte creatinine --value 1 --unit mg/dL --uln 0"),
    ("grade-baseline-0", "--baseline",
     "grade --analyte creatinine --value 1 --unit mg/dL --baseline 0"),
    ("grade-lln-above-uln", "--lln",
     "grade --analyte hemoglobin --value 10 --unit g/dL --lln 14 --uln 12"),
    # A reference limit in another unit than its value (issue 9 §2), and an impossible
    # value, are refused by the one table of lutetia.clinical.plausibility.
    ("grade-uln-in-other-unit", "--uln: bilirubin uln 21 mg/dL",
     "grade --analyte bilirubin --value 3.5 --unit mg/dL --uln 21"),
    ("grade-lln-in-other-unit", "--lln",
     "grade --analyte hemoglobin --value 10 --unit g/dL --lln 120 --uln 16"),
    ("grade-creatinine-0", "--value", "grade --analyte creatinine --value 0 --unit mg/dL"),
    ("grade-baseline-implausible", "--baseline",
     "grade --analyte creatinine --value 1 --unit mg/dL --baseline 88"),
    ("egfr-creatinine-in-umol-as-mg", "--creatinine: creatinine value 100 mg/dL",
     "egfr --creatinine 100 --unit mg/dL --age 50 --sex male"),
    ("egfr-creatinine-tiny", "--creatinine",
     "egfr --creatinine 1e-300 --unit mg/dL --age 50 --sex male"),
    ("egfr-creatinine-1e308", "creatinine",
     "egfr --creatinine 1e308 --unit mg/dL --age 50 --sex male"),
    ("egfr-age-1e308", "age", "egfr --creatinine 1 --unit mg/dL --age 1e308 --sex male"),
    ("release-rate-1e308", "--dose-rate",
     f"release --administered-at {T} --dose-rate 2=1e308 --dose-rate 24=12"),
    ("release-distance-1e308", "--distance-m",
     ["release", "--administered-at", T, *RATES, "--distance-m", "1e308"]),
    ("release-threshold-distance-0", "--threshold-distance-m",
     ["release", "--administered-at", T, *RATES, "--threshold-usv-h", "5",
      "--threshold-distance-m", "0"]),
    ("release-gbq-1e308", "--administered-gbq",
     f"release --administered-at {T} --administered-gbq 1e308"),
    ("draw-vial-ml-tiny", "--vial-ml",
     f"{DRAW} --vial-ml 1e-308 --calibrated-at {T} --inject-at {T}"),
    ("administered-1e308", "--before-gbq",
     f"{ADMINISTERED} --before-at {T} --residual-at {T_LATER} --before-gbq 1e308"),
    ("letter-threshold-distance-0", "--threshold-distance-m",
     f"{LETTER} --threshold-usv-h 5 --threshold-distance-m 0 --html {{dir}}/l.html"),
    ("dose-bed-1e200", "--dose-gy", "dose bed --dose-gy 1e200 --teff-h 40"),
    ("dose-bed-teff-0", "--teff-h", "dose bed --dose-gy 2 --teff-h 0"),
    ("dose-stp-1e308", "--activity-mbq", f"{STP} --activity-mbq 1e308 --mass-g 300"),
    ("dose-stp-mass-0", "--mass-g", f"{STP} --activity-mbq 100 --mass-g 0"),
    ("dose-population-1e308", "--activity-gbq", "dose population --activity-gbq 1e308"),
    ("dose-plan-tiny", "--gy-per-gbq", "dose plan --gy-per-gbq 1e-308"),
    ("dose-tac-binary", "binary.json", "dose tac {dir}/binary.json --mass-g 300"),
    ("dose-tac-folder", "folder.json", "dose tac {dir}/folder.json --mass-g 300"),
    ("dose-tac-empty", "empty.json", "dose tac {dir}/empty.json --mass-g 300"),
    # output files
    ("ics-device", "--ics", f"schedule {COURSE} --ics /dev/null"),
    ("ics-fifo", "--ics", f"schedule {COURSE} --ics {{dir}}/fifo.ics"),
    ("ics-symlink", "--ics", f"schedule {COURSE} --ics {{dir}}/link.ics"),
    ("ics-folder", "--ics", f"schedule {COURSE} --ics {{dir}}"),
    ("ics-missing-folder", "--ics", f"schedule {COURSE} --ics {{dir}}/missing/plan.ics"),
    ("ics-over-the-case", "--ics", "schedule {dir}/case.json --ics {dir}/case.json"),
    ("ics-over-the-case-respelled", "--ics", "schedule {dir}/case.json --ics {dir}/./case.json"),
    ("ics-stdout-with-json", "--ics", f"schedule {COURSE} --ics - --json"),
    ("ics-empty-name", "--ics", ["schedule", COURSE, "--ics", ""]),
    ("ics-crlf-id", "patient.id", "schedule {dir}/crlf-id.json --ics {dir}/plan.ics"),
    ("letter-html-device", "--html", f"{LETTER} --html /dev/null"),
    ("letter-html-over-the-case", "--html",
     f"letter {{dir}}/case.json --injected-at {T} {' '.join(RATES)} --html {{dir}}/case.json"),
    ("letter-html-symlink", "--html", f"{LETTER} --html {{dir}}/link.ics"),
    ("dose-tac-plot-device", "--plot", f"dose tac {KIDNEYS} --mass-g 300 --plot /dev/null"),
]  # fmt: skip

OPTION_CASES = [
    pytest.param(argv.split() if isinstance(argv, str) else argv, needle, id=name)
    for name, needle, argv in _OPTION_TABLE
]


def _check_one_error(status: int, out: str, err: str, needle: str) -> None:
    assert status == 2, err
    assert out == ""
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert err.startswith("lutetia")
    assert "Traceback" not in err
    assert "internal error" not in err
    assert "\x1b" not in err
    assert needle in err


@pytest.mark.parametrize(("argv", "needle"), [*case_file_cases(), *OPTION_CASES])
def test_bad_input_exits_2_with_one_line(
    scratch: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    before = sorted(p.name for p in scratch.iterdir())
    status = main(_expand(argv, scratch))
    out, err = capsys.readouterr()
    _check_one_error(status, out, err, needle)
    assert sorted(p.name for p in scratch.iterdir()) == before  # nothing written, nothing left
    assert (scratch / "real.ics").read_text() == "keep"
    assert (scratch / "case.json").read_text() == (EXAMPLES / "21-course-proceed.json").read_text()


def test_a_bom_is_read_or_refused_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "01-vision-eligible.json").read_bytes())
    status = main(["assess", str(path), "--json"])
    out, err = capsys.readouterr()
    if status == 0:
        assert json.loads(out)["recommendation"] == "recommended"
    else:
        _check_one_error(status, out, err, "bom.json")


SUBPROCESS_CASES = [
    pytest.param(["assess", "{dir}/deep.json", "--json"], "deep.json", id="deep-json"),
    pytest.param(["assess", SELECTION, "--bogus"], "--bogus", id="unknown-option"),
    pytest.param(["nosuch"], "nosuch", id="unknown-command"),
    pytest.param(["schedule", COURSE, "--ics", "/dev/null"], "--ics", id="ics-device"),
    pytest.param(["decay", "--activity-gbq", "7.4", "--from", YEAR_9999, "--to", T, "--json"],
                 "--from", id="decay-year-9999"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "needle"), SUBPROCESS_CASES)
def test_bad_input_as_a_user_runs_it(scratch: Path, argv: list[str], needle: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "lutetia", *_expand(argv, scratch)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    _check_one_error(completed.returncode, completed.stdout, completed.stderr, needle)


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, command in COMMANDS.items():
        assert name in out
        assert command.help.split()[0] in out
    assert main(["assess", "--help"]) == 0
    assert "--consent-lead-h" in capsys.readouterr().out


def test_schedule_ics_to_stdout_prints_only_the_calendar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from icalendar import Calendar

    assert main(["schedule", COURSE, "--ics", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BEGIN:VCALENDAR")
    assert out.rstrip().endswith("END:VCALENDAR")
    assert Calendar.from_ical(out).walk("VEVENT")


def test_schedule_ics_replaces_an_old_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "plan.ics"
    target.write_text("an old plan")
    assert main(["schedule", COURSE, "--ics", str(target)]) == 0
    assert f"iCalendar written to {target}" in capsys.readouterr().out
    assert target.read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")
    assert [p.name for p in tmp_path.iterdir()] == ["plan.ics"]


# --- the shell -----------------------------------------------------------------------------

HEAVY = ("pint", "ucumvert", "pydantic", "numpy", "scipy", "matplotlib", "jinja2", "yaml",
         "icalendar", "weasyprint", "icrp107_database")  # fmt: skip


def _modules_after(code: str) -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(completed.stdout.split())


def test_help_imports_no_subcommand_module_and_nothing_heavy() -> None:
    modules = _modules_after(
        "import contextlib, io, sys\n"
        "from lutetia.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "print(*sys.modules)\n"
    )
    assert "lutetia.cli" in modules
    assert not {m for m in modules if m.startswith("lutetia.cli.")}
    assert not {m for m in modules if m.split(".")[0] in HEAVY}


def test_python_m_lutetia_help_imports_nothing_heavy() -> None:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lutetia", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines()}
    assert "lutetia.cli" in imported
    assert not {m for m in imported if m.startswith("lutetia.cli.")}
    assert not {m for m in imported if m.split(".")[0] in HEAVY}
    assert "COMMAND" in completed.stdout


def test_a_command_imports_only_its_own_module() -> None:
    modules = _modules_after(
        "import sys\n"
        "from lutetia.cli import build_parser\n"
        "build_parser('grade')\n"
        "print(*sys.modules)\n"
    )
    cli = {m for m in modules if m.startswith("lutetia.cli.")}
    assert cli <= {"lutetia.cli.clinical", "lutetia.cli.output"}
    assert "lutetia.cli.clinical" in cli


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["assess", "x"], "assess"),
        (["--version"], None),
        (["-h", "dose", "bed"], "dose"),
        (["nosuch", "assess"], None),
        (["--", "assess"], None),
        ([], None),
    ],
)
def test_command_of(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def _registered_help(name: str) -> dict[str, str | None]:
    """Help line of every subcommand the module of ``name`` registers."""
    parser = build_parser(name)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help for a in action._choices_actions}
    raise AssertionError("no subcommands")  # pragma: no cover


@pytest.mark.parametrize("name", list(COMMANDS))
def test_lazy_table_matches_the_module(name: str) -> None:
    registered = _registered_help(name)
    assert registered[name] == COMMANDS[name].help
    assert list(registered) == list(COMMANDS)  # the module's own commands plus the stubs


def test_every_module_registers_only_table_commands() -> None:
    import importlib

    for module in {c.module for c in COMMANDS.values()}:
        parser = argparse.ArgumentParser()
        commands = parser.add_subparsers()
        importlib.import_module(module).register(commands)
        mine = {n for n, c in COMMANDS.items() if c.module == module}
        assert set(commands.choices) == mine, module


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from lutetia import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lutetia {__version__}"


def test_unexpected_error_is_one_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lutetia.cli.clinical

    def broken(args: argparse.Namespace) -> int:
        raise KeyError("a bug\nwith a second line")

    monkeypatch.delenv("LUTETIA_DEBUG", raising=False)
    monkeypatch.setattr(lutetia.cli.clinical, "run_egfr", broken)
    status = main(["egfr", "--creatinine", "1", "--unit", "mg/dL", "--age", "50", "--sex", "male"])
    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("lutetia egfr: internal error: KeyError(")


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        (OverflowError("date value out of range"), "out of the range"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    ],
)
def test_safety_net_for_out_of_range_input(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    needle: str,
) -> None:
    import lutetia.cli.clinical

    def overflowing(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr(lutetia.cli.clinical, "run_egfr", overflowing)
    status = main(["egfr", "--creatinine", "1", "--unit", "mg/dL", "--age", "50", "--sex", "male"])
    out, err = capsys.readouterr()
    _check_one_error(status, out, err, needle)
