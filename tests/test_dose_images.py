"""``lutetia dose images``: organ, lesion and voxel dosimetry from the project's phantom.

The phantom (:mod:`lutetia.imaging.phantom`) has analytic truth: the activity
of every organ at every time point, and the rigid shift of the anatomy at each
later time point. Its later time points are shifted by whole voxels (3 voxels
over the series) so that an ideal VOI measurement exists on the voxel grid: the
region of the first scan carried by the true shift holds exactly the organ's
activity. With sub-voxel shifts the phantom's organs are re-voxelised at each
time point and no VOI drawn on the first grid measures them exactly (see the
issue notes: 1–10 % at 4.8 mm voxels), which is a property of the phantom's
voxelisation, not of the chain under test.

Checks (issue 11 "Measures"): organ TIA within 2 % of the TIA of an ideal VOI
measurement (the same kinetic fit applied to the true activities), the
registration within one voxel of the true shift; the command's JSON, the dose
map written as RTDOSE and read back, and a cohort on Dask with a broken study.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lutetia.cli import main
from lutetia.dosimetry.kinetics import TimeActivity, fit_tac
from lutetia.errors import BadInputError
from lutetia.imaging.phantom import PhantomTruth, make_phantom
from lutetia.services.image_dosimetry import (
    Options,
    StudyInputs,
    mass_range_key,
    run_study,
    study_inputs,
)
from tests.series_edit import CALIBRATION, write_study

SPACING_MM = 6.4
#: Three voxels along i and j over the series: 1 voxel per time point after the first.
SHIFT_MM = (3 * SPACING_MM, -3 * SPACING_MM, 0.0)
#: Organs whose true kinetics is one exponential: their TIA is also compared with the
#: analytic truth (the fit of a mono-exponential to exact points is exact).
MONO_ORGANS = ("kidney_left", "kidney_right", "liver", "spleen", "parotid_left")


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomTruth:
    folder = tmp_path_factory.mktemp("study")
    return make_phantom(
        folder,
        shape=(48, 48, 48),
        spacing_mm=(SPACING_MM,) * 3,
        shift_mm=SHIFT_MM,
        calibration_cps_per_mbq=CALIBRATION,
    )


def _inputs(phantom: PhantomTruth) -> StudyInputs:
    return StudyInputs(
        spect=tuple(Path(p) for p in phantom.spect_dirs),
        masks=Path(phantom.labels_path),
        ct=Path(phantom.ct_dir),
        labels=Path(phantom.label_names_path),
        calibration_cps_per_mbq=CALIBRATION,
    )


@pytest.fixture(scope="module")
def registered(phantom: PhantomTruth) -> dict[str, Any]:
    return run_study(_inputs(phantom), Options(register=True))


def test_organ_tia_within_2_percent_of_an_ideal_voi_measurement(
    phantom: PhantomTruth, registered: dict[str, Any]
) -> None:
    times = tuple(phantom.timepoints_h)
    for name, organ in phantom.organs.items():
        region = registered["regions"][name]
        ideal = fit_tac(TimeActivity(times, tuple(organ.activity_mbq)), "auto")
        assert region["model"] == ideal.model, name
        assert region["tia_mbq_h"] == pytest.approx(ideal.tia_mbq_h, rel=0.02), name
        measured = [p["activity_mbq"] for p in region["timepoints"]]
        assert measured == pytest.approx(list(organ.activity_mbq), rel=0.02), name
    for name in MONO_ORGANS:
        truth = phantom.organs[name].tia_mbq_h
        assert registered["regions"][name]["tia_mbq_h"] == pytest.approx(truth, rel=0.02), name


def test_registration_within_one_voxel_of_the_true_shift(
    phantom: PhantomTruth, registered: dict[str, Any]
) -> None:
    entries = registered["registration"]
    assert len(entries) == len(phantom.timepoints_h)
    assert entries[0]["reference"] is True
    for entry, shift in zip(entries[1:], phantom.shifts_mm[1:], strict=True):
        assert entry["registered"] is True
        assert "mutual information" in entry["metric"]
        assert math.isfinite(entry["metric_value"])
        error = np.subtract(entry["translation_mm"], shift)
        assert float(np.max(np.abs(error))) < SPACING_MM, (entry["translation_mm"], shift)
        assert entry["ncc_after"] >= entry["ncc_before"]


def test_without_registration_the_moved_organs_are_mismeasured(phantom: PhantomTruth) -> None:
    """The measurement above depends on the registration: without it the kidneys are off."""
    document = run_study(_inputs(phantom), Options(register=False))
    assert all(e.get("registered") is not True for e in document["registration"])
    kidney = document["regions"]["kidney_left"]
    truth = phantom.organs["kidney_left"].tia_mbq_h
    assert abs(kidney["tia_mbq_h"] / truth - 1.0) > 0.05
    # ... and the check registration says so, for every moved time point (H-M26)
    moved = [w for w in document["warnings"] if "appears moved relative to the first" in w]
    later = [str(p) for p in phantom.spect_dirs[1:]]
    assert [w.split(" appears moved")[0] for w in moved] == later
    assert all("without --register" in w for w in moved)
    for entry, shift in zip(document["registration"][1:], phantom.shifts_mm[1:], strict=True):
        found = entry["motion_check"]["translation_mm"]
        assert float(np.max(np.abs(np.subtract(found, shift)))) < SPACING_MM


def test_masses_from_the_ct_and_doses_from_the_tia(
    phantom: PhantomTruth, registered: dict[str, Any]
) -> None:
    from lutetia.dosimetry.absorbed import absorbed_dose

    for name, organ in phantom.organs.items():
        region = registered["regions"][name]
        # The CT density per organ is 1 + HU/1000 (phantom) and the default
        # calibration's soft-tissue line is the same up to 100 HU.
        if 0 <= organ.hu <= 100:
            assert region["mass_g"] == pytest.approx(organ.mass_g, rel=1e-3), name
            assert "CT" in region["mass_method"]
        key = mass_range_key(name)
        expected = absorbed_dose(region["tia_mbq_h"], region["mass_g"], key).absorbed_dose_gy
        assert region["absorbed_dose_gy"] == pytest.approx(expected, rel=1e-12), name


def test_injection_and_time_points_come_from_the_dicom_tags(
    phantom: PhantomTruth, registered: dict[str, Any]
) -> None:
    injection = registered["injection"]
    assert injection["activity_mbq"] == pytest.approx(phantom.injected_mbq)
    assert injection["datetime"] == phantom.injected_at.isoformat()
    assert injection["nuclide"] == "Lu-177"
    assert registered["timepoints_h"] == pytest.approx(list(phantom.timepoints_h), abs=1e-9)
    assert any("not decay-corrected" in a for a in registered["assumptions"])


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _study_args(phantom: PhantomTruth) -> list[str]:
    args: list[str] = []
    for folder in phantom.spect_dirs:
        args += ["--spect", str(folder)]
    return [
        *args,
        "--ct",
        str(phantom.ct_dir),
        "--masks",
        str(phantom.labels_path),
        "--labels",
        str(phantom.label_names_path),
        "--calibration-cps-per-mbq",
        str(CALIBRATION),
    ]


def test_json_has_the_documented_keys(
    phantom: PhantomTruth, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(["dose", "images", *_study_args(phantom), "--json"], capsys)
    assert code == 0, err
    document = json.loads(out)
    assert {"regions", "registration", "injection", "warnings", "assumptions"} <= set(document)
    assert {"activity_mbq", "datetime"} <= set(document["injection"])
    for region in document["regions"].values():
        assert {
            "mass_g",
            "timepoints",
            "model",
            "tia_mbq_h",
            "tia_sd_mbq_h",
            "absorbed_dose_gy",
        } <= set(region)
        assert all(set(p) == {"t_h", "activity_mbq"} for p in region["timepoints"])
        assert "dvh" not in region
        per_gbq = region["absorbed_dose_gy"] / (document["injection"]["activity_mbq"] / 1000)
        assert region["absorbed_dose_gy_per_gbq"] == pytest.approx(per_gbq, rel=1e-12)
    for entry in document["registration"]:
        assert "translation_mm" in entry
    assert "kidneys" in document["regions"]  # left + right, the case vocabulary's organ


def test_voxelwise_kernel_dose_map_written_as_rtdose_and_read_back(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lutetia.imaging.rtdose import read_rtdose

    out = tmp_path / "out"
    out.mkdir()
    argv = ["dose", "images", *_study_args(phantom), "--register", "--voxelwise", "--kernel"]
    code, stdout, err = _cli([*argv, "--out", str(out), "--json"], capsys)
    assert code == 0, err
    document = json.loads(stdout)
    assert json.loads((out / "dosimetry.json").read_text()) == document
    grid, dose = read_rtdose(out / "dose.dcm")
    assert grid.shape == (48, 48, 48)
    assert grid.spacing_mm == pytest.approx((SPACING_MM,) * 3)
    assert float(dose.max()) == pytest.approx(document["voxelwise"]["max_dose_gy"], rel=1e-4)
    assert "kernel" in document["voxelwise"]["dose_method"]
    # H-M44: the dose file names the patient and study of the SPECT it lies on, and how it
    # was computed (a kernel map and a local-deposition map were indistinguishable).
    import pydicom

    written = pydicom.dcmread(out / "dose.dcm")
    spect = pydicom.dcmread(next(p for p in Path(phantom.spect_dirs[0]).iterdir() if p.is_file()))
    assert written.PatientID == spect.PatientID == "LUTETIA-PHANTOM"
    assert str(written.PatientName) == str(spect.PatientName)
    assert written.StudyInstanceUID == spect.StudyInstanceUID
    assert written.FrameOfReferenceUID == spect.FrameOfReferenceUID
    assert written.DoseComment == "kernel convolution, CT density"
    assert written.SeriesDescription == "Lutetia 177Lu dose, kernel convolution, CT density"
    assert sum(document["voxelwise"]["models"].values()) == document["voxelwise"]["voxels_fitted"]
    for name, region in document["regions"].items():
        dvh = region["dvh"]
        assert dvh["d98_gy"] <= dvh["d50_gy"] <= dvh["d2_gy"] <= dvh["max_gy"], name
        # the cumulative curve (docs/dosimetry.md): all of the region gets at least 0 Gy,
        # the fraction never rises with dose, and D50 is where half of it is reached
        dose_gy, fraction = dvh["curve"]["dose_gy"], dvh["curve"]["volume_fraction"]
        assert len(dose_gy) == len(fraction) == 201, name
        assert (dose_gy[0], fraction[0], dose_gy[-1]) == (0.0, 1.0, dvh["max_gy"]), name
        assert all(b <= a for a, b in itertools.pairwise(fraction)), name
        assert fraction[-1] > 0, name
        below_d50 = [f for d, f in zip(dose_gy, fraction, strict=True) if d <= dvh["d50_gy"]]
        assert min(below_d50) >= 0.5, name
        assert region["mean_voxel_dose_gy"] == dvh["mean_gy"]
    # A uniform organ far from hotter neighbours: the mean voxel dose (kernel) is close to
    # the organ S-value dose (sphere of the same mass): both are mostly electrons.
    liver = document["regions"]["liver"]
    assert liver["mean_voxel_dose_gy"] == pytest.approx(liver["absorbed_dose_gy"], rel=0.15)


def test_kernel_dose_is_corrected_for_the_ct_density(phantom: PhantomTruth) -> None:
    """H-M43: the kernel's dose (energy per mass of water) is scaled by 1/ρ of each voxel
    of the body from the CT (Dieudonné et al. 2013, J Nucl Med 54:236), and a bone lesion
    (ρ > 1.2) gets the electron dose of its own mass, as local deposition does, not 1.27
    times it."""
    from dataclasses import replace

    from lutetia.imaging.dicom import read_series
    from lutetia.imaging.masks import read_masks
    from lutetia.imaging.mass import default_calibration
    from lutetia.services.image_dosimetry import MIN_VOXEL_DENSITY_G_PER_ML, ct_density_on_grid

    maps: dict[str, Any] = {}

    def keeper(key: str) -> Any:
        def keep(dose: Any, grid: Any) -> None:
            maps[key], maps["grid"] = dose, grid

        return keep

    with_ct = run_study(
        _inputs(phantom), Options(voxelwise=True, kernel=True), rtdose_writer=keeper("ct")
    )
    without_ct = run_study(
        replace(_inputs(phantom), ct=None),
        Options(voxelwise=True, kernel=True),
        rtdose_writer=keeper("water"),
    )
    local = run_study(_inputs(phantom), Options(voxelwise=True))
    method = with_ct["voxelwise"]["dose_method"]
    assert "Dieudonné" in method
    assert "CT averaged over each SPECT voxel" in method
    assert "outside the body, water" in method
    assert "no CT" in without_ct["voxelwise"]["dose_method"]
    density = ct_density_on_grid(read_series(phantom.ct_dir), maps["grid"], default_calibration())
    masks = read_masks(
        phantom.labels_path, labels_file=phantom.label_names_path, reference=maps["grid"]
    )
    regions = np.zeros(density.shape, dtype=bool)
    for name in masks.names():
        regions |= masks[name]
    # In the regions (the body) D = D_water·1/ρ, ρ the CT averaged over each SPECT voxel.
    assert maps["ct"][regions] == pytest.approx(
        maps["water"][regions] / density[regions], rel=1e-12, abs=1e-15
    )
    # Air outside the body keeps the kernel's water: not ten times it by the 0.1 g/mL floor.
    air = (density <= MIN_VOXEL_DENSITY_G_PER_ML) & ~regions
    assert air.any()
    assert maps["ct"][air] == pytest.approx(maps["water"][air], rel=1e-12, abs=1e-15)
    bone = [name for name in with_ct["regions"] if name.startswith("lesion_bone")]
    assert bone
    for name in bone:
        region = with_ct["regions"][name]
        assert region["mass_g"] / region["volume_ml"] > 1.2, name
        corrected = with_ct["regions"][name]["mean_voxel_dose_gy"]
        water = without_ct["regions"][name]["mean_voxel_dose_gy"]
        deposited = local["regions"][name]["mean_voxel_dose_gy"]
        assert corrected < water / 1.15, name  # was: the water dose, ρ times too high
        # The kernel moves some electron and photon energy out of (and into) the lesion;
        # what stays is its own mass's dose, within 15 % of local deposition.
        assert corrected == pytest.approx(deposited, rel=0.15), name


def test_voxelwise_local_deposition_conserves_the_electron_energy(phantom: PhantomTruth) -> None:
    """Local deposition: Σ dose × voxel mass = Σ TIA × mean electron energy per decay."""
    captured: dict[str, Any] = {}

    def keep(dose: Any, grid: Any) -> None:
        captured["dose"], captured["grid"] = dose, grid

    document = run_study(
        _inputs(phantom), Options(register=True, voxelwise=True), rtdose_writer=keep
    )
    assert "local deposition" in document["voxelwise"]["dose_method"]
    assert "CT" in document["voxelwise"]["dose_method"]
    kidney = document["regions"]["kidney_left"]
    # Kidney voxels: uniform activity, density 1.03 g/mL; local deposition of the
    # electrons gives slightly more than the sphere (which also loses electrons at
    # its surface and gains few photons) and within 15 %.
    assert kidney["mean_voxel_dose_gy"] == pytest.approx(kidney["absorbed_dose_gy"], rel=0.15)
    assert captured["dose"].shape == (48, 48, 48)


def test_voxel_mass_has_a_floor_in_air() -> None:
    from lutetia.imaging.mass import default_calibration
    from lutetia.services.image_dosimetry import (
        MIN_VOXEL_DENSITY_G_PER_ML,
        voxel_density_g_per_ml,
        voxel_mass_g,
    )

    calibration = default_calibration()
    masses = voxel_mass_g(np.array([-1000.0, -950.0, -700.0, 0.0, 50.0]), calibration, 0.2)
    floor = MIN_VOXEL_DENSITY_G_PER_ML * 0.2
    assert masses[0] == pytest.approx(floor)  # air: the floor, not 0.0012 g/mL
    assert masses[1] == pytest.approx(floor)  # just above air, still below the floor
    assert masses[2] == pytest.approx(0.2 * float(calibration.density_g_per_ml(np.array(-700.0))))
    assert masses[2] > floor
    assert masses[3] == pytest.approx(0.2)  # water
    assert masses[4] == pytest.approx(0.2 * 1.05)  # soft tissue: ρ = 1 + HU/1000
    densities = voxel_density_g_per_ml(np.array([-1000.0, -950.0, -700.0, 0.0, 50.0]), calibration)
    assert densities == pytest.approx(masses / 0.2)  # the kernel's density map: the same floor


def test_bad_inputs_name_the_option(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["dose", "images"]
    cases: list[tuple[list[str], str]] = [
        ([*base, *_study_args(phantom), "--kernel"], "--kernel"),
        ([*base, *_study_args(phantom), "--rtdose", str(tmp_path / "d.dcm")], "--rtdose"),
        (
            [
                *base,
                "--spect",
                str(phantom.spect_dirs[0]),
                "--masks",
                str(phantom.labels_path),
                "--calibration-cps-per-mbq",
                "10",
            ],
            "--spect",
        ),
        ([*base, *_study_args(phantom)[:-2]], "calibration"),
        ([*base, *_study_args(phantom), "--timezone", "+25:00"], "--timezone"),
        ([*base, *_study_args(phantom), "--table", str(tmp_path / "t.csv")], "--table"),
        ([*base, "--cohort", str(tmp_path), "--table", str(tmp_path / "t.txt")], "--table"),
        (
            [*base, "--cohort", str(tmp_path / "none"), "--table", str(tmp_path / "t.csv")],
            "--cohort",
        ),
        ([*base, "--cohort", str(tmp_path), "--table", str(tmp_path / "t.csv")], "--cohort"),
        (
            [*base, *_study_args(phantom), "--calibration-cps-per-mbq", "-3"],
            "--calibration-cps-per-mbq",
        ),
        ([*base, *_study_args(phantom), "--out", str(tmp_path / "absent")], "--out"),
        (
            [
                *base,
                "--spect",
                str(phantom.ct_dir),
                "--spect",
                str(phantom.ct_dir),
                "--masks",
                str(phantom.labels_path),
            ],
            "ct",
        ),
    ]
    for argv, needle in cases:
        code, out, err = _cli(argv, capsys)
        assert code == 2, (argv, err)
        assert out == ""
        assert len(err.strip().splitlines()) == 1, err
        assert needle in err, (needle, err)
    assert not (tmp_path / "d.dcm").exists()


def test_study_folder_layout_and_its_errors(phantom: PhantomTruth, tmp_path: Path) -> None:
    inputs = study_inputs(phantom.folder, calibration_cps_per_mbq=CALIBRATION)
    assert [p.name for p in inputs.spect] == sorted(Path(p).name for p in phantom.spect_dirs)
    assert inputs.ct is not None
    assert inputs.ct.name == "ct"
    assert inputs.masks.name == "labels.nii.gz"
    assert inputs.labels is not None
    assert inputs.labels.name == "labels.json"
    (tmp_path / "study.json").write_text(json.dumps({"spect": ["a"], "colour": "red"}))
    with pytest.raises(BadInputError, match="unknown keys"):
        study_inputs(tmp_path)
    (tmp_path / "study.json").write_text(
        json.dumps({"spect": ["a"], "masks": "m.nii.gz", "calibration_cps_per_mbq": True})
    )
    with pytest.raises(BadInputError, match="calibration_cps_per_mbq"):
        study_inputs(tmp_path)
    (tmp_path / "study.json").unlink()
    with pytest.raises(BadInputError, match="no SPECT series"):
        study_inputs(tmp_path)


def _cohort(phantom: PhantomTruth, root: Path) -> Path:
    cohort = root / "cohort"
    for name in ("patient-a", "patient-b"):
        write_study(phantom, cohort / name)
    broken = cohort / "patient-c"
    (broken / "spect_4h").mkdir(parents=True)
    (broken / "spect_4h" / "nm.dcm").write_bytes(b"not a DICOM file")
    (broken / "labels.nii.gz").write_bytes(b"nor a NIfTI one")
    return cohort


def test_cohort_on_dask_reports_a_broken_study_and_finishes_the_others(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    cohort = _cohort(phantom, tmp_path)
    table = tmp_path / "doses.csv"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "lutetia",
            "dose",
            "images",
            "--cohort",
            str(cohort),
            "--table",
            str(table),
            "--workers",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=600,
    )
    assert completed.returncode == 3, completed.stderr
    document = json.loads(completed.stdout)
    assert document["studies"] == 3
    assert document["succeeded"] == 2
    assert [f["study"] for f in document["failures"]] == ["patient-c"]
    assert "spect_4h" in document["failures"][0]["reason"]
    assert "LocalCluster" in document["ran_on"]
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["study"] for r in rows} == {"patient-a", "patient-b"}
    kidney = [r for r in rows if r["region"] == "kidney_left"]
    assert len(kidney) == 2
    truth = phantom.organs["kidney_left"].tia_mbq_h
    # Not registered: the whole-voxel shifts are not undone (see the test above), but the
    # two copies of one study give one answer, whichever worker ran them.
    assert float(kidney[0]["tia_mbq_h"]) == float(kidney[1]["tia_mbq_h"])
    assert float(kidney[0]["tia_mbq_h"]) != pytest.approx(truth, rel=0.02)
    # What a physicist needs beside the numbers is in the table too.
    from lutetia.services.cohort import COLUMNS

    assert list(rows[0]) == list(COLUMNS)
    first = kidney[0]
    assert first["mass_method"].startswith("CT")
    assert first["dose_model"]
    assert first["timepoints_h"] == ";".join(f"{t:g}" for t in phantom.timepoints_h)
    assert len(first["activities_mbq"].split(";")) == len(phantom.timepoints_h)
    assert int(first["warnings"]) == len([w for w in first["warning_texts"].split(" | ") if w])
    # How each time point was quantified, and that no dose map was made (a walk-through
    # could not tell a kernel table from a local-deposition one).
    quantified = first["calibration"].split(" | ")
    assert len(quantified) == len(phantom.timepoints_h)
    assert all("10 cps/MBq (user calibration)" in q for q in quantified)
    assert first["voxel_dose_method"] == ""
    # The study's own warnings (here: the motion the check registration found, H-M26) reach
    # every row of the study and the cohort's document, not only the regions' own.
    for row in rows:
        assert int(row["study_warnings"]) == len(row["study_warning_texts"].split(" | "))
        assert "appears moved relative to the first" in row["study_warning_texts"]
    assert set(document["study_warnings"]) == {"patient-a", "patient-b"}
    assert all(
        any("appears moved" in w for w in texts) for texts in document["study_warnings"].values()
    )


def test_cohort_table_as_parquet(phantom: PhantomTruth, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from lutetia.services.cohort import COLUMNS, find_studies, run_cohort

    cohort = _cohort(phantom, tmp_path)
    shutil.rmtree(cohort / "patient-b")
    seen: list[tuple[int, int]] = []
    # Another cluster's scheduler on Dask's default HTTP port (8787): the run takes a free
    # port without a warning (one had failed the start under this suite's warnings-as-errors).
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # already held by another process: the same case
            holder.bind(("127.0.0.1", 8787))
            holder.listen()
        result = run_cohort(
            find_studies(cohort),
            Options(register=True),
            workers=1,
            processes=False,
            progress=lambda done, total: seen.append((done, total)),
        )
    assert seen == [(1, 2), (2, 2)]
    assert [f.study for f in result.failures] == ["patient-c"]
    path = tmp_path / "t.parquet"
    import pyarrow as pa

    pq.write_table(pa.table({c: [r[c] for r in result.rows] for c in COLUMNS}), path)
    table = pq.read_table(path).to_pylist()
    kidney = next(r for r in table if r["region"] == "kidney_left")
    truth = phantom.organs["kidney_left"].tia_mbq_h
    assert kidney["tia_mbq_h"] == pytest.approx(truth, rel=0.02)


def test_voxelwise_doses_stay_physical_when_organs_move_off_their_voxels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sub-voxel motion (the phantom's default shift) leaves body-edge voxels with activity
    at the first scan only. Their mono-exponential ran to the λ bound and extrapolated to
    10¹¹ Gy (found in a walk-through); such fits are now replaced by the voxel's trapezoid
    and counted. Every voxel dose stays below the highest organ dose × 2, and each DVH is
    ordered (D98 ≤ D50 ≤ D2 ≤ max, min ≤ mean ≤ max)."""
    study = make_phantom(
        tmp_path, shape=(48, 48, 48), spacing_mm=(SPACING_MM,) * 3, calibration_cps_per_mbq=10.0
    )
    argv = ["dose", "images", *_study_args(study), "--voxelwise", "--json"]
    code, out, err = _cli(argv, capsys)
    assert code == 0, err
    document = json.loads(out)
    voxelwise = document["voxelwise"]
    extrapolated = [n for reason, n in voxelwise["failures"].items() if "trapezoid" in reason]
    assert extrapolated
    assert extrapolated[0] > 0
    highest_organ = max(
        r["absorbed_dose_gy"] for r in document["regions"].values() if r["absorbed_dose_gy"]
    )
    assert voxelwise["max_dose_gy"] < 2 * highest_organ
    for name, region in document["regions"].items():
        d = region["dvh"]
        assert d["d98_gy"] <= d["d50_gy"] <= d["d2_gy"] <= d["max_gy"], name
        assert d["min_gy"] <= d["mean_gy"] <= d["max_gy"], name
    text = main(argv[:-1])
    report = capsys.readouterr().out
    assert text == 0
    assert "voxels: the fitted TIA is more than 10 times the trapezoid" in report
    assert "Masses: CT mean density" in report


def test_voxelwise_out_writes_the_map_of_where_fits_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue asks where voxel fits failed "(a map)": with --out, fit_status.nii.gz holds
    each voxel's Status code on the SPECT grid, and its counts agree with the JSON."""
    import nibabel

    study = make_phantom(
        tmp_path, shape=(48, 48, 48), spacing_mm=(SPACING_MM,) * 3, calibration_cps_per_mbq=10.0
    )
    out = tmp_path / "out"
    out.mkdir()
    argv = ["dose", "images", *_study_args(study), "--voxelwise", "--out", str(out), "--json"]
    code, stdout, err = _cli(argv, capsys)
    assert code == 0, err
    voxelwise = json.loads(stdout)["voxelwise"]
    assert voxelwise["fit_status_map"] == str(out / "fit_status.nii.gz")
    image: Any = nibabel.load(out / "fit_status.nii.gz")
    status = np.asarray(image.dataobj)
    assert status.shape == (48, 48, 48)
    codes = voxelwise["fit_status_codes"]
    assert int(np.count_nonzero(status == 0)) == sum(voxelwise["models"].values())
    assert int(np.count_nonzero(status >= 0)) == voxelwise["voxels_fitted"]
    assert voxelwise["failures"]  # the default sub-voxel motion leaves some (see above)
    for value in np.unique(status[status > 0]):
        reason = codes[str(int(value))]
        assert voxelwise["failures"][reason] == int(np.count_nonzero(status == value))
    assert sorted(p.name for p in out.iterdir()) == [
        "dose.dcm",
        "dosimetry.json",
        "fit_status.nii.gz",
    ]


def test_the_kidney_course_line_says_whether_earlier_cycles_were_entered(
    registered: dict[str, Any],
) -> None:
    # A walk-through read "with the cycles already given 9.14 Gy" and "1 further cycles"
    # where no earlier cycle had been entered.
    import copy

    from lutetia.cli.dose_images import _report

    text = _report(registered)
    assert "no earlier cycle entered (--kidney-already-gy): in all " in text
    assert "with the cycles already given" not in text
    entered = copy.deepcopy(registered)
    for region in entered["regions"].values():
        if region.get("course"):
            region["course"]["already_gy"] = 5.0
            region["course"]["further_cycles_within_limits"] = 1
    text = _report(entered)
    assert "with the cycles already given " in text
    assert "1 further cycle like this one stays within both" in text
    for region in entered["regions"].values():
        if region.get("course"):
            region["course"]["further_cycles_within_limits"] = 2
    assert "2 further cycles like this one stay within both" in _report(entered)


def test_fit_notes_name_the_models_too_few_points_left_out(
    phantom: PhantomTruth, registered: dict[str, Any]
) -> None:
    # With four time points AICc compares the mono-exponential alone; a walk-through read
    # only "mono: AICc 9.76" and could not tell why nothing else had been tried.
    assert len(phantom.timepoints_h) == 4
    for name, region in registered["regions"].items():
        if region.get("model") is None:
            continue
        assert region["fit_notes"][-1] == (
            "not compared with 4 points (AICc needs k + 2 points for k parameters): "
            "uptake_washout needs 5, bi needs 6, tri needs 8"
        ), name


def test_voxelwise_assumptions_are_in_the_document(phantom: PhantomTruth) -> None:
    # A walk-through found the same assumptions with and without --voxelwise: the
    # interpolation of later time points and the photons left out of local deposition.
    plain = run_study(_inputs(phantom), Options())["assumptions"]
    local = run_study(_inputs(phantom), Options(voxelwise=True))["assumptions"]
    assert not any(a.startswith("voxel") for a in plain)
    assert any("CT is taken as aligned with the first time point" in a for a in plain)
    assert any("one sphere of the parts' summed mass" in a for a in plain)
    assert local[: len(plain)] == plain
    added = local[len(plain) :]
    assert added[0].startswith("voxel-wise: each later time point resampled onto the first")
    assert "linear interpolation" in added[0]
    assert added[1].startswith("voxel dose by local deposition: the electron energy stays")
    assert "photon energy is left out" in added[1]


def test_a_cohort_row_says_how_the_dose_map_was_made() -> None:
    from lutetia.services.cohort import COLUMNS, study_rows

    document: dict[str, Any] = {
        "regions": {"liver": {"timepoints": [{"t_h": 4.0, "activity_mbq": 10.0}]}},
        "injection": {"activity_mbq": 7400.0},
        "warnings": [],
        "series": [{"quantification": "counts / 1200 s / 10 cps/MBq"}],
        "voxelwise": {"dose_method": "convolution with the 177Lu dose-voxel kernel (…)"},
    }
    (row,) = study_rows("p", document)
    assert list(row) == list(COLUMNS)
    assert row["voxel_dose_method"] == "convolution with the 177Lu dose-voxel kernel (…)"
    assert row["calibration"] == "counts / 1200 s / 10 cps/MBq"
    del document["voxelwise"]
    assert study_rows("p", document)[0]["voxel_dose_method"] is None


def test_the_rt_dose_takes_the_study_of_the_first_time_point_in_time_order(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """H-M44 (review): with --spect given latest first and a study per time point, the RT
    Dose took the 168 h study while the dose lies on the 4 h grid."""
    import pydicom

    from tests.series_edit import edited_copy

    copies = []
    for n, folder in enumerate(phantom.spect_dirs):

        def own_study(dataset: pydicom.Dataset, n: int = n) -> None:
            dataset.StudyInstanceUID = f"1.2.826.0.1.3680043.10.543.{n + 1}"

        copies.append(edited_copy(Path(folder), tmp_path / Path(folder).name, own_study))
    spect = [arg for folder in reversed(copies) for arg in ("--spect", str(folder))]
    others = _study_args(phantom)[2 * len(copies) :]
    target = tmp_path / "d.dcm"
    code, _, err = _cli(
        ["dose", "images", *spect, *others, "--voxelwise", "--rtdose", str(target)], capsys
    )
    assert code == 0, err
    first = pydicom.dcmread(next(copies[0].iterdir()))
    assert pydicom.dcmread(target).StudyInstanceUID == first.StudyInstanceUID


@pytest.mark.parametrize(("air_columns", "tissue_share"), [(1, 2 / 3), (2, 1 / 3), (0, 1.0)])
def test_ct_density_is_the_mean_over_each_spect_voxel(
    air_columns: int, tissue_share: float
) -> None:
    """H-M43 (review): a SPECT voxel partly of air had the density of its centre point: 37 %
    tissue read as air (0.1 g/mL, the floor), a dose ten times its own. Here a 3 mm SPECT
    voxel over three 1 mm CT columns, ``air_columns`` of them air (−1000 HU), gets the mean
    density (the calibration is linear from air to water)."""
    from lutetia.imaging.mass import default_calibration
    from lutetia.imaging.volume import Grid, Volume
    from lutetia.services.image_dosimetry import ct_density_on_grid

    calibration = default_calibration()
    hu = np.zeros((6, 6, 6))
    hu[:, :, :air_columns] = -1000.0
    ct = Volume(
        grid=Grid((6, 6, 6), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)),
        values=hu, quantity="ct_number", unit="HU", acquired_at=None, source="test CT",
    )  # fmt: skip
    spect = Grid((2, 2, 2), (3.0, 3.0, 3.0), (1.0, 1.0, 1.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    density = ct_density_on_grid(ct, spect, calibration)
    air, water = (float(calibration.density_g_per_ml(np.array(v))) for v in (-1000.0, 0.0))
    expected = tissue_share * water + (1 - tissue_share) * air
    assert density[:, :, 0] == pytest.approx(np.full((2, 2), expected), rel=1e-6)
    assert density[:, :, 1] == pytest.approx(np.full((2, 2), water), rel=1e-6)
