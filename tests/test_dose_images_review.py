"""``lutetia dose images``: the defects a physicist's review found (2026-12-02), one test per class.

* every time point's provenance is checked, not only the first series' (a later
  series of another nuclide was decay-corrected with that nuclide's half-life and
  counted as 177Lu: +10.5 % at that time point, with only a warning);
* a fitted curve that does not describe the region's points is said (a mono-exponential
  through a bi-exponential rest of body missed the last point by −90 %, TIA −24 %;
  through an uptake phase it was extrapolated back to t = 0, TIA +16 %), and the
  models compared are in the document;
* what the user gave and what was used are stated (a calibration factor not used for
  Bq/mL series; a --timezone that differs from the administration's own UTC offset;
  how each series was quantified and timed);
* a series of the wrong kind is refused for what it is (an NM series given as the CT,
  a Ga-68 PET given as a SPECT time point).

The phantom (:mod:`lutetia.imaging.phantom`) has 4 time points, 6.4 mm voxels and no
motion; its truth is analytic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pydicom
import pytest

from lutetia.cli import main
from lutetia.errors import BadInputError
from lutetia.imaging.phantom import PhantomTruth
from lutetia.services.image_dosimetry import Options, run_study
from tests.series_edit import CALIBRATION, edited_copy, still_phantom
from tests.series_edit import study_inputs as _inputs


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomTruth:
    return still_phantom(tmp_path_factory.mktemp("review"), 40, 6.4)


@pytest.fixture(scope="module")
def document(phantom: PhantomTruth) -> dict[str, Any]:
    return run_study(_inputs(phantom), Options())


def _altered(
    phantom: PhantomTruth, folder: Path, which: int, change: Callable[[pydicom.Dataset], None]
) -> tuple[Path, ...]:
    """The phantom's SPECT series with series ``which`` copied into ``folder`` and altered."""
    series = [Path(p) for p in phantom.spect_dirs]
    series[which] = edited_copy(series[which], folder / series[which].name, change)
    return tuple(series)


def _gallium(dataset: pydicom.Dataset) -> None:
    item = dataset.RadiopharmaceuticalInformationSequence[0]
    item.RadionuclideCodeSequence[0].CodeValue = "C-131A3"
    item.RadionuclideCodeSequence[0].CodeMeaning = "^68^Gallium"
    item.RadionuclideHalfLife = "4062.6"


# --- every time point's provenance ------------------------------------------------------------


@pytest.mark.parametrize("which", [1, 3])
def test_a_later_series_of_another_nuclide_is_refused(
    phantom: PhantomTruth, tmp_path: Path, which: int
) -> None:
    spect = _altered(phantom, tmp_path, which, _gallium)
    with pytest.raises(BadInputError) as error:
        run_study(_inputs(phantom, spect), Options())
    assert error.value.field == f"{spect[which]}: RadiopharmaceuticalInformationSequence"
    assert "Ga-68, not Lu-177" in error.value.reason


def test_a_later_series_with_another_half_life_is_refused(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    def half_life(dataset: pydicom.Dataset) -> None:
        dataset.RadiopharmaceuticalInformationSequence[0].RadionuclideHalfLife = "4062.6"

    spect = _altered(phantom, tmp_path, 2, half_life)
    with pytest.raises(BadInputError) as error:
        run_study(_inputs(phantom, spect), Options())
    assert error.value.field.startswith(f"{spect[2]}: ")
    assert "RadionuclideHalfLife" in error.value.field


def test_a_later_series_without_a_nuclide_code_is_refused_by_its_path(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    def no_code(dataset: pydicom.Dataset) -> None:
        del dataset.RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence

    spect = _altered(phantom, tmp_path, 3, no_code)
    with pytest.raises(BadInputError) as error:
        run_study(_inputs(phantom, spect), Options())
    assert error.value.field == f"{spect[3]}: RadionuclideCodeSequence"


def test_a_ga68_pet_given_as_a_spect_time_point_is_refused_for_its_nuclide(
    phantom: PhantomTruth,
) -> None:
    spect = tuple(Path(p) for p in phantom.spect_dirs)
    pet = Path(phantom.pet_dir)
    with pytest.raises(BadInputError) as error:
        run_study(_inputs(phantom, (*spect[:3], pet)), Options())
    assert error.value.field == f"{pet}: RadiopharmaceuticalInformationSequence"
    assert "not Lu-177" in error.value.reason


def test_an_nm_series_given_as_the_ct_is_refused_for_its_modality(phantom: PhantomTruth) -> None:
    spect = Path(phantom.spect_dirs[0])
    with pytest.raises(BadInputError) as error:
        run_study(_inputs(phantom, ct=spect), Options())
    assert error.value.field.endswith(": Modality")
    assert "'NM' where CT is expected" in error.value.reason


def test_a_ct_given_as_a_spect_time_point_is_refused_for_its_modality(
    phantom: PhantomTruth,
) -> None:
    spect = tuple(Path(p) for p in phantom.spect_dirs)
    ct = Path(phantom.ct_dir)
    with pytest.raises(BadInputError) as error:
        run_study(_inputs(phantom, (*spect[:3], ct)), Options())
    assert error.value.field == f"{ct}: Modality"


# --- fits that do not describe the points -----------------------------------------------------


def test_a_mono_exponential_through_bi_exponential_kinetics_is_warned(
    phantom: PhantomTruth, document: dict[str, Any]
) -> None:
    # rest_of_body is bi-exponential in the phantom; with 4 time points only the
    # mono-exponential can be fitted (n ≥ k + 2), and it misses the 168 h point.
    terms = phantom.organs["rest_of_body"].terms_mbq_per_h
    assert len(terms) == 2
    assert all(c > 0 for c, _ in terms)
    region = document["regions"]["rest_of_body"]
    assert region["model"] == "mono"
    assert region["fit_notes"][0].startswith("mono: AICc")
    misfit = [w for w in document["warnings"] if w.startswith("rest_of_body: the fitted mono")]
    assert len(misfit) == 1
    assert "168 h: measured" in misfit[0]
    assert "the TIA is unreliable" in misfit[0]


def test_an_uptake_phase_fitted_without_one_is_warned(
    phantom: PhantomTruth, document: dict[str, Any]
) -> None:
    rising = [
        name for name, organ in phantom.organs.items()
        if organ.activity_mbq[1] > organ.activity_mbq[0]
    ]  # fmt: skip
    assert rising, "the phantom has a region whose activity rises from 4 h to 24 h"
    for name in rising:
        said = [w for w in document["warnings"] if w.startswith(f"{name}: the activity rises")]
        assert len(said) == 1, name
        assert "extrapolated back" in said[0]
    # a region that only falls gets neither warning
    liver = [w for w in document["warnings"] if w.startswith("liver: the ")]
    assert not [w for w in liver if "rises" in w or "misses" in w]


def test_without_motion_the_motion_check_says_nothing(document: dict[str, Any]) -> None:
    assert not [w for w in document["warnings"] if "appears moved" in w]
    for entry in document["registration"][1:]:
        assert entry["registered"] is False
        assert max(abs(t) for t in entry["motion_check"]["translation_mm"]) < 0.5 * 6.4


@pytest.mark.parametrize(
    ("translation", "rotation", "gain", "moved"),
    [
        ((3.3, 0.0, 0.0), (0.0, 0.0, 0.0), 0.03, True),
        ((3.1, 0.0, 0.0), (0.0, 0.0, 0.0), 0.03, False),
        ((0.0, 0.0, -3.3), (0.0, 0.0, 0.0), 0.03, True),
        ((3.3, 0.0, 0.0), (0.0, 0.0, 0.0), 0.01, False),
        ((0.0, 0.0, 0.0), (0.0, 2.1, 0.0), 0.03, True),
        ((0.0, 0.0, 0.0), (0.0, -1.9, 0.0), 0.03, False),
    ],
)  # fmt: skip
def test_motion_is_half_a_voxel_or_2_degrees_that_aligns_better(
    translation: tuple[float, float, float],
    rotation: tuple[float, float, float],
    gain: float,
    moved: bool,
) -> None:
    from lutetia.imaging.registration import Registration
    from lutetia.imaging.volume import Grid
    from lutetia.services.image_dosimetry import (
        MOTION_NCC_GAIN,
        MOTION_ROTATION_DEG,
        MOTION_VOXELS,
        _appears_moved,
    )

    assert (MOTION_VOXELS, MOTION_ROTATION_DEG, MOTION_NCC_GAIN) == (0.5, 2.0, 0.02)
    grid = Grid((4, 4, 4), (6.4, 6.4, 6.4), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    check = Registration(
        translation, rotation, (0.0, 0.0, 0.0), "test", 0.0, 0.5, 0.5 + gain, 1, "test", ()
    )
    assert _appears_moved(check, grid) is moved


# --- what was given and what was used -----------------------------------------------------------


def test_the_document_states_how_each_series_was_quantified_and_timed(
    phantom: PhantomTruth, document: dict[str, Any]
) -> None:
    series = document["series"]
    assert [s["path"] for s in series] == [str(p) for p in phantom.spect_dirs]
    assert [s["t_h"] for s in series] == pytest.approx(list(phantom.timepoints_h), abs=1e-9)
    for entry in series:
        assert f"{CALIBRATION:.6g} cps/MBq (user calibration)" in entry["quantification"]
        assert "(1−e^(−λT))/(λT)" in entry["quantification"]
        assert entry["acquired_at"][-6] in "+-"  # timezone-aware
    assumptions = " ".join(document["assumptions"])
    assert "neglected" not in assumptions
    assert "integrated from the administration" in assumptions
    assert "LPS" in assumptions
    assert [e["series"] for e in document["registration"]] == [str(p) for p in phantom.spect_dirs]


def _bqml(dataset: pydicom.Dataset) -> None:
    dataset.Units = "BQML"
    dataset.DecayCorrection = "START"


def test_a_calibration_not_used_for_bqml_series_is_said(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    spect = _altered(phantom, tmp_path, 0, _bqml)
    document = run_study(_inputs(phantom, spect), Options())
    said = [w for w in document["warnings"] if "was not used" in w]
    assert said == [
        f"{spect[0]}: its values are in Bq/mL already, so the calibration of 10 cps/MBq "
        "was not used for it"
    ]


def _no_offset(dataset: pydicom.Dataset) -> None:
    del dataset.TimezoneOffsetFromUTC


def test_a_timezone_option_other_than_the_administration_offset_is_warned(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    spect = _altered(phantom, tmp_path, 0, _no_offset)
    stated = run_study(_inputs(phantom), Options())["injection"]["datetime"]
    offset_h = int(stated[-6:-3])
    same = timezone(timedelta(hours=offset_h))
    other = timezone(timedelta(hours=offset_h - 1))
    quiet = run_study(_inputs(phantom, spect), Options(timezone=same))
    assert not [w for w in quiet["warnings"] if "--timezone" in w]
    # files that carry their own offset do not use --timezone: nothing to say
    unused = run_study(_inputs(phantom), Options(timezone=other))
    assert not [w for w in unused["warnings"] if "--timezone" in w]
    loud = run_study(_inputs(phantom, spect), Options(timezone=other))
    said = [w for w in loud["warnings"] if "--timezone" in w]
    assert len(said) == 1
    assert "off by the difference" in said[0]
    first = loud["series"][0]
    assert first["t_h"] == pytest.approx(phantom.timepoints_h[0] + 1.0, abs=1e-9)


def test_the_missing_time_zone_error_names_the_option(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spect = _altered(phantom, tmp_path, 0, _no_offset)
    arguments = [a for p in spect for a in ("--spect", str(p))]
    status = main([
        "dose", "images", *arguments, "--masks", str(phantom.labels_path),
        "--labels", str(phantom.label_names_path), "--calibration-cps-per-mbq", "10",
    ])  # fmt: skip
    assert status == 2
    assert "(--timezone ±HH:MM)" in capsys.readouterr().err


# --- kidney regions: BED and the course against the limits (issue 11) -----------------------


def test_kidney_regions_carry_their_bed_and_the_course_check(
    document: dict[str, Any], phantom: PhantomTruth
) -> None:
    from lutetia.dosimetry.bed import bed_mono

    for name in ("kidney_left", "kidney_right", "kidneys"):
        region = document["regions"][name]
        assert region["model"] == "mono"
        # mono-exponential kinetics: the Lea–Catcheside BED is bed_mono with the fit's T_eff
        expected = bed_mono(region["absorbed_dose_gy"], region["effective_half_life_h"])
        assert region["bed_gy"] == pytest.approx(expected, rel=1e-9)
        course = region["course"]
        assert course["absorbed_total_gy"] == region["absorbed_dose_gy"]
        assert course["bed_total_gy"] == region["bed_gy"]
        assert (course["absorbed_limit_gy"], course["bed_limit_gy"]) == (23.0, 40.0)
        dose, bed = region["absorbed_dose_gy"], region["bed_gy"]
        further = min((23.0 - dose) // dose, (40.0 - bed) // bed)  # after this cycle
        assert course["further_cycles_within_limits"] == further
    assert "bed_gy" not in document["regions"]["liver"]


def test_kidney_course_with_the_cycles_already_given(phantom: PhantomTruth) -> None:
    document = run_study(
        _inputs(phantom),
        Options(kidney_already_gy=20.0, kidney_already_bed_gy=25.0, risk_factors=True),
    )
    region = document["regions"]["kidneys"]
    course = region["course"]
    assert course["absorbed_total_gy"] == pytest.approx(20.0 + region["absorbed_dose_gy"])
    assert course["bed_limit_gy"] == 28.0
    assert course["further_cycles_within_limits"] == 0
    said = [w for w in document["warnings"] if w.startswith("kidneys: the cumulative kidney")]
    assert said  # 20 Gy + this cycle exceeds 23 Gy


@pytest.mark.parametrize(
    ("extra", "field"),
    [(["--kidney-already-gy", "-1"], "--kidney-already-gy"),
     (["--kidney-already-gy", "10", "--kidney-already-bed-gy", "9"], "--kidney-already-bed-gy"),
     (["--kidney-already-bed-gy", "nan"], "--kidney-already-bed-gy")],
)  # fmt: skip
def test_kidney_course_options_bad_input(
    phantom: PhantomTruth, capsys: pytest.CaptureFixture[str], extra: list[str], field: str
) -> None:
    arguments = [a for p in phantom.spect_dirs for a in ("--spect", str(p))]
    status = main([
        "dose", "images", *arguments, "--masks", str(phantom.labels_path),
        "--labels", str(phantom.label_names_path), "--calibration-cps-per-mbq", "10", *extra,
    ])  # fmt: skip
    assert status == 2
    assert field in capsys.readouterr().err


def test_kidney_course_options_are_one_patients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["dose", "images", "--cohort", str(tmp_path), "--table",
                   str(tmp_path / "t.csv"), "--risk-factors"])  # fmt: skip
    assert status == 2
    assert "--risk-factors" in capsys.readouterr().err
