"""``lutetia dose`` as a user runs it (spec/cli.md keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lutetia.cli import main
from tests.conftest import ROOT, run_cli_json

KIDNEYS = ROOT / "examples" / "tac" / "kidneys.csv"


run_json = run_cli_json


@pytest.mark.parametrize("model", ["auto", "mono", "bi", "uptake_washout", "trapezoid"])
def test_dose_tac_keys(capsys: pytest.CaptureFixture[str], model: str) -> None:
    doc = run_json(capsys, "dose", "tac", str(KIDNEYS), "--mass-g", "300", "--model", model)
    assert set(doc) >= {
        "tia_mbq_h",
        "absorbed_dose_gy",
        "model",
        "parameters",
        "effective_half_life_h",
    }
    assert doc["tia_mbq_h"] > 0


def test_dose_tac_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for suffix in (".png", ".svg"):
        target = tmp_path / f"tac{suffix}"
        run_json(capsys, "dose", "tac", str(KIDNEYS), "--mass-g", "300", "--plot", str(target))
        assert target.stat().st_size > 1000
    assert (tmp_path / "tac.png").read_bytes()[:4] == b"\x89PNG"


def test_dose_stp_and_bed(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "dose", "stp", "--activity-mbq", "60", "--time-h", "48", "--mass-g", "300",
        "--method", "madsen", "--teff-h", "40",
    )  # fmt: skip
    assert set(doc) >= {"tia_mbq_h", "absorbed_dose_gy"}
    bed = run_json(capsys, "dose", "bed", "--dose-gy", "3.2", "--teff-h", "40")
    assert bed["bed_gy"] > 3.2


@pytest.mark.parametrize(
    ("content", "extra", "needle"),
    [
        ("time_h,activity_mbq\n1,10\n2,8\n", ["--model", "bi"], "parameters"),
        ("time_h,activity_mbq\n1,10\n2,-8\n4,6\n", [], "line 3"),
        ("time_h,activity_mbq\n2,10\n1,8\n4,6\n", [], "line 3"),
        ("time_h,activity_mbq\n1,10\n1,8\n4,6\n", [], "duplicate"),
        ("time,activity\n1,10\n", [], "header"),
        ("time_h,activity_mbq\n1,abc\n", [], "not numeric"),
        ("time_h,activity_mbq\n1,10\n2,8\n4,6\n", ["--mass-g", "0"], "--mass-g"),
    ],
)
def test_dose_tac_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, extra: list[str], needle: str
) -> None:
    path = tmp_path / "tac.csv"
    path.write_text(content)
    argv = ["dose", "tac", str(path), "--mass-g", "300", *extra]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert needle in err
    assert "Traceback" not in err


def test_dose_bed_sums_cycles_and_checks_limits(capsys: pytest.CaptureFixture[str]) -> None:
    from lutetia.dosimetry.bed import bed_mono

    doc = run_json(
        capsys, "dose", "bed", "--dose-gy", "3.2", "--dose-gy", "3.0", "--teff-h", "40",
        "--organ", "kidneys", "--risk-factors",
    )  # fmt: skip
    assert doc["bed_gy"] == pytest.approx(bed_mono(3.2, 40) + bed_mono(3.0, 40))
    assert doc["dose_gy"] == pytest.approx(6.2)
    assert {item["limit_gy"] for item in doc["limits"]} == {23.0, 28.0}
    assert all(item["within"] for item in doc["limits"])


def test_dose_population_and_plan(capsys: pytest.CaptureFixture[str]) -> None:
    population = run_json(capsys, "dose", "population", "--activity-gbq", "7.4", "--cycles", "6")
    kidneys = next(o for o in population["organs"] if o["organ"] == "kidneys")
    assert kidneys["cumulative_gy"] == pytest.approx(0.43 * 44.4)
    plan = run_json(
        capsys, "dose", "plan", "--gy-per-gbq", "0.43", "--teff-h", "40", "--target-gy", "4"
    )
    assert plan["cycles_within_absorbed_limit"] == 7
    assert plan["activity_for_target_gbq"] == pytest.approx(4 / 0.43)
