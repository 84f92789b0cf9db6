"""DICOM and NIfTI readers: geometry, quantification, timing, malformed input.

Geometry is checked against the DICOM formula applied by hand to the raw tags
(PS3.3 C.7.6.2.1.1: P(r, c) = S + c·Δc·X + r·Δr·Y, with X, Y the row and
column direction cosines of Image Orientation (Patient), Δr, Δc the two
numbers of Pixel Spacing in that order) and against SimpleITK (ITK/GDCM),
an independent reader. NIfTI is checked against nibabel's affine (RAS) and
SimpleITK's NIfTI reader (LPS).
"""

from __future__ import annotations

import math
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pydicom
import pytest
import SimpleITK
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from lutetia.errors import BadInputError
from lutetia.imaging.dicom import read_injection, read_series
from lutetia.imaging.nifti import read_label_map, read_nifti, write_label_map, write_nifti
from lutetia.imaging.phantom import INJECTED_AT, write_nm, write_slices
from lutetia.imaging.sitk import grid_from_sitk, to_sitk
from lutetia.imaging.volume import Grid, Volume

CET = timezone(timedelta(hours=1))
#: SimpleITK without its partial type hints (mypy --strict).
ITK: Any = SimpleITK


def _rotation(z_deg: float, x_deg: float) -> tuple[float, ...]:
    a, b = math.radians(z_deg), math.radians(x_deg)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return tuple(float(v) for v in (rz @ rx).reshape(-1))


FRAME = "1.2.826.0.1.3680043.10.8"
#: Oblique, anisotropic, non-square: every axis distinguishable.
OBLIQUE = Grid((5, 6, 7), (2.0, 3.0, 4.0), (-10.0, 20.5, 33.0), _rotation(30, 10), FRAME)
AXIAL = Grid((4, 6, 5), (2.5, 1.5, 3.0), (-6.0, -4.0, 10.0), (1, 0, 0, 0, 1, 0, 0, 0, 1), FRAME)


def _ids(series: str = "1.2.826.0.1.3680043.10.1", number: str = "1") -> dict[str, str]:
    return {
        "study": "1.2.826.0.1.3680043.10.9",
        "series": series,
        "frame": FRAME,
        "sop": series + ".1",
        "number": number,
        "description": "test",
        "seed": "0",
    }


def _radiopharmaceutical(
    *,
    activity_bq: float = 7.4e9,
    half_life_s: float = 574300.8,
    meaning: str = "^177^Lutetium",
    modality: str = "NM",
) -> Sequence:
    """Radionuclide Total Dose in MBq for NM (PS3.3 C.8.4.10.1.7), in Bq for PT."""
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "X", "SCT", meaning
    item = Dataset()
    item.RadionuclideCodeSequence = Sequence([code])
    item.RadionuclideTotalDose = str(activity_bq / 1e6 if modality == "NM" else activity_bq)
    item.RadionuclideHalfLife = str(half_life_s)
    item.RadiopharmaceuticalStartDateTime = "20260302090000+0100"
    return Sequence([item])


def _nm(path: Path, grid: Grid, stored: np.ndarray[Any, Any], **tags: Any) -> Path:
    """An NM multi-frame file holding exactly ``stored`` (uint16), then ``tags`` set or deleted."""
    write_nm(
        path,
        grid,
        stored.astype(np.float64),
        ids=_ids(),
        when=INJECTED_AT + timedelta(hours=24),
        radiopharmaceutical=_radiopharmaceutical(),
    )
    ds = pydicom.dcmread(path)
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    ds.PixelData = np.ascontiguousarray(stored.astype("<u2")).tobytes()
    for key, value in tags.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def _ramp(grid: Grid) -> np.ndarray[Any, Any]:
    return np.arange(math.prod(grid.shape), dtype=np.float64).reshape(grid.shape) + 1.0


# ------------------------------------------------------------------------ geometry


def test_nm_voxel_position_matches_the_dicom_formula_on_the_raw_tags(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", OBLIQUE, _ramp(OBLIQUE), Units="BQML", DecayCorrection="START")
    volume = read_series(path)
    raw = pydicom.dcmread(path)
    detector = raw.DetectorInformationSequence[0]
    s = np.array([float(v) for v in detector.ImagePositionPatient])
    iop = [float(v) for v in detector.ImageOrientationPatient]
    x, y = np.array(iop[:3]), np.array(iop[3:])
    d_row, d_col = (float(v) for v in raw.PixelSpacing)  # (between rows, between columns)
    n = np.cross(x, y)
    gap = float(raw.SpacingBetweenSlices)
    for i, j, k in [(0, 0, 0), (6, 0, 0), (0, 5, 0), (0, 0, 4), (3, 2, 1), (6, 5, 4)]:
        expected = s + i * d_col * x + j * d_row * y + k * gap * n
        assert np.allclose(volume.grid.index_to_lps([i, j, k]), expected, atol=1e-6)
        # and the value stored at frame k, row j, column i is where the grid says
        assert volume.values[k, j, i] == _ramp(OBLIQUE)[k, j, i]
    assert volume.grid.spacing_mm == pytest.approx((2.0, 3.0, 4.0))
    assert volume.grid.shape == (5, 6, 7)


def test_simpleitk_reads_the_same_geometry_and_pixels(tmp_path: Path) -> None:
    nm = _nm(tmp_path / "nm.dcm", OBLIQUE, _ramp(OBLIQUE), Units="BQML")
    image = SimpleITK.ReadImage(str(nm))
    assert grid_from_sitk(image).same_as(read_series(nm).grid, tol_mm=1e-4)
    ct_dir = tmp_path / "ct"
    hu = _ramp(AXIAL) - 500
    write_slices(ct_dir, "ct", AXIAL, hu, ids=_ids(), when=INJECTED_AT, extra={"Modality": "CT"})
    reader = ITK.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(ct_dir)))
    series = reader.Execute()
    ours = read_series(ct_dir)
    assert grid_from_sitk(series).same_as(ours.grid, tol_mm=1e-4)
    assert np.array_equal(SimpleITK.GetArrayFromImage(series), ours.values)
    assert np.array_equal(ours.values, hu)


def test_anisotropic_pixel_spacing_is_row_then_column(tmp_path: Path) -> None:
    # PixelSpacing = (Δ between rows = Δj, Δ between columns = Δi): here 1.5 and 2.5.
    folder = tmp_path / "ct"
    write_slices(folder, "ct", AXIAL, _ramp(AXIAL), ids=_ids(), when=INJECTED_AT,
                 extra={"Modality": "CT"})  # fmt: skip
    first = pydicom.dcmread(sorted(folder.iterdir())[0])
    assert [float(v) for v in first.PixelSpacing] == [1.5, 2.5]
    assert (first.Rows, first.Columns) == (6, 5)
    volume = read_series(folder)
    assert volume.grid.spacing_mm == pytest.approx((2.5, 1.5, 3.0))
    # one column step moves 2.5 mm along x (L), one row step 1.5 mm along y (P)
    step = volume.grid.index_to_lps([[1, 0, 0], [0, 1, 0]]) - volume.grid.index_to_lps([0, 0, 0])
    assert np.allclose(step, [[2.5, 0, 0], [0, 1.5, 0]])


def test_slice_order_comes_from_positions_not_instance_numbers(tmp_path: Path) -> None:
    values = _ramp(AXIAL)
    folder = tmp_path / "ct"
    paths = write_slices(folder, "ct", AXIAL, values, ids=_ids(), when=INJECTED_AT,
                         extra={"Modality": "CT"})  # fmt: skip
    reference = read_series(folder)
    for n, path in enumerate(paths):  # scramble numbers and file names
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = (7 * n) % len(paths) + 1
        ds.save_as(folder / f"x{(3 * n) % len(paths)}_{n}.dcm", enforce_file_format=True)
        path.unlink()
    scrambled = read_series(folder)
    assert scrambled.grid.same_as(reference.grid)
    assert np.array_equal(scrambled.values, values)
    # A series whose slices run feet-ward: the normal is −z, the grid follows it.
    down = Grid((4, 6, 5), (2.5, 1.5, 3.0), (0, 0, 0), (1, 0, 0, 0, -1, 0, 0, 0, -1))
    write_slices(tmp_path / "down", "ct", down, values, ids=_ids("1.2.3.9"), when=INJECTED_AT,
                 extra={"Modality": "CT"})  # fmt: skip
    read = read_series(tmp_path / "down")
    assert read.grid.same_as(down)
    assert np.array_equal(read.values, values)


def test_multi_frame_and_single_frame_give_the_same_volume(tmp_path: Path) -> None:
    stored = np.round(_ramp(OBLIQUE))
    nm = _nm(tmp_path / "nm.dcm", OBLIQUE, stored, Units="BQML", DecayCorrection="START")
    folder = tmp_path / "pet"
    write_slices(folder, "pet", OBLIQUE, stored, ids=_ids("1.2.3.7"), when=INJECTED_AT,
                 extra={"Modality": "PT", "Units": "BQML", "DecayCorrection": "START",
                        "CorrectedImage": ["ATTN", "DECY"]})  # fmt: skip
    multi, single = read_series(nm), read_series(folder)
    assert multi.grid.same_as(single.grid, tol_mm=1e-4)
    # The PET writer stores int16 with a slope of (slice maximum)/32000: a quantisation step.
    assert np.allclose(multi.values, single.values, rtol=0, atol=float(stored.max()) / 32000)


def test_slice_vector_orders_the_frames(tmp_path: Path) -> None:
    stored = _ramp(AXIAL)
    order = [3, 1, 4, 2]  # frame f holds slice order[f]
    frames = np.stack([stored[s - 1] for s in order])
    path = _nm(tmp_path / "nm.dcm", AXIAL, frames, Units="BQML", DecayCorrection="START",
               SliceVector=order)  # fmt: skip
    assert np.array_equal(read_series(path).values, stored)


def test_uneven_or_duplicate_slices_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ct"
    paths = write_slices(folder, "ct", AXIAL, _ramp(AXIAL), ids=_ids(), when=INJECTED_AT,
                         extra={"Modality": "CT"})  # fmt: skip
    paths[1].unlink()  # a missing slice
    with pytest.raises(BadInputError, match="unevenly spaced") as error:
        read_series(folder)
    assert error.value.field == f"{folder} (series): ImagePositionPatient"


def test_nifti_round_trip_and_ras_to_lps(tmp_path: Path) -> None:
    import nibabel

    volume = Volume(OBLIQUE, _ramp(OBLIQUE), "activity_concentration", "Bq/mL", INJECTED_AT, "t")
    path = tmp_path / "v.nii.gz"
    write_nifti(volume, path)
    # nibabel (RAS): the affine negates the x and y rows of the LPS affine.
    image: Any = nibabel.load(str(path))
    expected_ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ OBLIQUE.affine_lps
    assert np.allclose(image.affine, expected_ras, atol=1e-5)
    assert image.get_fdata()[6, 5, 4] == volume.values[4, 5, 6]  # NIfTI order is (i, j, k)
    # SimpleITK (LPS), independently.
    assert grid_from_sitk(SimpleITK.ReadImage(str(path))).same_as(OBLIQUE, tol_mm=1e-3)
    back = read_nifti(
        path, quantity="activity_concentration", unit="Bq/mL", acquired_at=INJECTED_AT
    )
    assert back.grid.same_as(OBLIQUE, tol_mm=1e-3)
    assert np.array_equal(back.values, volume.values)


def test_nifti_written_by_nibabel_in_ras_lands_in_lps(tmp_path: Path) -> None:
    import nibabel

    # Typical RAS-oriented file: i runs right→left?  Here i runs towards +R (x_RAS grows).
    affine = np.array([[2.0, 0, 0, -50], [0, 3.0, 0, 20], [0, 0, 4.0, -7], [0, 0, 0, 1]])
    data = np.zeros((4, 3, 2), dtype=np.int16)
    data[3, 2, 1] = 5
    nib: Any = nibabel
    image = nib.Nifti1Image(data, affine)
    image.header.set_qform(affine, code=1)
    image.header.set_sform(None, code=0)  # qform only
    path = tmp_path / "labels.nii"
    nibabel.save(image, str(path))
    grid, labels = read_label_map(path)
    assert labels.shape == (2, 3, 4)
    assert labels[1, 2, 3] == 5
    # voxel (3, 2, 1): RAS = (−50 + 6, 20 + 6, −7 + 4) = (−44, 26, −3) → LPS (44, −26, −3)
    assert np.allclose(grid.index_to_lps([3, 2, 1]), [44.0, -26.0, -3.0])
    assert grid_from_sitk(SimpleITK.ReadImage(str(path))).same_as(grid, tol_mm=1e-4)


def test_label_map_round_trip_and_sitk_adapter(tmp_path: Path) -> None:
    labels = (np.arange(math.prod(AXIAL.shape)).reshape(AXIAL.shape) % 4).astype(np.int32)
    path = tmp_path / "labels.nii.gz"
    write_label_map(AXIAL, labels, path)
    grid, back = read_label_map(path)
    assert grid.same_as(AXIAL)
    assert np.array_equal(back, labels)
    image = to_sitk(AXIAL, labels)
    assert grid_from_sitk(image).same_as(AXIAL)
    assert image.GetPixel(4, 5, 3) == labels[3, 5, 4]  # SimpleITK indexes (i, j, k)


# ---------------------------------------------------------------- quantification


def test_real_world_value_mapping_in_bq_per_ml(tmp_path: Path) -> None:
    mapping = Dataset()
    units = Dataset()
    units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = "Bq/ml", "UCUM", "Bq/ml"
    mapping.MeasurementUnitsCodeSequence = Sequence([units])
    mapping.RealWorldValueSlope, mapping.RealWorldValueIntercept = 0.5, 10.0
    mapping.RealWorldValueFirstValueMapped, mapping.RealWorldValueLastValueMapped = 0, 65535
    stored = np.full(AXIAL.shape, 100.0)
    rwvm = Sequence([mapping])
    path = _nm(tmp_path / "nm.dcm", AXIAL, stored, RealWorldValueMappingSequence=rwvm,
               DecayCorrection="START")  # fmt: skip
    volume = read_series(path)
    assert volume.unit == "Bq/mL"
    assert np.allclose(volume.values, 100 * 0.5 + 10.0)  # 60 Bq/mL by hand
    assert "Real World Value Mapping" in volume.source


def test_bqml_units_with_rescale_slope(tmp_path: Path) -> None:
    stored = np.full(AXIAL.shape, 1000.0)
    path = _nm(tmp_path / "nm.dcm", AXIAL, stored, Units="BQML", DecayCorrection="START",
               RescaleSlope="2.0", RescaleIntercept="0")  # fmt: skip
    assert float(pydicom.dcmread(path).RescaleSlope) == 2.0  # 1000 × 2.0 = 2000 Bq/mL
    assert np.allclose(read_series(path).values, 2000.0)


def test_counts_with_a_calibration_factor_by_hand(tmp_path: Path) -> None:
    stored = np.full(AXIAL.shape, 1200.0)
    path = _nm(tmp_path / "nm.dcm", AXIAL, stored)
    volume = read_series(path, calibration_cps_per_mbq=10.0)
    # 60 views × 20 s = 1200 s; 1200 counts / 1200 s / 10 cps/MBq = 0.1 MBq in a voxel of
    # 2.5 × 1.5 × 3.0 mm³ = 0.01125 mL → 8.888…e6 Bq/mL (mean over the acquisition);
    # at the acquisition start: ÷ (1 − e^(−λT))/(λT), λ = ln 2 / 6.647 d (ICRP-107), T = 1200 s.
    x = math.log(2) / (6.647 * 24) * (1200 / 3600)
    expected = 0.1e6 / 0.01125 / ((1 - math.exp(-x)) / x)
    assert np.allclose(volume.values, expected, rtol=1e-9)
    assert "10 cps/MBq" in volume.source


def test_counts_without_calibration_are_refused(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape))
    with pytest.raises(BadInputError, match="calibration factor") as error:
        read_series(path)
    assert error.value.field == "calibration_cps_per_mbq"


def test_admin_decay_correction_is_undone_to_acquisition_start(tmp_path: Path) -> None:
    stored = np.full(AXIAL.shape, 1000.0)
    path = _nm(tmp_path / "nm.dcm", AXIAL, stored, Units="BQML", DecayCorrection="ADMIN")
    volume = read_series(path)
    # decay-corrected to the injection (09:00) → value at the scan 24 h later: × 2^(−24 h / T½)
    assert np.allclose(volume.values, 1000.0 * 2 ** (-24 / (6.647 * 24)), rtol=1e-9)


@pytest.mark.parametrize("correction", ["START", "ADMIN"])
def test_counts_follow_their_decay_correction(tmp_path: Path, correction: str) -> None:
    """Counts corrected by the scanner are not divided by the mean decay again (START), and
    counts corrected to the administration are decayed back to the acquisition (ADMIN)."""
    stored = np.full(AXIAL.shape, 1200.0)
    path = _nm(tmp_path / "nm.dcm", AXIAL, stored, DecayCorrection=correction)
    volume = read_series(path, calibration_cps_per_mbq=10.0)
    at_reference = 0.1e6 / 0.01125  # 1200 counts / 1200 s / 10 cps/MBq / 0.01125 mL
    factor = 1.0 if correction == "START" else 2 ** (-24 / (6.647 * 24))
    assert np.allclose(volume.values, at_reference * factor, rtol=1e-9)
    assert f"DecayCorrection {correction}" in volume.source


def test_unknown_units_are_refused_naming_the_tag(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape), Units="PROPCPS")
    with pytest.raises(BadInputError) as error:
        read_series(path, calibration_cps_per_mbq=10.0)
    assert error.value.field.endswith("Units")


# ------------------------------------------------------------------------- timing


def test_timezone_offset_tag_is_honoured(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape), Units="BQML",
               DecayCorrection="START", TimezoneOffsetFromUTC="+0200",
               AcquisitionTime="101500")  # fmt: skip
    acquired = read_series(path).acquired_at
    assert acquired is not None
    assert acquired.utcoffset() == timedelta(hours=2)
    assert acquired.astimezone(UTC).hour == 8
    assert acquired.minute == 15


def test_missing_offset_is_refused_unless_a_timezone_is_given(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape), Units="BQML",
               DecayCorrection="START", TimezoneOffsetFromUTC=None)  # fmt: skip
    with pytest.raises(BadInputError, match="no time zone") as error:
        read_series(path)
    assert error.value.field.endswith("TimezoneOffsetFromUTC")
    acquired = read_series(path, timezone=ZoneInfo("Europe/Paris")).acquired_at
    assert acquired is not None
    assert acquired.utcoffset() == timedelta(hours=1)  # 3 March 2026: CET, not CEST


def test_missing_acquisition_time_is_named(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape), Units="BQML",
               DecayCorrection="START", AcquisitionTime=None)  # fmt: skip
    with pytest.raises(BadInputError) as error:
        read_series(path)
    assert error.value.field.endswith("AcquisitionTime")


def test_injection_from_the_radiopharmaceutical_sequence(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape))
    injection = read_injection(path)
    assert injection.activity_bq == 7.4e9
    assert injection.at == INJECTED_AT
    assert injection.at.utcoffset() == timedelta(hours=1)
    assert injection.nuclide == "Lu-177"
    assert injection.half_life_h == pytest.approx(574300.8 / 3600)


def test_missing_injection_time_is_named(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape))
    ds = pydicom.dcmread(path)
    del ds.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(BadInputError) as error:
        read_injection(path)
    assert error.value.field.endswith("RadiopharmaceuticalStartDateTime")


# ---------------------------------------------------------------------- malformed


def test_truncated_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape), Units="BQML")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadInputError) as error:
        read_series(path)
    assert str(path) in error.value.field


def test_missing_pixel_data_is_refused(tmp_path: Path) -> None:
    path = _nm(tmp_path / "nm.dcm", AXIAL, np.ones(AXIAL.shape), Units="BQML", PixelData=None)
    with pytest.raises(BadInputError) as error:
        read_series(path)
    assert error.value.field == f"{path}: PixelData"


def test_two_series_in_one_folder_are_refused_naming_both(tmp_path: Path) -> None:
    write_slices(tmp_path, "a", AXIAL, _ramp(AXIAL), ids=_ids("1.2.3.100"), when=INJECTED_AT,
                 extra={"Modality": "CT"})  # fmt: skip
    write_slices(tmp_path, "b", AXIAL, _ramp(AXIAL), ids=_ids("1.2.3.200"), when=INJECTED_AT,
                 extra={"Modality": "CT"})  # fmt: skip
    with pytest.raises(BadInputError, match=r"1\.2\.3\.100.*1\.2\.3\.200") as error:
        read_series(tmp_path)
    assert error.value.field == str(tmp_path)
    assert read_series(tmp_path, series_uid="1.2.3.200").grid.same_as(AXIAL)


def test_a_non_dicom_file_named_explicitly_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(BadInputError, match="not a DICOM file"):
        read_series([path])


# -------------------------------------------------------------------------- grid


def test_grid_validation_names_the_field() -> None:
    with pytest.raises(BadInputError) as error:
        Grid((2, 2, 2), (1.0, 0.0, 1.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    assert error.value.field == "grid.spacing_mm"
    with pytest.raises(BadInputError) as error:
        Grid((2, 2, 2), (1.0, 1.0, 1.0), (0, 0, 0), (1, 0, 0, 0.1, 1, 0, 0, 0, 1))
    assert error.value.field == "grid.direction"
    with pytest.raises(BadInputError) as error:
        Volume(AXIAL, np.zeros((1, 2, 3)), "counts", "counts", INJECTED_AT, "t")
    assert error.value.field == "volume.values"
    naive = INJECTED_AT.replace(tzinfo=None)
    with pytest.raises(BadInputError) as error:
        Volume(AXIAL, np.zeros(AXIAL.shape), "counts", "counts", naive, "t")
    assert error.value.field == "volume.acquired_at"


def test_lps_to_index_inverts_index_to_lps() -> None:
    rng = np.random.default_rng(1)
    ijk = rng.uniform(-2, 8, size=(50, 3))
    assert np.allclose(OBLIQUE.lps_to_index(OBLIQUE.index_to_lps(ijk)), ijk)
    moved = Grid(OBLIQUE.shape, OBLIQUE.spacing_mm, (-10.0, 20.5, 33.01), OBLIQUE.direction)
    assert OBLIQUE.same_as(moved, tol_mm=0.02)
    assert not OBLIQUE.same_as(moved, tol_mm=0.005)


def test_enhanced_multi_frame_functional_groups_give_the_same_volume(tmp_path: Path) -> None:
    # PS3.3 C.7.6.16: per-frame Plane Position, shared Plane Orientation / Pixel Measures /
    # Pixel Value Transformation; frames written in reverse order on purpose.
    stored = np.round(_ramp(OBLIQUE))
    reference = read_series(
        _nm(tmp_path / "nm.dcm", OBLIQUE, stored, Units="BQML", DecayCorrection="START")
    )
    path = _nm(tmp_path / "enh.dcm", OBLIQUE, stored[::-1], Units="BQML",
               DecayCorrection="START", DetectorInformationSequence=None,
               SliceVector=None, RescaleSlope="3.0")  # fmt: skip
    ds = pydicom.dcmread(path)
    direction = OBLIQUE.direction_matrix
    frames = []
    for f in range(OBLIQUE.shape[0]):
        position = Dataset()
        k = OBLIQUE.shape[0] - 1 - f
        position.ImagePositionPatient = [f"{v:.10g}" for v in OBLIQUE.index_to_lps([0, 0, k])]
        item = Dataset()
        item.PlanePositionSequence = Sequence([position])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    orientation, measures, transform = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = [
        f"{v:.10g}" for v in (*direction[:, 0], *direction[:, 1])
    ]
    measures.PixelSpacing = ["3", "2"]
    measures.SliceThickness = "4"
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = "0.5", "1", "US"
    shared = Dataset()
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.save_as(path, enforce_file_format=True)
    enhanced = read_series(path)
    assert enhanced.grid.same_as(reference.grid, tol_mm=1e-4)
    # the functional-group rescale (0.5, +1) applies, not the top-level RescaleSlope 3.0
    assert np.allclose(enhanced.values, reference.values * 0.5 + 1)


def test_pet_not_decay_corrected_over_several_beds_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "pet"
    extra = {"Modality": "PT", "Units": "BQML", "DecayCorrection": "NONE",
             "CorrectedImage": ["ATTN"],
             "RadiopharmaceuticalInformationSequence": _radiopharmaceutical(modality="PT"),
             "ActualFrameDuration": 120000}  # fmt: skip
    paths = write_slices(folder, "pet", AXIAL, np.full(AXIAL.shape, 1000.0), ids=_ids(),
                         when=INJECTED_AT + timedelta(hours=24), extra=extra)  # fmt: skip
    one_bed = read_series(folder)
    x = math.log(2) / (6.647 * 24) * (120 / 3600)  # 177Lu, 2-min frame
    assert np.allclose(one_bed.values, 1000.0 / ((1 - math.exp(-x)) / x), rtol=1e-4)
    ds = pydicom.dcmread(paths[0])
    ds.AcquisitionTime = "091000"  # a second bed, acquired later
    ds.save_as(paths[0], enforce_file_format=True)
    with pytest.raises(BadInputError, match="several beds") as error:
        read_series(folder)
    assert error.value.field.endswith("AcquisitionTime")


def test_importing_the_package_and_geometry_loads_no_dicom_or_itk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lutetia.imaging, lutetia.imaging.volume\n"
        "print(*sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pydicom', 'SimpleITK', 'nibabel', 'highdicom', 'scipy'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
