"""``lutetia activity``, ``release`` and ``letter`` as a user runs them."""

from __future__ import annotations

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
