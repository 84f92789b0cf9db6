"""``lutetia activity``, ``release`` and ``letter`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lutetia.cli import main
from tests.conftest import EXAMPLES, run_cli_json

run_json = run_cli_json


def test_activity_administered_keys(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "activity", "administered", "--before-gbq", "7.6",
        "--before-at", "2026-03-03T09:40+01:00", "--residual-gbq", "0.1",
        "--residual-at", "2026-03-03T10:20+01:00", "--injected-at", "2026-03-03T10:00+01:00",
    )  # fmt: skip
    assert set(doc) >= {"administered_gbq", "deviation_percent", "warnings"}
    assert doc["deviation_percent"] is None
    assert 7.45 < doc["administered_gbq"] < 7.5


def test_activity_draw_keys(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "activity", "draw", "--vial-gbq", "7.4", "--vial-ml", "10",
        "--calibrated-at", "2026-03-03T12:00Z", "--prescribed-gbq", "7.4",
        "--inject-at", "2026-03-03T12:00Z",
    )  # fmt: skip
    assert doc["volume_ml"] == pytest.approx(10.0)
    assert doc["concentration_mbq_per_ml"] == pytest.approx(740.0)
    assert doc["warnings"] == []


def test_release_keys(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "release", "--administered-at", "2026-03-03T10:00+01:00",
        "--dose-rate", "2=24", "--dose-rate", "24=12", "--dose-rate", "48=7.5",
        "--threshold-usv-h", "10",
    )  # fmt: skip
    assert doc["clearance"]["model"] == "mono"
    assert set(doc["clearance"]["parameters"]) >= {"initial_usv_h_at_1m", "half_life_1_h"}
    assert doc["discharge_after_h"] > 0
    contacts = doc["restrictions"]
    assert all(set(r) >= {"contact", "constraint_msv", "restriction_h"} for r in contacts)
    assert {r["category"] for r in contacts} >= {"partner", "children", "pregnant", "work"}


def test_release_population_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys,
        "release",
        "--administered-at",
        "2026-03-03T10:00+01:00",
        "--administered-gbq",
        "7.4",
    )
    assert "Kurth" in doc["clearance"]["source"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["activity", "administered", "--before-gbq", "7.6",
          "--before-at", "2026-03-03T10:30+01:00",
          "--residual-gbq", "0.1", "--residual-at", "2026-03-03T10:40+01:00",
          "--injected-at", "2026-03-03T10:00+01:00"], "--before-at"),
        (["activity", "administered", "--before-gbq", "0.5",
          "--before-at", "2026-03-03T09:30+01:00",
          "--residual-gbq", "0.9", "--residual-at", "2026-03-03T10:40+01:00",
          "--injected-at", "2026-03-03T10:00+01:00"], "--residual-gbq"),
        (["activity", "draw", "--vial-gbq", "-7.4", "--vial-ml", "10", "--calibrated-at",
          "2026-03-03T12:00Z", "--prescribed-gbq", "7.4", "--inject-at", "2026-03-03T12:00Z"],
         "--vial-gbq"),
        (["release", "--administered-at", "2026-03-03T10:00+01:00", "--dose-rate", "2=10",
          "--dose-rate", "24=15"], "rises"),
        (["release", "--administered-at", "2026-03-03T10:00", "--dose-rate", "2=10"],
         "--administered-at"),
    ],
)  # fmt: skip
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert needle in err
    assert "Traceback" not in err


def test_letter_pdf_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pypdf import PdfReader

    pdf = tmp_path / "letter.pdf"
    html = tmp_path / "letter.html"
    status = main(
        [
            "letter", str(EXAMPLES / "21-course-proceed.json"),
            "--injected-at", "2026-02-19T10:30+01:00", "--prescribed-gbq", "7.4",
            "--dose-rate", "2=25", "--dose-rate", "24=12", "--dose-rate", "48=8",
            "--html", str(html), "--pdf", str(pdf),
        ]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    text = " ".join(text.split())
    # Process item 10: patient, date, radionuclide and radiopharmaceutical, activity, aftercare,
    # next appointment; plus restrictions and the follow-up plan.
    for needle in (
        "co-21",
        "2026-02-19 10:30",
        "lutetium-177",
        "[177Lu]Lu-PSMA-617",
        "7.40 GBq",
        "Aftercare",
        "Next follow-up appointment: 2026-03-05",
        "Sleeping with informed supporter",
        "Restrictions for close contacts",
    ):
        assert needle in text, needle
    assert "<html" in html.read_text()[:200].lower()
    assert "Discharge decided by" in text
    # Both written whole through temporary files; nothing else left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letter.html", "letter.pdf"]


def test_release_profile_values_are_configurable(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["release", "--administered-at", "2026-03-03T10:00+01:00", "--administered-gbq", "7.4"]
    default = run_json(capsys, *base, "--profile", "us-nrc")
    strict = run_json(capsys, *base, "--profile", "us-nrc", "--dose-limit-msv", "0.05")
    assert default["discharge_after_h"] == 0.0
    assert strict["discharge_after_h"] > 0.0
    assert "0.05 mSv" in strict["discharge"]["criterion"]
    far = run_json(capsys, *base, "--threshold-usv-h", "3.5", "--threshold-distance-m", "2")
    near = run_json(capsys, *base, "--threshold-usv-h", "3.5")
    assert far["discharge_after_h"] < near["discharge_after_h"]


def test_draw_reports_failed_product_checks(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "activity", "draw", "--vial-gbq", "7.4", "--vial-ml", "10",
        "--calibrated-at", "2026-03-03T12:00Z", "--prescribed-gbq", "7.4",
        "--inject-at", "2026-03-03T12:00Z", "--radiochemical-purity-percent", "95",
        "--storage-temperature-c", "31",
    )  # fmt: skip
    assert len(doc["warnings"]) == 2


# --- issue 9: every bad value exits 2 with one line naming the option ------------------------

ADMINISTERED = [
    "activity", "administered", "--before-gbq", "7.6", "--before-at", "2026-03-03T09:40+01:00",
    "--residual-gbq", "0.1", "--residual-at", "2026-03-03T10:20+01:00",
    "--injected-at", "2026-03-03T10:00+01:00", "--prescribed-gbq", "7.4",
]  # fmt: skip
DRAW = [
    "activity", "draw", "--vial-gbq", "7.4", "--vial-ml", "10",
    "--calibrated-at", "2026-03-03T12:00Z", "--prescribed-gbq", "7.4",
    "--inject-at", "2026-03-03T12:00Z",
]  # fmt: skip
RELEASE = [
    "release", "--administered-at", "2026-03-03T10:00+01:00",
    "--dose-rate", "2=24", "--dose-rate", "24=12", "--dose-rate", "48=7.5",
]  # fmt: skip
NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e308", "1e-300", "x", ""]
TIMES = ["0001-01-01T00:00Z", "9999-12-31T23:00Z", "2026-03-03T10:00", "yesterday"]


def _with(base: list[str], option: str, value: str) -> list[str]:
    argv = list(base)
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    return argv


def _sweep() -> list[object]:
    cases: list[object] = []
    no_residual = _with(ADMINISTERED, "--residual-gbq", "0")  # the syringe alone decides
    for option in ("--before-gbq", "--prescribed-gbq"):
        for value in [*NUMBERS, "0.5", "16", "49.9"]:
            cases.append(
                pytest.param(_with(no_residual, option, value), option, id=f"adm{option}={value}")
            )
    for value in ["-1", "nan", "inf", "1e308", "x"]:
        cases.append(
            pytest.param(
                _with(ADMINISTERED, "--residual-gbq", value),
                "--residual-gbq",
                id=f"adm-residual={value}",
            )
        )
    for option in ("--before-at", "--residual-at", "--injected-at"):
        for value in TIMES:
            cases.append(
                pytest.param(_with(ADMINISTERED, option, value), option, id=f"adm{option}={value}")
            )
    for option in ("--vial-gbq", "--vial-ml", "--prescribed-gbq"):
        for value in NUMBERS:
            cases.append(
                pytest.param(_with(DRAW, option, value), option, id=f"draw{option}={value}")
            )
    for value in ["0.5", "49.9", "16"]:
        cases.append(
            pytest.param(
                _with(DRAW, "--prescribed-gbq", value),
                "--prescribed-gbq",
                id=f"draw-prescribed={value}",
            )
        )
    for option in ("--calibrated-at", "--inject-at"):
        for value in TIMES:
            cases.append(
                pytest.param(_with(DRAW, option, value), option, id=f"draw{option}={value}")
            )
    far = _with(DRAW, "--inject-at", "2026-04-03T12:00Z")  # 31 days after the calibration
    cases.append(pytest.param(far, "--calibrated-at", id="draw-calibration-31-days-away"))
    for value in ["-1", "101", "nan", "x"]:
        cases.append(
            pytest.param(
                _with(DRAW, "--radiochemical-purity-percent", value),
                "--radiochemical-purity-percent",
                id=f"draw-rcp={value}",
            )
        )
    for value in ["nan", "inf", "1e308", "-300"]:
        cases.append(
            pytest.param(
                _with(DRAW, "--storage-temperature-c", value),
                "--storage-temperature-c",
                id=f"draw-temp={value}",
            )
        )
    for value in TIMES:
        cases.append(
            pytest.param(
                _with(RELEASE, "--administered-at", value),
                "--administered-at",
                id=f"rel-at={value}",
            )
        )
    for value in ["x", "1=nan", "nan=1", "inf=2", "-1=5", "1=0", "1=-5", "1e308=5", "1=1e308",
                  "2=20", "2.01=23", "4=0.03", "1=1e-300", "721=1"]:  # fmt: skip
        cases.append(
            pytest.param(
                [*RELEASE, "--dose-rate", value], "--dose-rate", id=f"rel-dose-rate={value}"
            )
        )
    for option in ("--distance-m", "--threshold-usv-h", "--treatments-per-year",
                   "--reading-uncertainty-percent", "--administered-gbq"):  # fmt: skip
        for value in NUMBERS:
            cases.append(
                pytest.param(_with(RELEASE, option, value), option, id=f"rel{option}={value}")
            )
    for value in ["0", "-1", "nan", "1e308", "0.05"]:
        argv = [*RELEASE, "--threshold-usv-h", "10", "--threshold-distance-m", value]
        cases.append(pytest.param(argv, "--threshold-distance-m", id=f"rel-thr-dist={value}"))
    cases.append(
        pytest.param(
            [*RELEASE, "--threshold-distance-m", "2"],
            "--threshold-distance-m",
            id="rel-thr-dist-alone",
        )
    )
    for option in ("--dose-limit-msv", "--occupancy"):
        for value in [*NUMBERS, "1.5" if option == "--occupancy" else "51"]:
            argv = [*RELEASE, "--profile", "us-nrc", option, value]
            cases.append(pytest.param(argv, option, id=f"rel{option}={value}"))
    for value in ["0.5", "14", "1e308"]:
        cases.append(
            pytest.param(
                _with(RELEASE, "--treatments-per-year", value),
                "--treatments-per-year",
                id=f"rel-tpy={value}",
            )
        )
    for value in ["0.5", "16", "49.9"]:
        cases.append(
            pytest.param(
                _with(RELEASE, "--administered-gbq", value),
                "--administered-gbq",
                id=f"rel-gbq={value}",
            )
        )
    for value in ["51", "0.99"]:
        cases.append(
            pytest.param(
                _with(RELEASE, "--reading-uncertainty-percent", value),
                "--reading-uncertainty-percent",
                id=f"rel-u={value}",
            )
        )
    return cases


@pytest.mark.parametrize(("argv", "option"), _sweep())
def test_bad_values_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    assert main([*argv, "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert option in err
    assert "Traceback" not in err
    assert "internal error" not in err


@pytest.mark.parametrize(
    "extra",
    [
        ["--dose-rate", "0=30"],  # a reading at administration
        ["--occupancy", "1", "--profile", "us-nrc"],
        ["--dose-limit-msv", "50", "--profile", "us-nrc"],
        ["--treatments-per-year", "13"],
        ["--treatments-per-year", "1"],
        ["--threshold-usv-h", "0.05", "--threshold-distance-m", "10"],
        ["--threshold-usv-h", "1000", "--threshold-distance-m", "0.1"],
        ["--reading-uncertainty-percent", "50"],
        ["--reading-uncertainty-percent", "1"],
        ["--dose-limit-msv", "0.01", "--occupancy", "0.01", "--profile", "us-nrc"],
        ["--distance-m", "0.5"],
    ],
)
def test_edge_values_give_a_result(capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    doc = run_json(capsys, *RELEASE, *extra)
    assert doc["discharge_after_h"] >= 0
    assert len(doc["restrictions"]) > 10


def test_single_reading_and_small_rise_give_a_result(capsys: pytest.CaptureFixture[str]) -> None:
    single = run_json(capsys, "release", "--administered-at", "2026-03-03T10:00+01:00",
                      "--dose-rate", "4=20")  # fmt: skip
    assert single["clearance"]["model"] == "mono"
    assert single["clearance"]["parameters"]["half_life_1_h"] == pytest.approx(6.647 * 24, rel=1e-3)
    rise = run_json(capsys, *RELEASE, "--dose-rate", "60=7.8")  # +4 % over 7.5: meter noise
    assert rise["clearance"]["model"] == "bi" or rise["clearance"]["fits"]


def test_release_issue_example_json(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "release", "--administered-at", "2026-03-03T10:00+01:00",
        "--dose-rate", "1=25", "--dose-rate", "24=12", "--dose-rate", "48=7",
        "--dose-rate", "120=2.5", "--administered-gbq", "7.4",
    )  # fmt: skip
    assert doc["clearance"]["model"] == "bi"
    assert [f["model"] for f in doc["clearance"]["fits"]] == ["mono", "bi"]
    assert all(len(f["residuals"]) == 4 for f in doc["clearance"]["fits"])
    assert 31.5 <= doc["discharge_after_h"] <= 32.6
    assert doc["discharge"]["method"] in ("fit", "readings_interpolation")
    sleeping = next(
        r for r in doc["restrictions"] if r["contact"].startswith("Sleeping with another")
    )
    assert sleeping["restriction_h"] >= 177
    assert doc["restrictions_model"]["models_considered"] == ["bi", "mono"]
    assert "7.4 GBq" in doc["reading_plausibility"]
    assert doc["blocking_warnings"] == []


@pytest.mark.parametrize("gbq", ["1", "15"])
def test_population_estimate_at_the_activity_bounds(
    capsys: pytest.CaptureFixture[str], gbq: str
) -> None:
    doc = run_json(capsys, "release", "--administered-at", "2026-03-03T10:00+01:00",
                   "--administered-gbq", gbq)  # fmt: skip
    assert gbq + " GBq" in doc["clearance"]["source"]


def test_release_without_activity_says_check_not_made(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, *RELEASE)
    assert "could not be made" in doc["reading_plausibility"]


def test_release_population_estimate_is_blocking(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "release", "--administered-at", "2026-03-03T10:00+01:00",
                   "--administered-gbq", "7.4")  # fmt: skip
    assert doc["discharge"]["method"] == "population_estimate"
    assert doc["blocking_warnings"]


# --- the letter's output files ----------------------------------------------------------------

CASE = str(EXAMPLES / "21-course-proceed.json")
LETTER = ["letter", CASE, "--injected-at", "2026-02-19T10:30+01:00",
          "--dose-rate", "2=25", "--dose-rate", "24=12", "--dose-rate", "48=8"]  # fmt: skip


def test_letter_html_says_how_discharge_was_decided(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "letter.html"
    assert main([*LETTER, "--html", str(html)]) == 0, capsys.readouterr().err
    text = html.read_text(encoding="utf-8")
    assert "Discharge decided by" in text
    assert "Plausibility of the readings" in text
    assert "7.4 GBq" in text  # checked against the case's activity
    assert "NOT VALID FOR RELEASE" not in text
    assert list(tmp_path.iterdir()) == [html]


def test_letter_without_readings_is_marked_not_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "letter.html"
    argv = ["letter", CASE, "--injected-at", "2026-02-19T10:30+01:00", "--html", str(html)]
    assert main(argv) == 0, capsys.readouterr().err
    assert "NOT VALID FOR RELEASE" in html.read_text(encoding="utf-8")


def test_letter_rejects_a_mistyped_reading_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "letter.html"
    argv = ["letter", CASE, "--injected-at", "2026-02-19T10:30+01:00",
            "--dose-rate", "4=0.03", "--html", str(html)]  # fmt: skip
    assert main(argv) == 2
    assert "--dose-rate" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_letter_refuses_unsafe_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import shutil

    case = tmp_path / "case.json"
    shutil.copy(CASE, case)
    target = tmp_path / "target.html"
    target.write_text("keep")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    fifo = tmp_path / "fifo.html"
    os.mkfifo(fifo)
    base = ["letter", str(case), "--injected-at", "2026-02-19T10:30+01:00", "--dose-rate", "2=25"]
    for extra, option in (
        (["--html", str(link)], "--html"),
        (["--html", str(fifo)], "--html"),
        (["--html", str(case)], "--html"),
        (["--pdf", str(case)], "--pdf"),
        (["--html", str(target), "--pdf", str(target)], "--pdf"),
        (["--html", str(tmp_path / "missing" / "x.html")], "--html"),
    ):
        assert main([*base, *extra]) == 2, extra
        err = capsys.readouterr().err
        assert option in err
        assert err.count("\n") == 1, err
    assert target.read_text() == "keep"
    assert json.loads(case.read_text())  # the case is untouched


def test_letter_pdf_failure_leaves_no_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import lutetia.reports.letter

    def broken(html: str, path: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lutetia.reports.letter, "write_pdf", broken)
    html = tmp_path / "letter.html"
    html.write_text("old letter")
    pdf = tmp_path / "letter.pdf"
    assert main([*LETTER, "--html", str(html), "--pdf", str(pdf)]) == 2
    assert "--pdf" in capsys.readouterr().err
    assert html.read_text() == "old letter"  # not replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letter.html"]  # no temporary left
