"""RT Dose export: written with pydicom, read back with pydicom and, independently, SimpleITK.

DICOM PS3.3 C.8.8.3 (RT Dose Module): dose = pixel × DoseGridScaling; PixelSpacing
is (row, column); GridFrameOffsetVector along the slice normal.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from numpy.typing import NDArray

from lutetia.errors import BadInputError
from lutetia.imaging.rtdose import MAX_PIXEL, read_rtdose, write_rtdose
from lutetia.imaging.volume import Grid


def _oblique() -> tuple[float, ...]:
    c, s = math.cos(0.3), math.sin(0.3)
    return (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)


def _dose(shape: tuple[int, int, int]) -> NDArray[np.float64]:
    k, j, i = np.indices(shape)
    result: NDArray[np.float64] = 0.5 + 3.0 * i + 0.25 * j**2 + 7.0 * k  # distinct along every axis
    return result


@pytest.mark.parametrize(
    "grid",
    [
        Grid(
            (4, 5, 6),
            (2.0, 3.0, 4.5),
            (-10.0, 20.5, -300.0),
            (1, 0, 0, 0, 1, 0, 0, 0, 1),
            "1.2.3.4",
        ),
        Grid((3, 6, 5), (4.8, 4.8, 4.8), (1.0, 2.0, 3.0), _oblique(), None),
    ],
    ids=["axial", "oblique"],
)
def test_round_trip_pydicom_and_simpleitk(grid: Grid, tmp_path: Path) -> None:
    import SimpleITK

    dose = _dose(grid.shape)
    path = tmp_path / "dose.dcm"
    write_rtdose(path, dose, grid)
    read_grid, read_dose = read_rtdose(path)
    assert read_grid.same_as(grid, tol_mm=1e-4)
    np.testing.assert_allclose(read_dose, dose, rtol=1e-4, atol=dose.max() * 1e-4)

    ds = pydicom.dcmread(path)
    assert (ds.Modality, ds.DoseUnits, ds.DoseType) == ("RTDOSE", "GY", "PHYSICAL")
    assert [float(v) for v in ds.PixelSpacing] == [grid.spacing_mm[1], grid.spacing_mm[0]]
    assert (int(ds.Rows), int(ds.Columns)) == grid.shape[1:]
    # quantisation: the maximum dose uses (almost) the full 32-bit range
    assert int(ds.pixel_array.max()) > 0.999 * MAX_PIXEL
    if grid.frame_of_reference_uid:
        assert ds.FrameOfReferenceUID == grid.frame_of_reference_uid

    image: Any = SimpleITK.ReadImage(str(path))  # GDCM's own reading of the geometry
    assert image.GetSize() == grid.size_ijk
    np.testing.assert_allclose(image.GetSpacing(), np.array(grid.spacing_mm), atol=1e-4)
    np.testing.assert_allclose(image.GetOrigin(), np.array(grid.origin_mm), atol=1e-4)
    np.testing.assert_allclose(image.GetDirection(), np.array(grid.direction), atol=1e-6)
    # SimpleITK (GDCM 3) returns the stored uint32 pixels; DoseGridScaling is applied here
    values = SimpleITK.GetArrayFromImage(image).astype(np.float64) * float(ds.DoseGridScaling)
    np.testing.assert_allclose(values, dose, rtol=1e-4, atol=dose.max() * 1e-4)


def test_reversed_k_axis_is_written_with_increasing_offsets(tmp_path: Path) -> None:
    grid = Grid((3, 2, 2), (1.0, 1.0, 2.0), (0.0, 0.0, 10.0), (1, 0, 0, 0, 1, 0, 0, 0, -1))
    dose = _dose(grid.shape)
    write_rtdose(tmp_path / "d.dcm", dose, grid)
    read_grid, read_dose = read_rtdose(tmp_path / "d.dcm")
    # same voxels in space: read voxel (i, j, k) sits where the original voxel is
    original = grid.index_to_lps([1, 1, 2])
    index = np.rint(read_grid.lps_to_index(original)).astype(int)
    assert read_dose[index[2], index[1], index[0]] == pytest.approx(dose[2, 1, 1], rel=1e-6)
    offsets = [float(v) for v in pydicom.dcmread(tmp_path / "d.dcm").GridFrameOffsetVector]
    assert offsets == [0.0, 2.0, 4.0]


def test_patient_and_study_come_from_the_reference(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset

    reference = Dataset()
    reference.PatientName = "Test^Patient"
    reference.PatientID = "LU-001"
    reference.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    reference.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.2"
    grid = Grid((2, 2, 2), (4.0, 4.0, 4.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    write_rtdose(tmp_path / "d.dcm", np.ones((2, 2, 2)), grid, reference_dataset=reference)
    ds = pydicom.dcmread(tmp_path / "d.dcm")
    assert (str(ds.PatientName), ds.PatientID) == ("Test^Patient", "LU-001")
    assert ds.StudyInstanceUID == reference.StudyInstanceUID
    assert ds.FrameOfReferenceUID == reference.FrameOfReferenceUID
    other = Grid((2, 2, 2), (4.0, 4.0, 4.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1), "1.2.3")
    with pytest.raises(BadInputError) as error:
        write_rtdose(tmp_path / "e.dcm", np.ones((2, 2, 2)), other, reference_dataset=reference)
    assert error.value.field == "reference_dataset"
    assert not (tmp_path / "e.dcm").exists()


@pytest.mark.parametrize(
    ("charset", "name"), [("ISO_IR 192", "Müller^Jürgen"), ("ISO_IR 144", "Иванов^Иван")]
)
def test_a_name_keeps_its_character_set(tmp_path: Path, charset: str, name: str) -> None:
    """H-M44 (review): the names were copied without SpecificCharacterSet, so Müller was
    written Latin-1 undeclared and Иванов as "??????"."""
    source = pydicom.Dataset()
    source.SpecificCharacterSet = charset
    source.PatientName = name
    source.PatientID = "LU-002"
    written_source = tmp_path / "source.dcm"
    source.file_meta = pydicom.dataset.FileMetaDataset()
    source.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    source.save_as(written_source, enforce_file_format=False)
    reference = pydicom.dcmread(written_source, force=True)  # as the SPECT header is read
    grid = Grid((2, 2, 2), (4.0, 4.0, 4.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    write_rtdose(tmp_path / "d.dcm", np.ones((2, 2, 2)), grid, reference_dataset=reference)
    ds = pydicom.dcmread(tmp_path / "d.dcm")
    assert ds.SpecificCharacterSet == charset
    assert str(ds.PatientName) == name


@pytest.mark.parametrize(
    ("dose", "field"),
    [
        (np.full((2, 2, 2), -1.0), "dose_gy"),
        (np.full((2, 2, 2), math.nan), "dose_gy"),
        (np.ones((2, 2, 3)), "dose_gy"),
    ],
)
def test_bad_dose_is_refused_and_nothing_written(
    dose: NDArray[np.float64], field: str, tmp_path: Path
) -> None:
    grid = Grid((2, 2, 2), (4.0, 4.0, 4.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    with pytest.raises(BadInputError) as error:
        write_rtdose(tmp_path / "d.dcm", dose, grid)
    assert error.value.field == field
    assert list(tmp_path.iterdir()) == []


def test_zero_dose_and_not_an_rtdose(tmp_path: Path) -> None:
    grid = Grid((1, 2, 2), (4.0, 4.0, 4.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    write_rtdose(tmp_path / "z.dcm", np.zeros((1, 2, 2)), grid)
    assert read_rtdose(tmp_path / "z.dcm")[1].max() == 0.0
    (tmp_path / "x.dcm").write_bytes(b"not dicom")
    with pytest.raises(BadInputError):
        read_rtdose(tmp_path / "x.dcm")
