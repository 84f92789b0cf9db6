"""``lutetia dose …`` swept with bad values: a correct result or exit 2, never exit 1.

Every numeric option of every ``dose`` subcommand is given 0, negative, nan, inf, huge,
tiny and non-numeric values; the time–activity reader gets malformed tables. Each run
must either succeed with a contract-valid JSON document (spec/cli.md keys, finite numbers,
a ``warnings`` list) or exit 2 with one line naming the option or field.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from lutetia.cli import main
from lutetia.nuclides import nuclide
from tests.conftest import ROOT

KIDNEYS = str(ROOT / "examples" / "tac" / "kidneys.csv")
T_PHYS_H = nuclide("Lu-177").half_life_h

STP = ["--activity-mbq", "60", "--time-h", "48", "--mass-g", "300", "--method", "madsen"]
BASES: dict[str, list[str]] = {
    "tac": ["dose", "tac", KIDNEYS, "--mass-g", "300"],
    "stp": ["dose", "stp", *STP, "--teff-h", "40"],
    "bed": ["dose", "bed", "--dose-gy", "3.2", "--teff-h", "40"],
    "population": ["dose", "population", "--activity-gbq", "7.4", "--cycles", "6"],
    "plan": ["dose", "plan", "--gy-per-gbq", "0.43", "--teff-h", "40"],
}
CONTRACT: dict[str, set[str]] = {
    "tac": {"tia_mbq_h", "absorbed_dose_gy", "model", "parameters", "effective_half_life_h"},
    "stp": {"tia_mbq_h", "absorbed_dose_gy"},
    "bed": {"bed_gy"},
    "population": {"activities_gbq", "organs"},
    "plan": {"cycles_within_absorbed_limit", "activity_for_target_gbq"},
}
OPTIONS: dict[str, list[str]] = {
    "tac": ["--mass-g"],
    "stp": ["--activity-mbq", "--time-h", "--mass-g", "--teff-h"],
    "bed": ["--dose-gy", "--teff-h", "--alpha-beta-gy", "--repair-h"],
    "population": ["--activity-gbq", "--cycles"],
    "plan": ["--gy-per-gbq", "--activity-gbq", "--teff-h", "--target-gy", "--already-gy",
             "--already-bed-gy", "--alpha-beta-gy", "--repair-h"],
}  # fmt: skip
BAD = ["0", "-1", "-0", "nan", "inf", "-inf", "1e200", "1e-300", "1e-6", "1e9", "abc", "",
       f"{T_PHYS_H * 1.01}"]  # fmt: skip


def with_value(argv: list[str], option: str, value: str) -> list[str]:
    """``argv`` with ``option`` set to ``value`` (replaced, or appended)."""
    argv = list(argv)
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    return argv


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as leaving:  # argparse: exit 2 with usage and one error line
        status = int(leaving.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def finite_numbers(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    return True


def assert_outcome(
    command: str, status: int, out: str, err: str, names: tuple[str, ...]
) -> dict[str, Any] | None:
    """Exit 0 with a valid document, or exit 2 with one line naming one of ``names``."""
    assert status in (0, 2), err
    assert "Traceback" not in err
    assert "internal error" not in err
    if status == 2:
        assert out == ""
        last = err.strip().splitlines()[-1]
        if not last.startswith("lutetia dose"):
            pytest.fail(f"unexpected error line: {err!r}")
        if "argument" not in last:  # our own errors: exactly one line
            assert len(err.strip().splitlines()) == 1, err
        assert any(name in last for name in names), last
        return None
    document: dict[str, Any] = json.loads(out)
    assert set(document) >= CONTRACT[command] | {"warnings"}
    assert isinstance(document["warnings"], list)
    assert all(isinstance(w, str) for w in document["warnings"])
    assert finite_numbers(document), document
    return document


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize(
    ("command", "option"), [(c, o) for c, options in OPTIONS.items() for o in options]
)
def test_every_option_with_bad_values(
    capsys: pytest.CaptureFixture[str], command: str, option: str, value: str
) -> None:
    argv = [*with_value(BASES[command], option, value), "--json"]
    if command == "plan" and option == "--already-bed-gy":
        argv = with_value(argv, "--already-gy", "0")
    status, out, err = run(capsys, argv)
    assert_outcome(command, status, out, err, (option,))


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (with_value(BASES["bed"], "--dose-gy", "1e200"), "--dose-gy"),
        (with_value(BASES["bed"], "--teff-h", f"{T_PHYS_H * 1.01}"), "--teff-h"),
        (with_value(BASES["stp"], "--teff-h", f"{T_PHYS_H * 1.01}"), "--teff-h"),
        (with_value(BASES["plan"], "--teff-h", f"{T_PHYS_H * 1.01}"), "--teff-h"),
        (with_value(BASES["stp"], "--time-h", "1e200"), "--time-h"),
        (with_value(BASES["stp"], "--teff-h", "1e-300"), "--teff-h"),
        (with_value(BASES["plan"], "--already-gy", "-30"), "--already-gy"),
        (with_value(BASES["plan"], "--already-bed-gy", "-30"), "--already-bed-gy"),
        (["dose", "plan", "--gy-per-gbq", "0.43", "--already-bed-gy", "10"], "--already-bed-gy"),
        (with_value(BASES["plan"], "--organ", "red_marrow"), "--teff-h"),
        (["dose", "bed", "--dose-gy", "3", "--teff-h", "40", "--risk-factors"], "--risk-factors"),
        (with_value(BASES["tac"], "--mass-g", "1e-6"), "--mass-g"),
        (with_value(BASES["tac"], "--mass-g", "1e9"), "--mass-g"),
        (with_value(BASES["tac"], "--mass-g", "1e200"), "--mass-g"),
        (with_value(BASES["tac"] + ["--region", "kidneys"], "--mass-g", "30"), "--mass-g"),
        (BASES["tac"] + ["--tail", "fitted"], "--tail"),
        (BASES["tac"] + ["--plot", "out.pdf"], "--plot"),
    ],
)
def test_errors_that_must_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    status, out, err = run(capsys, [*argv, "--json"])
    assert status == 2, out
    assert_outcome(argv[1], status, out, err, (option,))


def test_bed_of_several_cycles_names_the_cycle(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dose", "bed", "--dose-gy", "3", "--dose-gy", "1e200", "--teff-h", "40", "--json"]
    status, _, err = run(capsys, argv)
    assert status == 2
    assert "--dose-gy (cycle 2)" in err


def test_plan_57_gbq_marrow_target_warns(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dose", "plan", "--organ", "red_marrow", "--gy-per-gbq", "0.035", "--target-gy", "2"]
    document = assert_outcome("plan", *run(capsys, [*argv, "--json"]), ())
    assert document is not None
    assert any("57.1 GBq" in w for w in document["warnings"])
    status, out, _ = run(capsys, argv)
    assert status == 0
    assert "WARNING:" in out
    assert "57.1 GBq" in out


def test_stp_and_bed_warnings_in_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dose", "stp", "--activity-mbq", "60", "--time-h", "48", "--mass-g", "1",
            "--method", "haenscheid", "--teff-h", "70", "--region", "tumor"]  # fmt: skip
    document = assert_outcome("stp", *run(capsys, [*argv, "--json"]), ())
    assert document is not None
    assert any("0.764–2.44" in w for w in document["warnings"])
    assert any("overestimated" in w for w in document["warnings"])
    bed = assert_outcome(
        "bed", *run(capsys, ["dose", "bed", "--dose-gy", "24", "--teff-h", "40", "--organ",
                             "kidneys", "--json"]), ()
    )  # fmt: skip
    assert bed is not None
    assert [item["within"] for item in bed["limits"]] == [False, True]
    assert any("α/β" in w for w in bed["warnings"]) is False  # kidneys: the defaults fit


# --- time–activity tables ----------------------------------------------------------------

HEADER = "time_h,activity_mbq\n"
GOOD_ROWS = "4,96\n24,81\n48,55\n72,37\n96,25\n168,7.7\n"


@pytest.mark.parametrize(
    ("content", "extra", "status", "needle"),
    [
        ("", [], 2, "empty file"),
        ("\n  \n\n", [], 2, "empty file"),
        (HEADER, [], 2, "no data rows"),
        (HEADER + "24,50\n", [], 2, "one point"),
        (HEADER + "24,50\n", ["--model", "trapezoid"], 2, "--model"),
        (HEADER + "4,10\n4,8\n24,6\n", [], 2, "duplicate"),
        (HEADER + "-4,10\n24,8\n48,6\n", [], 2, "line 2, time_h"),
        (HEADER + "4,10\n24,-8\n48,6\n", [], 2, "line 3, activity_mbq"),
        (HEADER + "24,10\n4,8\n48,6\n", [], 2, "times must increase"),
        (HEADER + "4,10\n24,abc\n", [], 2, "not numeric"),
        (HEADER + "4,10\n24,\n", [], 2, "not numeric"),
        (HEADER + "4,10\n24,nan\n48,6\n", [], 2, "line 3"),
        (HEADER + "4,10\n24,inf\n48,6\n", [], 2, "line 3"),
        (HEADER + "4,10\n24,1e999\n48,6\n", [], 2, "line 3"),
        (HEADER + "4,1e300\n24,8e299\n48,6e299\n", [], 2, "kBq or Bq"),
        (HEADER + "4,96e6\n24,81e6\n48,55e6\n", [], 2, "kBq or Bq"),
        (HEADER + "4,10\n1e200,8\n", [], 2, "physical half-lives"),
        (HEADER + "4,0\n24,0\n48,0\n", [], 2, "all activities are zero"),
        (HEADER + "4,10\n24\n", [], 2, "1 values, expected 2"),
        ("time_h,activity_mbq,activity_mbq\n4,10,9\n24,8,7\n", [], 2, "header"),
        ("time_h;activity_mbq\n4;10\n24;8\n", [], 2, "header"),
        ("time,activity\n4,10\n", [], 2, "header"),
        ("time_h,activity_mbq,activity_sd_mbq\n4,10,0\n24,8,1\n48,6,1\n", [], 2, "line 2"),
        (HEADER + "4,96,445\n24,81,061\n", [], 2, "3 values, expected 2"),
        ("\ufeff" + HEADER + GOOD_ROWS, [], 0, None),
        (HEADER + GOOD_ROWS, ["--model", "trapezoid", "--tail", "fitted"], 0, None),
        (HEADER + "4,10\n24,20\n48,30\n72,40\n", [], 0, "no washout observed"),
        (HEADER + "4,10\n24,20\n48,30\n72,40\n", ["--model", "trapezoid"], 0, "no washout"),
        (HEADER + "4,10\n24,8\n48,6\n", [], 0, "after the last measurement"),
        (HEADER + GOOD_ROWS, ["--mass-g", "2"], 0, "overestimated"),
    ],
)
def test_tac_tables(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    content: str,
    extra: list[str],
    status: int,
    needle: str | None,
) -> None:
    path = tmp_path / "tac.csv"
    path.write_text(content, encoding="utf-8")
    argv = ["dose", "tac", str(path), "--mass-g", "300", *extra, "--json"]
    got, out, err = run(capsys, argv)
    assert got == status, err or out
    document = assert_outcome("tac", got, out, err, (needle or "",) if got == 2 else ())
    if document is not None and needle is not None:
        assert any(needle in w for w in document["warnings"]), document["warnings"]
    if document is not None and needle is None:
        assert document["warnings"] == []


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(b"time_h,activity_mbq\n4,10\n24,8\n" + b"x" * 1_000_001),
        lambda p: p.write_text(HEADER + "".join(f"{i + 1},{1000 - i}\n" for i in range(1001))),
        lambda p: p.write_bytes(HEADER.encode() + "4,10\n24,8\n# \u00e9\n".encode("latin-1")),
        lambda p: p.mkdir(),
    ],
    ids=["larger-than-1-MB", "1001-rows", "latin-1", "directory"],
)
def test_tac_files_that_are_not_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any
) -> None:
    path = tmp_path / "tac.csv"
    make(path)
    status, out, err = run(capsys, ["dose", "tac", str(path), "--mass-g", "300", "--json"])
    assert_outcome("tac", status, out, err, (str(path),))
    assert status == 2


def test_tac_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "absent.csv")
    status, _, err = run(capsys, ["dose", "tac", path, "--mass-g", "300"])
    assert status == 2
    assert "no such file" in err


def test_rising_tac_warns_in_text_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tac.csv"
    path.write_text(HEADER + "4,10\n24,20\n48,30\n72,40\n")
    status, out, _ = run(capsys, ["dose", "tac", str(path), "--mass-g", "300"])
    assert status == 0
    assert "WARNING: no washout observed" in out


# --- --plot: atomic, never over an input --------------------------------------------------


def test_plot_refuses_to_overwrite_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "tac.svg"  # a CSV whose name is a valid plot name
    table.write_text(HEADER + GOOD_ROWS)
    before = table.read_bytes()
    status, _, err = run(
        capsys, ["dose", "tac", str(table), "--mass-g", "300", "--plot", str(table)]
    )
    assert status == 2
    assert "--plot" in err
    assert "input" in err
    assert table.read_bytes() == before


@pytest.mark.parametrize("kind", ["symlink", "missing-folder", "directory"])
def test_plot_refuses_unsafe_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    target = tmp_path / "plot.png"
    if kind == "symlink":
        (tmp_path / "elsewhere.png").write_bytes(b"keep")
        os.symlink(tmp_path / "elsewhere.png", target)
    elif kind == "missing-folder":
        target = tmp_path / "absent" / "plot.png"
    else:
        target.mkdir()
    status, _, err = run(capsys, ["dose", "tac", KIDNEYS, "--mass-g", "300", "--plot", str(target)])
    assert status == 2
    assert "--plot" in err
    if kind == "symlink":
        assert (tmp_path / "elsewhere.png").read_bytes() == b"keep"


def test_plot_failure_leaves_the_old_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lutetia.errors import BadInputError
    from lutetia.reports import plots

    target = tmp_path / "plot.png"
    target.write_bytes(b"old plot")

    def broken(points: Any, fit: Any, path: Any, *, image_format: str | None = None) -> None:
        Path(path).write_bytes(b"half")
        raise BadInputError("--plot", "disk full")

    monkeypatch.setattr(plots, "plot_tac", broken)
    status, _, _ = run(capsys, ["dose", "tac", KIDNEYS, "--mass-g", "300", "--plot", str(target)])
    assert status == 2
    assert target.read_bytes() == b"old plot"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]


def test_plot_replaces_the_old_file_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "plot.png"
    target.write_bytes(b"old plot")
    status, _, _ = run(capsys, ["dose", "tac", KIDNEYS, "--mass-g", "300", "--plot", str(target)])
    assert status == 0
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]
