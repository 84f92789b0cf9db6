"""``lutetia decay``, ``grade`` and ``egfr`` per spec/cli.md, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from lutetia.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    status, out, err = run(capsys, *argv, "--json")
    assert status == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_decay_one_half_life(capsys: pytest.CaptureFixture[str]) -> None:
    # 6.647 d = 159.528 h after 2026-03-03T09:00+01:00 is 2026-03-10T00:31:40.8+01:00.
    doc = run_json(
        capsys,
        "decay",
        "--activity-gbq", "7.4",
        "--from", "2026-03-03T09:00:00+01:00",
        "--to", "2026-03-10T00:31:40.800000+01:00",
    )  # fmt: skip
    assert doc["elapsed_h"] == pytest.approx(159.528)
    assert doc["decay_factor"] == pytest.approx(0.5)
    assert doc["activity_gbq"] == pytest.approx(3.7)


def test_decay_across_offsets(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "decay", "--activity-gbq", "1", "--from", "2026-03-03T09:00+01:00",
        "--to", "2026-03-03T08:00Z",
    )  # fmt: skip
    assert doc["elapsed_h"] == 0.0


def test_grade_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "grade", "--analyte", "platelets", "--value", "62", "--unit", "/nL")
    assert doc["term"] == "Platelet count decreased"
    assert doc["grade"] == 2
    assert doc["ctcae_version"] == "5.0"


def test_grade_converts_limits_with_value(capsys: pytest.CaptureFixture[str]) -> None:
    # Creatinine 250 µmol/L with ULN 106 µmol/L: 2.36 x ULN → grade 2.
    doc = run_json(
        capsys, "grade", "--analyte", "creatinine", "--value", "250", "--unit", "umol/L",
        "--uln", "106",
    )  # fmt: skip
    assert doc["grade"] == 2


def test_egfr(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "egfr", "--creatinine", "79.56", "--unit", "umol/L", "--age", "50", "--sex", "male"
    )
    # 79.56 µmol/L = 0.9 mg/dL = κ for men: 142 · 0.9938^50.
    assert doc["egfr_ml_min_1_73m2"] == pytest.approx(142 * 0.9938**50, rel=1e-3)


T_NAIVE = "2026-03-03T09:00"
T_AWARE = "2026-03-04T09:00+01:00"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["decay", "--activity-gbq", "7.4", "--from", T_NAIVE, "--to", T_AWARE], "--from"),
        (["decay", "--activity-gbq", "-1", "--from", T_AWARE, "--to", T_AWARE], "--activity-gbq"),
        (["grade", "--analyte", "platelets", "--value", "120", "--unit", "/nL"], "--lln"),
        (["grade", "--analyte", "platelets", "--value", "-5", "--unit", "/nL"], "value -5 /nL"),
        (["grade", "--analyte", "platelets", "--value", "5", "--unit", "furlong"], "--unit"),
        (["egfr", "--creatinine", "1", "--unit", "mg/dL", "--age", "7", "--sex", "male"], "age"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_entry_point_as_a_user_runs_it() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "lutetia",
            "grade",
            "--analyte",
            "ecog",
            "--value",
            "7",
            "--unit",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "--analyte" in completed.stderr


def test_decay_half_lives_are_icrp107s() -> None:
    # ``decay`` answers from a table without loading the ICRP-107 database; the table
    # must hold exactly the database's value (6.647 d for 177Lu, ICRP-107).
    from lutetia.cli.physics import HALF_LIVES_H
    from lutetia.nuclides import nuclide

    for name, half_life_h in HALF_LIVES_H.items():
        assert half_life_h == nuclide(name).half_life_h


def test_decay_of_another_nuclide_reads_the_database(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "decay", "--activity-gbq", "1", "--from", "2026-03-03T09:00+01:00",
        "--to", "2026-03-03T09:00+01:00", "--nuclide", "Y-90",
    )  # fmt: skip
    assert doc["nuclide"] == "Y-90"
    assert doc["half_life_h"] == pytest.approx(64.1, rel=1e-2)  # ICRP-107: 2.67 d


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--uln", "0"], "--uln: creatinine uln 0 mg/dL is below what is possible"),
        (["--baseline", "0"], "--baseline: creatinine baseline 0 mg/dL is below"),
        (["--lln", "1.3", "--uln", "1.2"], "--lln: creatinine lln 1.3 mg/dL is above"),
        (["--lln", "1.2", "--uln", "1.2"], "--lln: 1.2 is not below --uln 1.2"),
    ],
)
def test_grade_refuses_impossible_limits(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    status, _, err = run(
        capsys, "grade", "--analyte", "creatinine", "--value", "1", "--unit", "mg/dL", *argv
    )
    assert status == 2
    assert needle in err


def test_grade_accepts_limits_just_apart(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "grade", "--analyte", "creatinine", "--value", "1", "--unit", "mg/dL",
        "--lln", "1.19", "--uln", "1.2", "--baseline", "0.9",
    )  # fmt: skip
    assert doc["grade"] == 0


@pytest.mark.parametrize(
    ("creatinine_mg_dl", "accepted"),
    # CKD-EPI 2021, man of 18: 142 · (Scr/0.9)^-0.302 · 0.9938^18 crosses 200 (the plausible
    # maximum eGFR, Cachat et al. 2015) between 0.2 (199.96) and 0.1998 mg/dL (200.02).
    [(0.2, True), (0.1998, False), (0.09, False)],
)
def test_egfr_refuses_an_impossible_result(
    capsys: pytest.CaptureFixture[str], creatinine_mg_dl: float, accepted: bool
) -> None:
    status, _, err = run(
        capsys, "egfr", "--creatinine", str(creatinine_mg_dl), "--unit", "mg/dL", "--age", "18",
        "--sex", "male",
    )  # fmt: skip
    assert (status == 0) is accepted
    if not accepted:
        assert "--creatinine" in err
        assert "--creatinine" in err.splitlines()[0]
