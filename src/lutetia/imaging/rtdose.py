"""DICOM RT Dose: write an absorbed-dose map on a :class:`~lutetia.imaging.volume.Grid`; read it.

DICOM PS3.3 A.18 (RT Dose IOD) and C.8.8.3 (RT Dose Module): multi-frame, one
frame per slice; ImagePositionPatient is the centre of the first voxel of the
first frame; ImageOrientationPatient the row (i) and column (j) direction
cosines; PixelSpacing is (row spacing Δj, column spacing Δi), in that order;
GridFrameOffsetVector the offsets (mm) of the frames along the normal
i × j, relative to the first (first value 0). Pixels are 32-bit unsigned
integers; dose (Gy) = pixel × DoseGridScaling, the scaling chosen so that the
maximum dose uses nearly the full 32-bit range (quantisation ≤ 10⁻⁹ of the
maximum, well within the 10⁻⁴ asked for).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from lutetia.errors import BadInputError
from lutetia.imaging.volume import Grid

if TYPE_CHECKING:
    from numpy.typing import NDArray

RT_DOSE_STORAGE: Final[str] = "1.2.840.10008.5.1.4.1.1.481.2"
MAX_PIXEL: Final[int] = 2**32 - 1
#: Enumerated values of DoseSummationType (DICOM PS3.3 C.8.8.3).
SUMMATION_TYPES: Final[tuple[str, ...]] = (
    "PLAN", "MULTI_PLAN", "PLAN_OVERVIEW", "FRACTION", "BEAM", "BRACHY",
    "FRACTION_SESSION", "BEAM_SESSION", "BRACHY_SESSION", "CONTROL_POINT", "RECORD",
)  # fmt: skip
#: Patient and study attributes an RT Dose copies from the image it was computed from.
REFERENCE_KEYWORDS: Final[tuple[str, ...]] = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
    "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName",
)  # fmt: skip


def dose_grid_scaling(max_dose_gy: float) -> float:
    """A DoseGridScaling (Gy per unit, ≤ 16 characters as DS) with max/scaling ≤ 2³² − 1.

    >>> s = dose_grid_scaling(50.0); 50.0 / s <= 2**32 - 1 and 50.0 / s > 0.999 * (2**32 - 1)
    True
    """
    if max_dose_gy <= 0:
        return 1.0
    scaling = max_dose_gy / MAX_PIXEL
    text = f"{scaling:.8e}"
    while max_dose_gy / float(text) > MAX_PIXEL:
        scaling *= 1 + 1e-8
        text = f"{scaling:.8e}"
    return float(text)


def _normal(grid: Grid) -> tuple[NDArray[np.float64], float]:
    """The slice normal i × j and the sign of the k axis along it (refuses a sheared grid)."""
    d = grid.direction_matrix
    normal = np.cross(d[:, 0], d[:, 1])
    along = float(np.dot(normal, d[:, 2]))
    if abs(abs(along) - 1.0) > 1e-4:
        raise BadInputError("grid.direction", "the k axis is not normal to the slices (sheared)")
    return normal, math.copysign(1.0, along)


def write_rtdose(
    path: str | Path,
    dose_gy: Any,
    grid: Grid,
    *,
    reference_dataset: Any = None,
    description: str = "Lutetia 177Lu absorbed dose",
    summation_type: str = "PLAN",
    option: str = "path",
    comment: str | None = None,
) -> None:
    """Write ``dose_gy`` (array [k, j, i] of ``grid.shape``) as a DICOM RT Dose file, atomically.

    Patient and study come from ``reference_dataset`` (a pydicom Dataset, e.g. a
    SPECT slice) if given; the FrameOfReferenceUID is the grid's, else the
    reference's, else a new one (then the dose is not linked to any image). A grid
    whose k axis points against i × j is written with its frames reversed, so
    that the offsets increase. ``option`` names the path in error messages; ``comment``
    (DoseComment, at most 64 characters) says how the dose was computed.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    from lutetia.cli.output import atomic_output

    dose = np.asarray(dose_gy, dtype=np.float64)
    if dose.shape != grid.shape:
        raise BadInputError("dose_gy", f"shape {dose.shape} is not the grid's {grid.shape}")
    if not np.all(np.isfinite(dose)):
        raise BadInputError("dose_gy", "contains NaN or infinite values")
    if np.any(dose < 0):
        raise BadInputError("dose_gy", "contains negative doses")
    if comment is not None and len(comment) > 64:
        raise BadInputError("comment", f"{len(comment)} characters: DoseComment holds 64 (LO)")
    if len(description) > 64:
        raise BadInputError("description", f"{len(description)} characters: LO holds 64")
    if summation_type not in SUMMATION_TYPES:
        raise BadInputError("summation_type", f"{summation_type!r}: one of {SUMMATION_TYPES}")
    d = grid.direction_matrix
    _, sign = _normal(grid)
    origin = np.array(grid.origin_mm)
    if sign < 0:  # reverse the frames: the last slice becomes the first
        dose = dose[::-1]
        origin = grid.index_to_lps([0.0, 0.0, grid.shape[0] - 1.0])
    frame_uid = grid.frame_of_reference_uid
    reference_frame = getattr(reference_dataset, "FrameOfReferenceUID", None)
    if frame_uid and reference_frame and str(reference_frame) != frame_uid:
        raise BadInputError(
            "reference_dataset",
            f"FrameOfReferenceUID {reference_frame} is not the grid's {frame_uid}",
        )
    frame_uid = frame_uid or (str(reference_frame) if reference_frame else generate_uid())

    scaling = dose_grid_scaling(float(dose.max()))
    pixels = np.rint(dose / scaling).clip(0, MAX_PIXEL).astype("<u4")

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(RT_DOSE_STORAGE)
    sop_uid = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RT_DOSE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "RTDOSE"
    # The names copied are in the reference's character set (a PatientName Müller or
    # Иванов had been written Latin-1 undeclared, or as "??????"): it goes with them.
    charset = getattr(reference_dataset, "SpecificCharacterSet", None)
    if charset:
        ds.SpecificCharacterSet = charset
    for keyword in REFERENCE_KEYWORDS:
        value = getattr(reference_dataset, keyword, None)
        setattr(ds, keyword, value if value is not None else "")
    if not ds.StudyInstanceUID:
        ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.SeriesDescription = description
    ds.Manufacturer = "Lutetia"
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    nk, nj, ni = grid.shape
    di, dj, dk = grid.spacing_mm
    ds.ImagePositionPatient = [f"{v:.6f}" for v in origin]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*d[:, 0], *d[:, 1])]
    ds.PixelSpacing = [f"{dj:.6f}", f"{di:.6f}"]  # (row spacing, column spacing)
    ds.SliceThickness = f"{dk:.6f}"
    ds.GridFrameOffsetVector = [f"{k * dk:.6f}" for k in range(nk)]
    ds.FrameIncrementPointer = (0x3004, 0x000C)
    ds.NumberOfFrames = nk
    ds.Rows = nj
    ds.Columns = ni
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.DoseUnits = "GY"
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = summation_type
    if comment:
        ds.DoseComment = comment
    ds.DoseGridScaling = f"{scaling:.8e}"
    ds.PixelData = pixels.tobytes()
    with atomic_output(str(path), option=option) as temporary:
        ds.save_as(temporary, enforce_file_format=True)


def read_rtdose(path: str | Path) -> tuple[Grid, NDArray[np.float64]]:
    """The grid and the dose (Gy, array [k, j, i]) of a DICOM RT Dose file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    where = str(path)
    try:
        ds = pydicom.dcmread(where)
    except FileNotFoundError:
        raise BadInputError(where, "no such file") from None
    except (InvalidDicomError, OSError) as error:
        raise BadInputError(where, f"not a DICOM file: {error}") from None
    if ds.get("Modality") != "RTDOSE":
        raise BadInputError(f"{where}: Modality", f"{ds.get('Modality')!r} is not RTDOSE")
    if ds.get("DoseUnits") != "GY":
        raise BadInputError(f"{where}: DoseUnits", f"{ds.get('DoseUnits')!r} is not GY")
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                    "DoseGridScaling"):  # fmt: skip
        if keyword not in ds:
            raise BadInputError(f"{where}: {keyword}", "missing")
    frames = int(ds.get("NumberOfFrames", 1))
    row = np.array([float(v) for v in ds.ImageOrientationPatient[:3]])
    column = np.array([float(v) for v in ds.ImageOrientationPatient[3:]])
    normal = np.cross(row, column)
    raw = ds.get("GridFrameOffsetVector", [0.0])
    values = [raw] if isinstance(raw, int | float) else list(raw)  # one value is a DSfloat
    offsets = np.array(values, dtype=float)
    if len(offsets) != frames:
        raise BadInputError(
            f"{where}: GridFrameOffsetVector", f"{len(offsets)} values, {frames} frames"
        )
    offsets = offsets - offsets[0]  # absolute (first ≠ 0) or relative: the same steps
    steps = np.diff(offsets)
    spacing_k = float(abs(steps[0])) if frames > 1 else float(ds.get("SliceThickness") or 1.0)
    if frames > 1 and (spacing_k == 0 or not np.allclose(steps, steps[0], atol=1e-3)):
        raise BadInputError(f"{where}: GridFrameOffsetVector", "frames are not evenly spaced")
    k_axis = normal if frames == 1 or steps[0] > 0 else -normal
    dose = ds.pixel_array.astype(np.float64).reshape(frames, int(ds.Rows), int(ds.Columns))
    dose *= float(ds.DoseGridScaling)
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    direction = np.column_stack([row, column, k_axis]).ravel()
    frame_uid = ds.get("FrameOfReferenceUID")
    grid = Grid(
        shape=(frames, int(ds.Rows), int(ds.Columns)),
        spacing_mm=(column_spacing, row_spacing, spacing_k),
        origin_mm=tuple(float(v) for v in ds.ImagePositionPatient),  # type: ignore[arg-type]
        direction=tuple(float(v) for v in direction),
        frame_of_reference_uid=str(frame_uid) if frame_uid else None,
    )
    return grid, dose
