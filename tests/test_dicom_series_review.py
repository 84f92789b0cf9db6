"""What a DICOM series states once for the whole series, read correctly (review of 2026-12-02).

Each test stands for a class of defect found by an independent check of ``lutetia pet`` and
``lutetia dose images`` against QIBA's vendor-neutral SUV pseudo-code and PS3.3
(docs/hazards.md, H-M28 to H-M32):

* the unit of Radionuclide Total Dose depends on the modality (NM: MBq, PT: Bq);
* a value of the whole series is read from one file, so the files must agree;
* the decay reference of a PET series re-created after the scan;
* the corrections a quantitative PET must state (CorrectedImage);
* a half-life tag accepted but different from ICRP-107 is said.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from lutetia.errors import BadInputError
from lutetia.imaging.dicom import (
    RADIOPHARMACEUTICAL_WIDE,
    SERIES_WIDE,
    Injection,
    half_life_note,
    read_injection,
    read_series,
)
from lutetia.imaging.phantom import write_nm, write_slices
from lutetia.imaging.volume import Grid
from lutetia.nuclides import nuclide

CET = timezone(timedelta(hours=1))
FRAME = "1.2.826.0.1.3680043.10.8"
GRID = Grid((3, 4, 5), (2.0, 2.0, 3.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1), FRAME)
INJECTED = datetime(2026, 3, 2, 9, 0, tzinfo=CET)
SERIES_AT = INJECTED + timedelta(minutes=60)


def _ids(series: str = "1.2.826.0.1.3680043.10.1") -> dict[str, str]:
    return {
        "study": "1.2.826.0.1.3680043.10.9", "series": series, "frame": FRAME,
        "sop": series + ".1", "number": "1", "description": "test", "seed": "0",
    }  # fmt: skip


def _item(total: str, *, meaning: str = "^68^Gallium", half_life_s: str = "4062.6") -> Sequence:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "X", "SCT", meaning
    item = Dataset()
    item.Radiopharmaceutical = "Ga-68 PSMA-11"
    item.RadionuclideCodeSequence = Sequence([code])
    item.RadionuclideTotalDose = total
    item.RadionuclideHalfLife = half_life_s
    item.RadiopharmaceuticalStartDateTime = INJECTED.strftime("%Y%m%d%H%M%S%z")
    return Sequence([item])


def _pet(folder: Path, **tags: Any) -> list[Path]:
    """A PT series of one file per plane: 150 MBq of 68Ga, BQML, START, ATTN\\DECY; ``tags``
    override (None deletes)."""
    extra: dict[str, Any] = {
        "Modality": "PT", "Units": "BQML", "DecayCorrection": "START",
        "CorrectedImage": ["ATTN", "DECY"], "PatientWeight": "80",
        "RadiopharmaceuticalInformationSequence": _item("150000000"),
        "ActualFrameDuration": 120000,
    }  # fmt: skip
    extra.update({k: v for k, v in tags.items() if v is not None})
    paths = write_slices(folder, "pt", GRID, np.full(GRID.shape, 5000.0), ids=_ids(),
                         when=SERIES_AT, extra=extra)  # fmt: skip
    for key in [k for k, v in tags.items() if v is None]:
        for path in paths:
            ds = pydicom.dcmread(path)
            delattr(ds, key)
            ds.save_as(path, enforce_file_format=True)
    return paths


def _edit(path: Path, **tags: Any) -> None:
    ds = pydicom.dcmread(path)
    for key, value in tags.items():
        if key.startswith("item."):
            setattr(ds.RadiopharmaceuticalInformationSequence[0], key[5:], value)
        else:
            setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)


def _nm(path: Path, total: str) -> Path:
    item = _item(total, meaning="^177^Lutetium", half_life_s="574300.8")
    write_nm(path, GRID, np.ones(GRID.shape), ids=_ids("1.2.826.0.1.3680043.10.2"),
             when=INJECTED + timedelta(hours=24), radiopharmaceutical=item)  # fmt: skip
    return path


# --- the unit of Radionuclide Total Dose --------------------------------------------------


def test_nm_total_dose_is_in_megabecquerel(tmp_path: Path) -> None:
    # PS3.3 C.8.4.10.1.7: the NM Isotope Module states the administered dose in MBq. Read as
    # Bq, 7400 gave 0.0074 MBq and 39 million Gy/GBq for a lesion, without a word.
    injection = read_injection(_nm(tmp_path / "nm.dcm", "7400"))
    assert injection.activity_bq == pytest.approx(7.4e9)
    assert "7400 MBq (NM, PS3.3 C.8.4.10.1.7)" in injection.source


def test_pet_total_dose_is_in_becquerel(tmp_path: Path) -> None:
    # PS3.3 C.8.9.2, PET Isotope Module: Bq.
    injection = read_injection(_pet(tmp_path / "pt")[0])
    assert injection.activity_bq == pytest.approx(150e6)


@pytest.mark.parametrize(
    ("modality", "total"),
    [("NM", "0.999"), ("NM", "50001"), ("NM", "999999"), ("NM", "5.0001e10"), ("PT", "0.999"),
     ("PT", "50001"), ("PT", "999999"), ("PT", "5.0001e10")],
)  # fmt: skip
def test_a_total_dose_outside_any_administration_is_refused(
    tmp_path: Path, modality: str, total: str
) -> None:
    # 1 MBq to 50 GBq: every diagnostic or therapeutic administration; a value that is none
    # in MBq and none in Bq is refused.
    path = _nm(tmp_path / "nm.dcm", total) if modality == "NM" else _pet(tmp_path / "pt")[0]
    if modality == "PT":
        _edit(path, **{"item.RadionuclideTotalDose": total})
    with pytest.raises(BadInputError, match="in Bq and in MBq") as error:
        read_injection(path)
    assert error.value.field.endswith("RadionuclideTotalDose")


@pytest.mark.parametrize(
    ("modality", "total", "mbq"),
    [("NM", "7.4e9", 7400.0), ("NM", "1e6", 1.0), ("NM", "5e10", 50000.0),
     ("PT", "150", 150.0), ("PT", "1", 1.0), ("PT", "50000", 50000.0)],
)  # fmt: skip
def test_a_total_dose_in_the_other_unit_is_read_in_it_and_said(
    tmp_path: Path, modality: str, total: str, mbq: float
) -> None:
    # Some NM files state Bq (7.4e9) and some PET files MBq (150): in the standard's unit no
    # administration, in the other one an administration. It was refused with no way round.
    path = _nm(tmp_path / "nm.dcm", total) if modality == "NM" else _pet(tmp_path / "pt")[0]
    if modality == "PT":
        _edit(path, **{"item.RadionuclideTotalDose": total})
    injection = read_injection(path)
    assert injection.activity_bq == pytest.approx(mbq * 1e6)
    assert len(injection.notes) == 1
    other = "Bq" if modality == "NM" else "MBq"
    assert f"RadionuclideTotalDose {float(total):g} read in {other}" in injection.notes[0]


@pytest.mark.parametrize("mbq", [1.0, 7400.0, 50000.0])
def test_the_ends_of_the_administration_range_are_accepted(tmp_path: Path, mbq: float) -> None:
    injection = read_injection(_nm(tmp_path / "nm.dcm", f"{mbq:g}"))
    assert injection.activity_bq == pytest.approx(mbq * 1e6)
    assert injection.notes == ()


def test_a_total_dose_whose_unit_is_unknown_is_refused(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", "7400")
    _edit(path, Modality="OT")
    with pytest.raises(BadInputError, match="unit of RadionuclideTotalDose") as error:
        read_injection(path)
    assert error.value.field.endswith("Modality")


# --- a value of the whole series, stated by every file -------------------------------------

#: A different value in one file for each attribute read once per series.
CHANGES: dict[str, Any] = {
    "Modality": "NM",
    "PatientID": "someone else",
    "FrameOfReferenceUID": "1.2.826.0.1.3680043.10.77",
    "Units": "CNTS",
    "DecayCorrection": "ADMIN",
    "CorrectedImage": ["ATTN"],
    "PatientWeight": "60",
    "SeriesDate": "20260303",
    "SeriesTime": "101500",
    "DecayCorrectionDateTime": "20260302100000+0100",
    "TimezoneOffsetFromUTC": "+0200",
    "item.Radiopharmaceutical": "Ga-68 PSMA-617",
    "item.RadionuclideTotalDose": "100000000",
    "item.RadiopharmaceuticalStartDateTime": "20260302083000+0100",
    "item.RadiopharmaceuticalStartTime": "083000",
    "item.RadionuclideHalfLife": "4080",
}


def test_every_series_wide_attribute_is_compared() -> None:
    compared = set(SERIES_WIDE) | {f"item.{k}" for k in RADIOPHARMACEUTICAL_WIDE}
    assert compared == set(CHANGES)


@pytest.mark.parametrize("keyword", sorted(CHANGES))
def test_a_file_that_differs_from_its_series_is_refused(tmp_path: Path, keyword: str) -> None:
    # The readers took Units, DecayCorrection, PatientWeight, the administration... from the
    # first file: a series whose pt_000 said 60 kg and the others 80 kg gave SUVs 25 % low.
    paths = _pet(tmp_path / "pt", PatientID="P1")
    _edit(paths[-1], **{keyword: CHANGES[keyword]})
    with pytest.raises(BadInputError, match="differs from") as error:
        read_series(tmp_path / "pt")
    assert error.value.field.startswith(str(paths[-1]))
    assert error.value.field.endswith(keyword.removeprefix("item."))


def test_a_different_radionuclide_code_in_one_file_is_refused(tmp_path: Path) -> None:
    paths = _pet(tmp_path / "pt")
    ds = pydicom.dcmread(paths[1])
    ds.RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence[0].CodeMeaning = "^18^F"
    ds.save_as(paths[1], enforce_file_format=True)
    with pytest.raises(BadInputError, match="differs from") as error:
        read_injection(tmp_path / "pt")
    assert error.value.field.endswith("RadionuclideCodeSequence")


def test_the_same_number_written_differently_is_the_same(tmp_path: Path) -> None:
    paths = _pet(tmp_path / "pt")
    _edit(paths[0], PatientWeight="80.0", CorrectedImage=["DECY", "ATTN"])
    assert read_series(tmp_path / "pt").values.shape == GRID.shape


# --- the decay reference of a PET series ----------------------------------------------------


def test_a_series_time_after_the_acquisition_start_gives_way_to_it(tmp_path: Path) -> None:
    # QIBA vendor-neutral SUV rule: a series re-created after the scan (SeriesTime 25 min
    # after AcquisitionTime) is referred to its earliest acquisition start; the series time
    # made the SUVs 29 % high (68Ga).
    paths = _pet(tmp_path / "pt")
    for path in paths:
        _edit(path, SeriesTime="102500", AcquisitionTime="100000")
    volume = read_series(tmp_path / "pt")
    assert volume.acquired_at == datetime(2026, 3, 2, 10, 0, tzinfo=CET)
    assert "QIBA" in volume.source
    assert "1500 s after" in volume.source


def test_a_series_time_before_the_acquisition_stands(tmp_path: Path) -> None:
    paths = _pet(tmp_path / "pt")
    for path in paths:
        _edit(path, SeriesTime="095500", AcquisitionTime="100000")
    volume = read_series(tmp_path / "pt")
    assert volume.acquired_at == datetime(2026, 3, 2, 9, 55, tzinfo=CET)
    assert "QIBA" not in volume.source


def test_a_decay_correction_datetime_is_the_reference_whatever_the_times(tmp_path: Path) -> None:
    paths = _pet(tmp_path / "pt", DecayCorrectionDateTime="20260302094000+0100")
    for path in paths:
        _edit(path, SeriesTime="102500", AcquisitionTime="100000")
    assert read_series(tmp_path / "pt").acquired_at == datetime(2026, 3, 2, 9, 40, tzinfo=CET)


# --- the corrections of a quantitative PET --------------------------------------------------


@pytest.mark.parametrize(
    ("correction", "corrected", "field"),
    [("START", None, "CorrectedImage"), ("START", ["DECY"], "CorrectedImage"),
     ("START", ["ATTN"], "CorrectedImage"), ("ADMIN", ["ATTN", "SCAT"], "CorrectedImage"),
     ("NONE", ["ATTN", "DECY"], "DecayCorrection")],
)  # fmt: skip
def test_a_pet_that_does_not_state_its_corrections_is_refused(
    tmp_path: Path, correction: str, corrected: list[str] | None, field: str
) -> None:
    # QIBA: attenuation correction (ATTN) and, for START/ADMIN, decay correction (DECY) must
    # be stated; these files gave SUVs before.
    _pet(tmp_path / "pt", DecayCorrection=correction, CorrectedImage=corrected)
    with pytest.raises(BadInputError) as error:
        read_series(tmp_path / "pt")
    assert error.value.field.endswith(field)


@pytest.mark.parametrize(
    ("correction", "corrected"),
    [("START", ["ATTN", "DECY"]), ("ADMIN", ["ATTN", "DECY", "SCAT"]), ("NONE", ["ATTN"])],
)
def test_a_pet_with_consistent_corrections_is_read(
    tmp_path: Path, correction: str, corrected: list[str]
) -> None:
    # 5000 Bq/mL stored, acquired 60 min after the administration in a 120 s frame. The
    # volume holds the concentration at the acquisition start: START as stored; ADMIN (at the
    # administration) decayed by e^(−λ·60 min); NONE (the frame's mean) divided by the mean
    # decay factor over the frame, (1 − e^(−λT))/(λT).
    _pet(tmp_path / "pt", DecayCorrection=correction, CorrectedImage=corrected)
    volume = read_series(tmp_path / "pt")
    assert volume.unit == "Bq/mL"
    decay_per_s = math.log(2) / (nuclide("Ga-68").half_life_h * 3600)
    expected = {
        "START": 5000.0,
        "ADMIN": 5000.0 * math.exp(-decay_per_s * 3600),
        "NONE": 5000.0 / ((1 - math.exp(-decay_per_s * 120)) / (decay_per_s * 120)),
    }[correction]
    assert np.allclose(volume.values, expected, rtol=1e-4)


# --- a half-life tag that differs from ICRP-107 --------------------------------------------


@pytest.mark.parametrize(
    ("name", "tag_s", "said"),
    [("Ga-68", 4080.0, True), ("Ga-68", 4100.0, True), ("F-18", 6588.0, False),
     ("Lu-177", 574300.8, False)],
)  # fmt: skip
def test_a_half_life_tag_that_differs_from_icrp_107_is_said(
    name: str, tag_s: float, said: bool
) -> None:
    # 4080 s (68 min) against ICRP-107's 68Ga half-life changes a 60-min SUV by about
    # 0.3 %: accepted (within 1 %), ICRP-107 used, and now said.
    reference_s = nuclide(name).half_life_h * 3600
    injection = Injection(1e8, INJECTED, name, "test", tag_s / 3600)
    note = half_life_note(injection)
    assert (note is not None) is said
    if note is not None:
        assert f"{(tag_s - reference_s) / reference_s:+.2%}" in note
        assert "ICRP-107 used" in note


def test_the_half_life_note_threshold_is_a_tenth_of_a_percent() -> None:
    reference_h = nuclide("Ga-68").half_life_h
    below = Injection(1e8, INJECTED, "Ga-68", "test", reference_h * (1 + 0.99e-3))
    above = Injection(1e8, INJECTED, "Ga-68", "test", reference_h * (1 - 1.01e-3))
    assert half_life_note(below) is None
    assert half_life_note(above) is not None
    assert math.isclose(reference_h * 3600, 4062.6, rel_tol=1e-3)  # ICRP-107, 67.71 min


def test_lutetia_pet_says_the_half_life_it_did_not_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from lutetia.cli import main
    from lutetia.imaging.phantom import make_phantom

    phantom = make_phantom(tmp_path, shape=(24, 24, 24), spacing_mm=(10.0, 10.0, 10.0))
    for path in sorted(phantom.pet_dir.iterdir()):
        _edit(path, **{"item.RadionuclideHalfLife": "4080"})
    args = ["pet", "--pet", str(phantom.pet_dir), "--masks", str(phantom.labels_path),
            "--labels", str(phantom.label_names_path), "--json"]  # fmt: skip
    assert main(args) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("RadionuclideHalfLife 4080 s" in n and "ICRP-107 used" in n for n in notes)


# --- what the notes say the file said -------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "said"),
    [
        (None, "DecayCorrection absent, read as NONE for an NM image"),
        ("NONE", "DecayCorrection NONE"),
    ],
)
def test_an_nm_without_decay_correction_says_it_was_assumed(
    tmp_path: Path, tag: str | None, said: str
) -> None:
    # A walk-through read "DecayCorrection NONE" for a file that has no such tag: the
    # reading of its absence is an assumption and is said as one.
    path = _nm(tmp_path / "nm.dcm", "7400")
    if tag is not None:
        _edit(path, DecayCorrection=tag)
    volume = read_series(path, calibration_cps_per_mbq=10.0)
    assert f"not decay corrected in the file ({said}): mean over" in volume.source
