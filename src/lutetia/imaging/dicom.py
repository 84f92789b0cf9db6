"""DICOM NM, PT and CT series in: geometry, quantification, timing, injection (pydicom).

Geometry (DICOM PS3.3 C.7.6.2, Image Plane Module). Every image is read as a
stack of 2-D planes, each with the LPS position of its first pixel (Image
Position (Patient)), its row and column directions (Image Orientation
(Patient): the first three numbers are the direction along a row, i.e. of
increasing column index i; the last three of increasing row index j) and its
Pixel Spacing, which DICOM gives as (spacing between rows, spacing between
columns) = (Δj, Δi). The planes are sorted along the slice normal
n = row × column (never by Instance Number), must be evenly spaced, and give
a :class:`~lutetia.imaging.volume.Grid` with direction columns (row, column, n).

* single-frame CT / PET: one plane per file;
* NM multi-frame reconstructed tomography (PS3.3 C.8.4.8, NM Image Module;
  C.8.4.10 NM Detector Module): Image Position and Orientation of the volume
  are in Detector Information Sequence, the planes are Spacing Between Slices
  apart along n, and Slice Vector (0054,0080) gives each frame's slice number;
* enhanced multi-frame (PS3.3 C.7.6.16, Multi-frame Functional Groups):
  Plane Position / Plane Orientation / Pixel Measures / Pixel Value
  Transformation from the per-frame or shared functional groups.

Values: stored value × Rescale Slope + Rescale Intercept (per plane). Counts
become Bq/mL, in this order: a Real World Value Mapping (PS3.3 C.7.6.16.2.11,
Real World Value Mapping Macro) whose units code is Bq/mL; else Units
(0054,1001) = BQML; else counts with a calibration factor (cps/MBq) given by
the user. Anything else is refused.

Decay reference (the convention of this package): a returned
``activity_concentration`` is the activity concentration **at the start of
acquisition** (``Volume.acquired_at``), without decay correction to any other
time. Decay Correction (0054,1102) ``START`` values are already that (the
reference time is Decay Correction DateTime (0018,9701) when present, else
Series Date/Time, PS3.3 C.8.9.1, PET Series Module); ``ADMIN`` values are
decayed from the administration time to the reference; ``NONE`` values (counts
or Bq/mL alike: the unit and the decay correction are independent) are the mean
over the frame and are divided by (1 − e^{−λT})/(λT), the mean of the decay
factor over a frame of duration T (a PET series with several
acquisition times, i.e. several beds, is then refused).

Times: DICOM DA/TM carry no time zone. Timezone Offset From UTC (0008,0201)
is used; else the ``timezone`` given by the caller; else the file is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lutetia.dosimetry.plausibility import MAX_ACTIVITY_MBQ
from lutetia.errors import BadInputError
from lutetia.imaging.volume import Grid, Quantity, Volume

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

#: Relative tolerance on the spacing between consecutive planes (uneven gaps are refused).
SLICE_GAP_TOL = 0.01
#: Relative tolerance between a half-life tag and ICRP-107.
HALF_LIFE_TOL = 0.01
#: Radionuclide Total Dose (0018,1074) by modality: its unit, Bq per unit, where the
#: standard says so. NM Isotope Module: MBq; PET Isotope Module: Bq.
TOTAL_DOSE_UNITS: dict[str, tuple[str, float, str]] = {
    "NM": ("MBq", 1e6, "PS3.3 C.8.4.10.1.7"),
    "PT": ("Bq", 1.0, "PS3.3 C.8.9.2"),
}
#: An administered activity outside this range (MBq) is a unit slip, not an administration:
#: diagnostic PET and SPECT give tens to hundreds of MBq, 177Lu-PSMA 6–9.3 GBq a cycle
#: (guideline, Procedure), and no radiopharmaceutical therapy approaches 50 GBq
#: (:data:`lutetia.dosimetry.plausibility.MAX_ACTIVITY_MBQ`).
INJECTED_ACTIVITY_RANGE_MBQ = (1.0, MAX_ACTIVITY_MBQ)
#: Iterative reconstructions (OSEM, as quantitative SPECT and PET use) are not negative;
#: scatter subtraction or resolution modelling may leave voxels slightly below zero. A voxel
#: below this fraction of the image's maximum, negated, is not quantitative: a wrong Rescale
#: Intercept or Pixel Representation, or a filtered back-projection with scatter subtraction
#: at low counts (which dips to −5 % … −17 % of the maximum; not for voxel dosimetry).
NEGATIVE_FRACTION = 0.05
#: A half-life tag that differs from ICRP-107 by more than this (but within HALF_LIFE_TOL)
#: is reported: ICRP-107 is used, and the file's value would give a different decay.
HALF_LIFE_NOTE_TOL = 1e-3
#: Plausible SPECT volume sensitivity (reconstructed cps per MBq): a factor outside it is a
#: wrong unit (cps/kBq, cps/Bq) or a typo, not a camera.
CALIBRATION_RANGE_CPS_PER_MBQ = (1e-3, 1e5)
#: Words of a Volume's or an Injection's ``source`` that say a user-given value was used:
#: the calibration factor for counts, the time zone for times without an offset.
USER_CALIBRATION_SOURCE = "user calibration"
USER_TIMEZONE_SOURCE = "time zone given by the user"
#: Largest UTC offset in use (Line Islands, +14:00); DICOM allows −12:00 to +14:00.
MAX_UTC_OFFSET = timedelta(hours=14)

_ELEMENTS = {
    "fluorine": "F",
    "gallium": "Ga",
    "lutetium": "Lu",
    "technetium": "Tc",
    "indium": "In",
    "copper": "Cu",
    "zirconium": "Zr",
    "iodine": "I",
    "yttrium": "Y",
    "carbon": "C",
    "nitrogen": "N",
    "oxygen": "O",
    "rubidium": "Rb",
    "scandium": "Sc",
    "terbium": "Tb",
    "actinium": "Ac",
    "lead": "Pb",
}


@dataclass(frozen=True)
class Injection:
    """The administration, as the DICOM Radiopharmaceutical Information Sequence states it.

    ``activity_bq`` is Radionuclide Total Dose (0018,1074) (activity at ``at``) in Bq,
    whose file states it in MBq for NM and in Bq for PT (:data:`TOTAL_DOSE_UNITS`; the
    other of the two where only it gives an administration, said in ``notes``),
    ``at`` the Radiopharmaceutical Start DateTime (0018,1078), ``nuclide`` the
    radionuclide spelled like ``Lu-177`` (None if the code is not recognised),
    ``half_life_h`` Radionuclide Half Life (0018,1075) in hours (None if absent).
    """

    activity_bq: float
    at: datetime
    nuclide: str | None
    source: str
    half_life_h: float | None = None
    #: What the reader had to decide about the administration, to be said to the user.
    notes: tuple[str, ...] = ()


@dataclass
class _Plane:
    position: NDArray[np.float64]  # LPS of the first pixel
    row_dir: NDArray[np.float64]  # direction of increasing column index i
    col_dir: NDArray[np.float64]  # direction of increasing row index j
    spacing_ji: tuple[float, float]  # PixelSpacing = (Δj, Δi)
    values: NDArray[np.float64]  # rescaled, shape (rows, columns)
    label: str


# --------------------------------------------------------------------------- files


def _files(source: str | Path | Sequence[str | Path]) -> tuple[list[Path], bool]:
    """The candidate files, and whether they came from a folder (non-DICOM files skipped)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not files:
                raise BadInputError(str(path), "folder holds no files")
            return files, True
        if not path.is_file():
            raise BadInputError(str(path), "no such file or folder")
        return [path], False
    files = [Path(p) for p in source]
    if not files:
        raise BadInputError("files", "no files given")
    return files, False


def _read_header(path: Path, *, from_folder: bool) -> Dataset | None:
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    try:
        return dcmread(path, stop_before_pixels=True)
    except InvalidDicomError as error:
        if from_folder:
            return None
        raise BadInputError(str(path), f"not a DICOM file ({error})") from error
    except Exception as error:  # truncated or corrupt: pydicom raises several kinds
        raise BadInputError(str(path), f"cannot be read as DICOM ({error})") from error


def _series(
    source: str | Path | Sequence[str | Path], series_uid: str | None
) -> list[tuple[Path, Dataset]]:
    files, from_folder = _files(source)
    groups: dict[str, list[tuple[Path, Dataset]]] = {}
    descriptions: dict[str, str] = {}
    for path in files:
        header = _read_header(path, from_folder=from_folder)
        if header is None:
            continue
        uid = header.get("SeriesInstanceUID")
        if not uid:
            raise BadInputError(f"{path}: SeriesInstanceUID", "missing")
        groups.setdefault(str(uid), []).append((path, header))
        descriptions.setdefault(
            str(uid), f"{header.get('Modality', '?')} {header.get('SeriesDescription', '')}".strip()
        )
    if not groups:
        raise BadInputError(str(source), "no DICOM files found")
    if series_uid is not None:
        if series_uid not in groups:
            raise BadInputError("series_uid", f"{series_uid} is not among {sorted(groups)}")
        members = groups[series_uid]
    elif len(groups) > 1:
        listing = "; ".join(f"{uid} ({descriptions[uid]})" for uid in sorted(groups))
        where = str(source) if isinstance(source, (str, Path)) else "files"
        raise BadInputError(
            where,
            f"{len(groups)} series found, one is read at a time (a folder of one series, or "
            f"series_uid): {listing}",
        )
    else:
        members = next(iter(groups.values()))
    _check_series_wide(members)
    return members


#: Attributes of a whole series that the readers take from one of its files (units, decay
#: convention, corrections, weight, times, the administration): every file must state the
#: same, or the first file's value would silently stand for the others.
SERIES_WIDE: tuple[str, ...] = (
    "Modality",
    "PatientID",
    "FrameOfReferenceUID",
    "Units",
    "DecayCorrection",
    "CorrectedImage",
    "PatientWeight",
    "SeriesDate",
    "SeriesTime",
    "DecayCorrectionDateTime",
    "TimezoneOffsetFromUTC",
)
#: The same for the first Radiopharmaceutical Information item.
RADIOPHARMACEUTICAL_WIDE: tuple[str, ...] = (
    "Radiopharmaceutical",
    "RadionuclideTotalDose",
    "RadiopharmaceuticalStartDateTime",
    "RadiopharmaceuticalStartTime",
    "RadionuclideHalfLife",
)


def _comparable(value: Any) -> Any:
    """A tag's value in a form where equal meanings compare equal: numbers as floats
    ("80" and "80.0"), text stripped and upper-cased, several values as a sorted tuple;
    None for absent or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return tuple(sorted(str(_comparable(v)) for v in value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text.upper() or None
    # NaN is not equal to itself: compared as text, so that the value check names it
    return number if math.isfinite(number) else str(number).upper()


def _series_wide_values(dataset: Dataset) -> dict[str, Any]:
    values = {keyword: _comparable(dataset.get(keyword)) for keyword in SERIES_WIDE}
    sequence = dataset.get("RadiopharmaceuticalInformationSequence")
    item = sequence[0] if sequence else None
    for keyword in RADIOPHARMACEUTICAL_WIDE:
        name = f"RadiopharmaceuticalInformationSequence[0].{keyword}"
        values[name] = None if item is None else _comparable(item.get(keyword))
    if item is not None:
        codes = item.get("RadionuclideCodeSequence") or []
        values["RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence"] = tuple(
            _comparable(code.get("CodeMeaning")) for code in codes
        )
    return values


def _check_series_wide(members: list[tuple[Path, Dataset]]) -> None:
    """Refuse a series whose files disagree on an attribute of :data:`SERIES_WIDE` (or of
    the administration), naming the attribute and two files that differ."""
    if len(members) < 2:
        return
    first_path, first = members[0]
    reference = _series_wide_values(first)
    for path, dataset in members[1:]:
        values = _series_wide_values(dataset)
        for keyword, value in values.items():
            if value != reference.get(keyword):
                raise BadInputError(
                    f"{path}: {keyword}",
                    f"{value!r} differs from {reference.get(keyword)!r} in {first_path}, of the "
                    "same series: one value is read for the whole series",
                )


def _full(path: Path) -> Dataset:
    from pydicom import dcmread

    try:
        dataset = dcmread(path)
    except Exception as error:
        raise BadInputError(str(path), f"cannot be read as DICOM ({error})") from error
    if "PixelData" not in dataset:
        for keyword in ("FloatPixelData", "DoubleFloatPixelData"):
            if keyword in dataset:
                raise BadInputError(
                    f"{path}: {keyword}",
                    "floating-point pixels are not read: integer Pixel Data with Rescale "
                    "Slope/Intercept or a Real World Value Mapping is",
                )
        raise BadInputError(f"{path}: PixelData", "missing (no image in this file)")
    return dataset


def _pixels(dataset: Dataset, path: Path) -> NDArray[np.float64]:
    import warnings

    try:
        with warnings.catch_warnings():
            # pydicom warns (on stderr) about a Number of Frames that disagrees with the
            # pixel data; the shape is checked against Number of Frames by the caller.
            warnings.simplefilter("ignore")
            array = np.asarray(dataset.pixel_array, dtype=np.float64)
    except Exception as error:  # short pixel data, unsupported transfer syntax, …
        raise BadInputError(f"{path}: PixelData", f"cannot be decoded ({error})") from error
    return array


def _number(value: Any, field: str, *, positive: bool = False) -> float:
    """A DICOM number (DS, IS, US, …) as a finite float; refused when it is not one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInputError(field, f"{value!r} is not a number") from None
    if not math.isfinite(number) or (positive and number <= 0):
        raise BadInputError(field, f"{value!r} must be {'positive' if positive else 'finite'}")
    return number


# ------------------------------------------------------------------------ helpers


def _numbers(dataset: Dataset, keyword: str, count: int, label: str) -> NDArray[np.float64]:
    value = dataset.get(keyword)
    if value is None:
        raise BadInputError(f"{label}: {keyword}", "missing")
    try:
        numbers = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BadInputError(f"{label}: {keyword}", f"{value!r} is not numeric") from error
    if numbers.shape != (count,) or not np.all(np.isfinite(numbers)):
        raise BadInputError(f"{label}: {keyword}", f"{value!r} is not {count} finite numbers")
    return numbers


def _orientation(dataset: Dataset, label: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    iop = _numbers(dataset, "ImageOrientationPatient", 6, label)
    row_dir, col_dir = iop[:3], iop[3:]
    if (
        abs(np.linalg.norm(row_dir) - 1) > 1e-3
        or abs(np.linalg.norm(col_dir) - 1) > 1e-3
        or abs(float(row_dir @ col_dir)) > 1e-3
    ):
        raise BadInputError(
            f"{label}: ImageOrientationPatient", f"{iop.tolist()} is not orthonormal"
        )
    # Re-orthonormalise the rounding of the decimal strings (DS holds 16 characters).
    row_dir = row_dir / np.linalg.norm(row_dir)
    col_dir = col_dir - (col_dir @ row_dir) * row_dir
    return row_dir, col_dir / np.linalg.norm(col_dir)


def _pixel_spacing(dataset: Dataset, label: str) -> tuple[float, float]:
    spacing = _numbers(dataset, "PixelSpacing", 2, label)
    if np.any(spacing <= 0):
        raise BadInputError(f"{label}: PixelSpacing", f"{list(spacing)} must be positive")
    return float(spacing[0]), float(spacing[1])


def _rescale(
    dataset: Dataset, label: str, *, positive: bool, required: bool = False
) -> tuple[float, float]:
    """Rescale Slope and Intercept; a slope that is 0, not finite or (``positive``) negative
    is refused: it would turn every voxel into the same, a NaN or a negative activity (or
    CT numbers upside down). ``required``: both must be present (CT Image Module, Type 1:
    without them stored values are not HU)."""
    raw_slope, raw_intercept = dataset.get("RescaleSlope"), dataset.get("RescaleIntercept")
    if required:
        for keyword, raw in (("RescaleSlope", raw_slope), ("RescaleIntercept", raw_intercept)):
            if raw in (None, ""):
                raise BadInputError(f"{label}: {keyword}", "missing (needed for CT numbers)")
    slope = 1.0 if raw_slope in (None, "") else _number(raw_slope, f"{label}: RescaleSlope")
    intercept = (
        0.0 if raw_intercept in (None, "") else _number(raw_intercept, f"{label}: RescaleIntercept")
    )
    if slope == 0 or (positive and slope < 0):
        wanted = "positive" if positive else "non-zero"
        raise BadInputError(f"{label}: RescaleSlope", f"{raw_slope!r} must be {wanted}")
    return slope, intercept


def _rwvm_bqml(dataset: Dataset, label: str) -> tuple[float, float] | None:
    """(slope, intercept) of a Real World Value Mapping in Bq/mL, if the dataset has one."""
    for item in dataset.get("RealWorldValueMappingSequence", []):
        units = item.get("MeasurementUnitsCodeSequence", [])
        code = str(units[0].get("CodeValue", "")) if units else ""
        if code.lower() != "bq/ml":
            continue
        if "RealWorldValueSlope" not in item:
            raise BadInputError(
                f"{label}: RealWorldValueMappingSequence",
                "Bq/mL mapping without RealWorldValueSlope (LUT mappings are not supported)",
            )
        where = f"{label}: RealWorldValueMappingSequence"
        slope = _number(item.RealWorldValueSlope, f"{where}.RealWorldValueSlope", positive=True)
        intercept = _number(
            item.get("RealWorldValueIntercept", 0.0), f"{where}.RealWorldValueIntercept"
        )
        return slope, intercept
    return None


def _functional(dataset: Dataset, frame: int, sequence: str) -> Dataset | None:
    """Item of a functional-group macro for one frame: per-frame first, else shared."""
    for groups in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        items = dataset.get(groups)
        if not items:
            continue
        item = items[frame] if groups.startswith("PerFrame") else items[0]
        if sequence in item and item[sequence].value:
            result: Dataset = item[sequence].value[0]
            return result
    return None


# -------------------------------------------------------------------------- planes


def _planes(path: Path, dataset: Dataset, use_rwvm: bool) -> list[_Plane]:
    pixels = _pixels(dataset, path)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames == 1 and pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    if pixels.ndim != 3 or pixels.shape[0] != frames:
        raise BadInputError(f"{path}: PixelData", f"shape {pixels.shape} for {frames} frames")
    label = str(path)
    if "PerFrameFunctionalGroupsSequence" in dataset:
        planes = []
        for f in range(frames):
            frame_label = f"{label} frame {f + 1}"
            position_item = _functional(dataset, f, "PlanePositionSequence")
            orientation_item = _functional(dataset, f, "PlaneOrientationSequence")
            measures = _functional(dataset, f, "PixelMeasuresSequence")
            if position_item is None or orientation_item is None or measures is None:
                raise BadInputError(
                    f"{frame_label}: PlanePositionSequence/PlaneOrientationSequence/"
                    "PixelMeasuresSequence",
                    "missing",
                )
            transform = _functional(dataset, f, "PixelValueTransformationSequence")
            mapping = _functional(dataset, f, "RealWorldValueMappingSequence")
            slope, intercept = (
                _rescale(transform, frame_label, positive=True, required=not use_rwvm)
                if transform is not None
                else (1.0, 0.0)
            )
            if use_rwvm:
                holder = dataset if mapping is None else _wrap_rwvm(dataset, f)
                rwvm = _rwvm_bqml(holder, frame_label)
                if rwvm is not None:
                    slope, intercept = rwvm
            row_dir, col_dir = _orientation(orientation_item, frame_label)
            planes.append(
                _Plane(
                    position=_numbers(position_item, "ImagePositionPatient", 3, frame_label),
                    row_dir=row_dir,
                    col_dir=col_dir,
                    spacing_ji=_pixel_spacing(measures, frame_label),
                    values=pixels[f] * slope + intercept,
                    label=frame_label,
                )
            )
        return planes
    slope, intercept = _rescale(dataset, label, positive=True, required=not use_rwvm)
    if use_rwvm:
        rwvm = _rwvm_bqml(dataset, label)
        if rwvm is not None:
            slope, intercept = rwvm
    spacing = _pixel_spacing(dataset, label)
    if frames == 1 and "ImagePositionPatient" in dataset:
        row_dir, col_dir = _orientation(dataset, label)
        position = _numbers(dataset, "ImagePositionPatient", 3, label)
        return [_Plane(position, row_dir, col_dir, spacing, pixels[0] * slope + intercept, label)]
    # NM multi-frame: geometry of the volume in Detector Information Sequence (PS3.3 C.8.4.10).
    detectors = dataset.get("DetectorInformationSequence")
    holder = detectors[0] if detectors else dataset
    if "ImagePositionPatient" not in holder:
        raise BadInputError(
            f"{label}: DetectorInformationSequence[0].ImagePositionPatient",
            "missing (cannot place the frames in space)",
        )
    row_dir, col_dir = _orientation(holder, f"{label}: DetectorInformationSequence[0]")
    first = _numbers(holder, "ImagePositionPatient", 3, f"{label}: DetectorInformationSequence[0]")
    if frames > 1:
        if "SpacingBetweenSlices" not in dataset:
            raise BadInputError(f"{label}: SpacingBetweenSlices", "missing for a multi-frame image")
        gap = _number(dataset.SpacingBetweenSlices, f"{label}: SpacingBetweenSlices")
        if not gap > 0:
            raise BadInputError(
                f"{label}: SpacingBetweenSlices", f"{gap!r} must be positive (sign is ambiguous)"
            )
    else:
        gap = 0.0
    slice_numbers = list(range(1, frames + 1))
    if "SliceVector" in dataset:
        slice_numbers = [int(n) for n in dataset.SliceVector]
        if sorted(slice_numbers) != list(range(1, frames + 1)):
            raise BadInputError(
                f"{label}: SliceVector", f"is not a permutation of 1..{frames}: {slice_numbers}"
            )
    normal = np.cross(row_dir, col_dir)
    return [
        _Plane(
            position=first + (slice_numbers[f] - 1) * gap * normal,
            row_dir=row_dir,
            col_dir=col_dir,
            spacing_ji=spacing,
            values=pixels[f] * slope + intercept,
            label=f"{label} frame {f + 1}",
        )
        for f in range(frames)
    ]


def _wrap_rwvm(dataset: Dataset, frame: int) -> Dataset:
    """A dataset holding the frame's RealWorldValueMappingSequence (for :func:`_rwvm_bqml`)."""
    from pydicom.dataset import Dataset as PydicomDataset

    holder = PydicomDataset()
    for groups in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        items = dataset.get(groups)
        if not items:
            continue
        item = items[frame] if groups.startswith("PerFrame") else items[0]
        if "RealWorldValueMappingSequence" in item:
            holder.RealWorldValueMappingSequence = item.RealWorldValueMappingSequence
            return holder
    return holder


def _stack(
    planes: list[_Plane], frame_of_reference_uid: str | None, label: str = "series"
) -> tuple[Grid, NDArray[Any]]:
    """Sort planes along the normal, check they form a regular grid, and stack them."""
    reference = planes[0]
    normal = np.cross(reference.row_dir, reference.col_dir)
    for plane in planes[1:]:
        if (
            np.max(np.abs(plane.row_dir - reference.row_dir)) > 1e-4
            or np.max(np.abs(plane.col_dir - reference.col_dir)) > 1e-4
        ):
            raise BadInputError(
                f"{plane.label}: ImageOrientationPatient", "differs from the other planes"
            )
        if plane.values.shape != reference.values.shape:
            raise BadInputError(f"{plane.label}: Rows/Columns", "differ from the other planes")
        if not np.allclose(plane.spacing_ji, reference.spacing_ji, rtol=1e-5):
            raise BadInputError(f"{plane.label}: PixelSpacing", "differs from the other planes")
    ordered = sorted(planes, key=lambda p: float(p.position @ normal))
    heights = np.array([float(p.position @ normal) for p in ordered])
    if len(ordered) > 1:
        gaps = np.diff(heights)
        gap = float(np.mean(gaps))
        if np.min(gaps) <= 1e-6 * max(1.0, abs(gap)):
            raise BadInputError(
                f"{label}: ImagePositionPatient",
                "two planes at the same position (duplicate slices?)",
            )
        if np.max(np.abs(gaps - gap)) > SLICE_GAP_TOL * gap:
            raise BadInputError(
                f"{label}: ImagePositionPatient",
                f"planes are unevenly spaced ({np.min(gaps):.3f}–{np.max(gaps):.3f} mm): "
                "missing slices?",
            )
        # Planes must lie on one line along the normal (no in-plane drift: that is a tilt).
        drift = [
            p.position - ordered[0].position - (h - heights[0]) * normal
            for p, h in zip(ordered, heights, strict=True)
        ]
        if max(float(np.linalg.norm(d)) for d in drift) > 0.01 * gap + 1e-3:
            raise BadInputError(
                f"{label}: ImagePositionPatient",
                "planes are not stacked along their normal (gantry tilt?)",
            )
    else:
        gap = float(reference.spacing_ji[0])  # one plane: nominal thickness, no better value
    direction = np.column_stack([reference.row_dir, reference.col_dir, normal])
    grid = Grid(
        shape=(len(ordered), *reference.values.shape),
        spacing_mm=(reference.spacing_ji[1], reference.spacing_ji[0], gap),
        origin_mm=tuple(float(v) for v in ordered[0].position),  # type: ignore[arg-type]
        direction=tuple(float(v) for v in direction.reshape(-1)),
        frame_of_reference_uid=frame_of_reference_uid,
    )
    return grid, np.stack([p.values for p in ordered])


# --------------------------------------------------------------------------- times


def fixed_utc_offset(sign: str, hours: int, minutes: int, *, field: str, text: str) -> tzinfo:
    """The time zone UTC ``sign`` hours:minutes, refused beyond ±14:00 or with minutes ≥ 60
    (DICOM allows −12:00 to +14:00; ``text`` is what was given, for the error)."""
    offset = timedelta(hours=hours, minutes=minutes)
    if minutes >= 60 or offset > MAX_UTC_OFFSET:
        raise BadInputError(field, f"{text!r} is not a UTC offset (at most ±14:00)")
    return dt_timezone(-offset if sign == "-" else offset)


def _offset(dataset: Dataset, label: str, timezone: tzinfo | None) -> tuple[tzinfo | None, str]:
    raw = dataset.get("TimezoneOffsetFromUTC")
    if raw:
        match = re.fullmatch(r"([+-])(\d{2})(\d{2})", str(raw).strip())
        if not match:
            raise BadInputError(f"{label}: TimezoneOffsetFromUTC", f"{raw!r} is not ±HHMM")
        zone = fixed_utc_offset(
            match.group(1), int(match.group(2)), int(match.group(3)),
            field=f"{label}: TimezoneOffsetFromUTC", text=str(raw),
        )  # fmt: skip
        return zone, f"TimezoneOffsetFromUTC {raw}"
    if timezone is not None:
        return timezone, f"{USER_TIMEZONE_SOURCE} ({timezone})"
    return None, ""


#: A TM value precise to the minute or better (PS3.5 Table 6.2-1 allows an hour alone).
_TIME_TO_THE_MINUTE = re.compile(r"\d{4}(\d{2}(\.\d{1,6})?)?")

#: A DT value precise to the minute or better (PS3.5 Table 6.2-1 allows a year alone).
_DATETIME_TO_THE_MINUTE = re.compile(r"\d{12}(\d{2}(\.\d{1,6})?)?([+-]\d{4})?")


def _datetime(
    dataset: Dataset,
    date_keyword: str,
    time_keyword: str,
    label: str,
    timezone: tzinfo | None,
    *,
    datetime_keyword: str | None = None,
    zone_label: str | None = None,
) -> tuple[datetime, str]:
    """An aware datetime from a DT tag (with or without offset) or a DA + TM pair;
    ``zone_label`` names the dataset whose TimezoneOffsetFromUTC applies, where the date
    and time are in a sequence item (default ``label``)."""
    from pydicom.valuerep import DA, DT, TM

    zone_label = zone_label or label
    zone, zone_source = _offset(dataset, zone_label, timezone)
    if datetime_keyword and dataset.get(datetime_keyword):
        text = str(dataset.get(datetime_keyword)).strip()
        if not _DATETIME_TO_THE_MINUTE.fullmatch(text):
            short = re.fullmatch(r"\d{4}(\d{2}(\d{2}(\d{2})?)?)?([+-]\d{4})?", text)
            raise BadInputError(
                f"{label}: {datetime_keyword}",
                f"{text!r} is not a date and time to the minute at least "
                "(YYYYMMDDHHMM[SS[.FFFFFF]][±HHMM])"
                + (": what is missing would be read as the start of the day" if short else ""),
            )
        try:
            parsed = DT(text)
        except ValueError as error:
            raise BadInputError(f"{label}: {datetime_keyword}", str(error)) from error
        moment = datetime.combine(parsed.date(), parsed.timetz())  # a plain datetime
        used = datetime_keyword
    else:
        raw_date, raw_time = dataset.get(date_keyword), dataset.get(time_keyword)
        if not raw_date or not raw_time:
            missing = date_keyword if not raw_date else time_keyword
            raise BadInputError(f"{label}: {missing}", "missing")
        if not _TIME_TO_THE_MINUTE.fullmatch(str(raw_time).strip()):
            raise BadInputError(
                f"{label}: {time_keyword}",
                f"{str(raw_time).strip()!r} is not a time to the minute at least "
                "(HHMM[SS[.FFFFFF]]): an hour alone would be read as on the hour",
            )
        try:
            day: date = DA(str(raw_date))
            clock: time = TM(str(raw_time))
        except ValueError as error:
            raise BadInputError(f"{label}: {date_keyword}/{time_keyword}", str(error)) from error
        moment = datetime.combine(day, clock.replace(tzinfo=None))
        used = f"{date_keyword}/{time_keyword}"
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        return moment, f"{used} (offset in the value)"
    if zone is None:
        raise BadInputError(
            f"{zone_label}: TimezoneOffsetFromUTC",
            f"missing, so {used} has no time zone; give the scanner's time zone "
            "(--timezone ±HH:MM)",
        )
    # A ZoneInfo resolves the offset in force at that local time (fold=0 at a DST change).
    return moment.replace(tzinfo=zone), f"{used} + {zone_source}"


# ------------------------------------------------------------------------ injection


def _nuclide_from(item: Dataset) -> str | None:
    codes = item.get("RadionuclideCodeSequence", [])
    texts = [str(code.get("CodeMeaning", "")) for code in codes]
    for text in texts:
        cleaned = text.replace("^", " ").strip().lower()
        match = re.search(r"(\d+)\s*([a-z]+)", cleaned) or None
        if match:
            mass, name = match.group(1), match.group(2)
        else:
            match = re.search(r"([a-z]+)[\s-]*(\d+)", cleaned)
            if not match:
                continue
            name, mass = match.group(1), match.group(2)
        symbol = _ELEMENTS.get(name)
        if symbol is None and name.capitalize() in _ELEMENTS.values():
            symbol = name.capitalize()
        if symbol is not None:
            metastable = "m" if re.search(rf"{mass}\s*m\b", cleaned) else ""
            return f"{symbol}-{mass}{metastable}"
    return None


def injection_from_dataset(dataset: Dataset, *, label: str, timezone: tzinfo | None) -> Injection:
    """The :class:`Injection` stated by one dataset's RadiopharmaceuticalInformationSequence."""
    sequence = dataset.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        raise BadInputError(f"{label}: RadiopharmaceuticalInformationSequence", "missing")
    item = sequence[0]
    where = f"{label}: RadiopharmaceuticalInformationSequence[0]"
    total = item.get("RadionuclideTotalDose")
    if total is None or total == "":
        raise BadInputError(f"{where}.RadionuclideTotalDose", "missing")
    modality = str(dataset.get("Modality", ""))
    if modality not in TOTAL_DOSE_UNITS:
        raise BadInputError(
            f"{label}: Modality",
            f"{modality or 'absent'}: the unit of RadionuclideTotalDose depends on it "
            "(NM: MBq, PT: Bq)",
        )
    unit, bq_per_unit, section = TOTAL_DOSE_UNITS[modality]
    stated = _number(total, f"{where}.RadionuclideTotalDose", positive=True)
    activity_bq = stated * bq_per_unit
    low, high = INJECTED_ACTIVITY_RANGE_MBQ
    unit_note: str | None = None
    if not low <= activity_bq / 1e6 <= high:
        # The other unit of the two, where only it gives an administration: the ranges in
        # MBq and in Bq (1–5e4 and 1e6–5e10) do not overlap, so no value reads both ways.
        other_unit, other_bq = ("Bq", 1.0) if unit == "MBq" else ("MBq", 1e6)
        if low <= stated * other_bq / 1e6 <= high:
            unit_note = (
                f"RadionuclideTotalDose {stated:g} read in {other_unit}, not in {unit} as "
                f"{section} states for {modality}: in {unit} it would be "
                f"{activity_bq / 1e6:.4g} MBq, outside {low:g}–{high:g} MBq for any "
                "administration (check the administered activity)"
            )
            unit, activity_bq = other_unit, stated * other_bq
        else:
            raise BadInputError(
                f"{where}.RadionuclideTotalDose",
                f"{stated:g} {unit} (the unit for {modality}, {section})"
                + ("" if unit == "MBq" else f", {activity_bq / 1e6:.4g} MBq,")
                + f" is outside {low:g}–{high:g} MBq for an administration, in Bq and in MBq",
            )
    said = () if unit_note is None else (unit_note,)
    notes = list(said)
    if item.get("RadiopharmaceuticalStartDateTime"):
        holder = item.copy()
        holder.TimezoneOffsetFromUTC = dataset.get("TimezoneOffsetFromUTC")
        at, how = _datetime(
            holder, "", "", where, timezone,
            datetime_keyword="RadiopharmaceuticalStartDateTime", zone_label=label,
        )  # fmt: skip
    elif item.get("RadiopharmaceuticalStartTime") and dataset.get("Modality") == "PT":
        # PET practice (QIBA): the injection is on the series date. Said in the source.
        holder = item.copy()
        holder.TimezoneOffsetFromUTC = dataset.get("TimezoneOffsetFromUTC")
        holder.SeriesDate = dataset.get("SeriesDate")
        at, how = _datetime(
            holder, "SeriesDate", "RadiopharmaceuticalStartTime", where, timezone,
            zone_label=label,
        )  # fmt: skip
        notes.append("date taken from SeriesDate (only RadiopharmaceuticalStartTime given)")
    else:
        raise BadInputError(f"{where}.RadiopharmaceuticalStartDateTime", "missing")
    half_life_h: float | None = None
    if item.get("RadionuclideHalfLife") not in (None, ""):
        seconds = _number(item.RadionuclideHalfLife, f"{where}.RadionuclideHalfLife", positive=True)
        half_life_h = seconds / 3600.0
    nuclide = _nuclide_from(item)
    source = (
        f"{label}: RadionuclideTotalDose {stated:.6g} {unit} ({modality}, {section}) at "
        f"{at.isoformat()} ({how})"
        + (f"; RadionuclideHalfLife {half_life_h * 3600:.6g} s" if half_life_h else "")
        + (f"; nuclide {nuclide} from RadionuclideCodeSequence" if nuclide else "")
        + ("; " + "; ".join(notes) if notes else "")
    )
    return Injection(activity_bq, at, nuclide, source, half_life_h, said)


def read_injection(
    source: str | Path | Sequence[str | Path],
    *,
    timezone: tzinfo | None = None,
    series_uid: str | None = None,
) -> Injection:
    """The administration stated in a series' RadiopharmaceuticalInformationSequence."""
    path, header = _series(source, series_uid)[0]
    return injection_from_dataset(header, label=str(path), timezone=timezone)


def read_modality(
    source: str | Path | Sequence[str | Path], *, series_uid: str | None = None
) -> str:
    """Modality (0008,0060) of a series' first file ('' when absent)."""
    return str(_series(source, series_uid)[0][1].get("Modality", ""))


def read_radiopharmaceutical(
    source: str | Path | Sequence[str | Path], *, series_uid: str | None = None
) -> str | None:
    """Radiopharmaceutical (0018,0031) of a series' first Radiopharmaceutical Information
    item (e.g. ``68Ga-PSMA-11``), or None when it is absent or empty."""
    header = _series(source, series_uid)[0][1]
    sequence = header.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        return None
    text = str(sequence[0].get("Radiopharmaceutical") or "").strip()
    return text or None


def read_patient_weight_kg(
    source: str | Path | Sequence[str | Path], *, series_uid: str | None = None
) -> float:
    """Patient Weight (0010,1030) of a series, in kg; refused when absent or not positive."""
    path, header = _series(source, series_uid)[0]
    raw = header.get("PatientWeight")
    if raw is None or raw == "":
        raise BadInputError(f"{path}: PatientWeight", "missing (needed for SUVbw)")
    return _number(raw, f"{path}: PatientWeight", positive=True)


def read_header(
    source: str | Path | Sequence[str | Path], *, series_uid: str | None = None
) -> Dataset:
    """The header (no pixel data) of a series' first file: patient, study and frame of
    reference for an object derived from the series (an RT Dose)."""
    return _series(source, series_uid)[0][1]


def read_patient_id(
    source: str | Path | Sequence[str | Path], *, series_uid: str | None = None
) -> str | None:
    """Patient ID (0010,0020) of a series, or None when it is absent or empty."""
    header = _series(source, series_uid)[0][1]
    text = str(header.get("PatientID") or "").strip()
    return text or None


def checked_half_life_h(injection: Injection) -> float:
    """Half-life of the injected nuclide (ICRP-107), cross-checked against the DICOM tag.

    Refuses an unknown nuclide, and a RadionuclideHalfLife that differs from
    ICRP-107 by more than :data:`HALF_LIFE_TOL` (a wrong nuclide or unit).
    """
    from lutetia.nuclides import nuclide

    if injection.nuclide is None:
        raise BadInputError(
            "RadionuclideCodeSequence", "radionuclide not recognised; cannot check the half-life"
        )
    reference_h = nuclide(injection.nuclide).half_life_h
    if injection.half_life_h is not None:
        deviation = abs(injection.half_life_h - reference_h) / reference_h
        if deviation > HALF_LIFE_TOL:
            raise BadInputError(
                "RadionuclideHalfLife",
                f"{injection.half_life_h * 3600:.6g} s differs from ICRP-107 "
                f"{reference_h * 3600:.6g} s for {injection.nuclide} by {deviation:.1%}",
            )
    return reference_h


def half_life_note(injection: Injection) -> str | None:
    """What to say where a RadionuclideHalfLife tag differs from ICRP-107 by more than
    :data:`HALF_LIFE_NOTE_TOL` but is accepted (within :data:`HALF_LIFE_TOL`): ICRP-107 is
    used, and a decay computed with the file's value would differ. None otherwise."""
    from lutetia.nuclides import nuclide

    if injection.nuclide is None or injection.half_life_h is None:
        return None
    reference_h = nuclide(injection.nuclide).half_life_h
    deviation = (injection.half_life_h - reference_h) / reference_h
    if abs(deviation) <= HALF_LIFE_NOTE_TOL:
        return None
    return (
        f"RadionuclideHalfLife {injection.half_life_h * 3600:.6g} s in the file differs from "
        f"ICRP-107's {reference_h * 3600:.6g} s for {injection.nuclide} by {deviation:+.2%}: "
        "ICRP-107 used (decay factors computed with the file's value would differ)"
    )


# ----------------------------------------------------------------------- the reader


def _frame_duration_s(dataset: Dataset, label: str) -> tuple[float, str]:
    """The acquisition time the counts were collected over, from ActualFrameDuration or
    from the rotations; a value of 0 is refused as not positive, not taken for missing."""

    def given(holder: Dataset, keyword: str) -> bool:
        return holder.get(keyword) not in (None, "")

    if given(dataset, "ActualFrameDuration"):
        duration_ms = _number(
            dataset.ActualFrameDuration, f"{label}: ActualFrameDuration", positive=True
        )
        return duration_ms / 1000.0, "ActualFrameDuration"
    rotations = dataset.get("RotationInformationSequence")
    if rotations:
        total = 0.0
        where = f"{label}: RotationInformationSequence"
        for item in rotations:
            for keyword in ("ActualFrameDuration", "NumberOfFramesInRotation"):
                if not given(item, keyword):
                    raise BadInputError(f"{where}.{keyword}", "missing")
            duration_ms = _number(
                item.ActualFrameDuration, f"{where}.ActualFrameDuration", positive=True
            )
            views = _number(
                item.NumberOfFramesInRotation, f"{where}.NumberOfFramesInRotation", positive=True
            )
            total += duration_ms / 1000.0 * views
        return total, "RotationInformationSequence ActualFrameDuration × NumberOfFramesInRotation"
    raise BadInputError(f"{label}: ActualFrameDuration", "missing (needed to turn counts into Bq)")


def _mean_decay(half_life_h: float, duration_s: float) -> float:
    """(1 − e^{−λT})/(λT): mean of the decay factor over a frame of duration T started at 0."""
    x = math.log(2) / half_life_h * duration_s / 3600.0
    return 1.0 if x == 0 else -math.expm1(-x) / x


def _acquisition_time(
    dataset: Dataset, modality: str, label: str, timezone: tzinfo | None
) -> tuple[datetime, str]:
    if modality == "PT":
        # PS3.3 C.8.9.1, PET Series Module: the decay reference time of a PET series.
        if dataset.get("DecayCorrectionDateTime"):
            return _datetime(
                dataset, "", "", label, timezone, datetime_keyword="DecayCorrectionDateTime"
            )
        return _datetime(dataset, "SeriesDate", "SeriesTime", label, timezone)
    return _datetime(
        dataset,
        "AcquisitionDate",
        "AcquisitionTime",
        label,
        timezone,
        datetime_keyword="AcquisitionDateTime",
    )


def _pet_reference_time(
    datasets: list[tuple[Path, Dataset]], label: str, timezone: tzinfo | None
) -> tuple[datetime, str]:
    """The decay reference of a PET series: DecayCorrectionDateTime where given, else the
    series date and time (PS3.3 C.8.9.1), except where that is later than the earliest
    acquisition start of the series: a series re-created after the scan (the QIBA
    vendor-neutral SUV rule, QIBA FDG-PET/CT Profile, Appendix G), whose acquisition is the
    reference; the earliest AcquisitionDate/Time is used then, and said."""
    first = datasets[0][1]
    at, source = _acquisition_time(first, "PT", label, timezone)
    if first.get("DecayCorrectionDateTime"):
        return at, source
    starts = []
    for path, dataset in datasets:
        if not (dataset.get("AcquisitionDate") and dataset.get("AcquisitionTime")) and not (
            dataset.get("AcquisitionDateTime")
        ):
            return at, source  # an acquisition time is not known: the series time stands
        starts.append(
            _datetime(
                dataset, "AcquisitionDate", "AcquisitionTime", str(path), timezone,
                datetime_keyword="AcquisitionDateTime",
            )[0]
        )  # fmt: skip
    earliest = min(starts)
    if at <= earliest:
        return at, source
    return earliest, (
        f"earliest AcquisitionDate/Time: the series time {at.isoformat()} ({source}) is "
        f"{(at - earliest).total_seconds():.0f} s after the acquisition started "
        "(a series re-created after the scan; QIBA SUV rule)"
    )


def _check_pet_corrections(dataset: Dataset, label: str, correction: str) -> None:
    """A PET's CorrectedImage (0028,0051) must say attenuation corrected (ATTN), and decay
    corrected (DECY) exactly when DecayCorrection says START or ADMIN (QIBA vendor-neutral
    SUV rule): a PET without ATTN is not quantitative, and DECY against DecayCorrection
    contradicts itself."""
    raw = dataset.get("CorrectedImage")
    corrected = (
        set()
        if not raw
        else {str(raw).strip().upper()}
        if isinstance(raw, str)
        else {str(v).strip().upper() for v in raw}
    )
    stated = "/".join(sorted(corrected)) or "absent"
    if "ATTN" not in corrected:
        raise BadInputError(
            f"{label}: CorrectedImage",
            f"{stated}: no ATTN, so not known to be attenuation corrected (not quantitative)",
        )
    if correction in {"START", "ADMIN"} and "DECY" not in corrected:
        raise BadInputError(
            f"{label}: CorrectedImage",
            f"{stated}: no DECY, yet DecayCorrection is {correction}",
        )
    if correction in {"NONE", ""} and "DECY" in corrected:
        raise BadInputError(
            f"{label}: DecayCorrection",
            f"{correction or 'absent'}, yet CorrectedImage says DECY (decay corrected)",
        )


def _check_emission_values(
    values: NDArray[np.float64], grid: Grid, label: str, unit: str, quantity: Quantity
) -> None:
    """Refuse an emission image that no activity can give: negative beyond reconstruction
    noise (a voxel below −:data:`NEGATIVE_FRACTION` of the maximum, or no positive voxel),
    or holding more than :data:`~lutetia.dosimetry.plausibility.MAX_ACTIVITY_MBQ` in all
    (a Rescale Slope or calibration in the wrong unit)."""
    if values.size == 0:
        return
    peak, low = float(np.max(values)), float(np.min(values))
    if low < 0 and (peak <= 0 or low < -NEGATIVE_FRACTION * peak):
        raise BadInputError(
            f"{label}: PixelData",
            f"values down to {low:.4g} {unit} against a maximum of {peak:.4g} {unit}: an "
            f"emission image is not negative beyond noise (−{NEGATIVE_FRACTION:.0%} of the "
            "maximum): check Rescale Intercept and Pixel Representation; a filtered "
            "back-projection is not quantitative, reconstruct iteratively (OSEM)",
        )
    if quantity == "activity_concentration":
        total_mbq = float(np.sum(values, dtype=np.float64)) * grid.voxel_volume_ml / 1e6
        if total_mbq > MAX_ACTIVITY_MBQ:
            raise BadInputError(
                f"{label}: PixelData",
                f"the image holds {total_mbq:.4g} MBq, more than any administration "
                f"({MAX_ACTIVITY_MBQ:g} MBq): Rescale Slope or the calibration in another unit?",
            )


def read_series(
    source: str | Path | Sequence[str | Path],
    *,
    calibration_cps_per_mbq: float | None = None,
    timezone: tzinfo | None = None,
    series_uid: str | None = None,
    modalities: tuple[str, ...] = ("NM", "PT", "CT"),
) -> Volume:
    """Read one DICOM NM, PT or CT series (a folder or files) into a :class:`Volume`.

    ``modalities``: the ones the caller expects; another is refused, naming the
    Modality, before anything else is read (a SPECT given where a CT belongs).

    NM/PT give ``activity_concentration`` in Bq/mL at the start of
    acquisition (see the module docstring for the order of the quantification
    paths and the decay convention); a PT series with Units GML gives
    ``suv_bw``; CT gives ``ct_number`` in HU. ``calibration_cps_per_mbq`` is
    the system's volume sensitivity, reconstructed counts per second of
    acquisition time per MBq, used only when the files carry no Bq/mL scale.
    """
    if calibration_cps_per_mbq is not None and not (
        math.isfinite(calibration_cps_per_mbq) and calibration_cps_per_mbq > 0
    ):
        raise BadInputError(
            "calibration_cps_per_mbq", f"{calibration_cps_per_mbq!r} must be positive"
        )
    low, high = CALIBRATION_RANGE_CPS_PER_MBQ
    if calibration_cps_per_mbq is not None and not low <= calibration_cps_per_mbq <= high:
        raise BadInputError(
            "calibration_cps_per_mbq",
            f"{calibration_cps_per_mbq:g} cps/MBq is outside {low:g}–{high:g} (a unit slip?)",
        )
    members = _series(source, series_uid)
    first_path, first = members[0]
    label = str(first_path) if len(members) == 1 else f"{first_path.parent} (series)"
    modality = str(first.get("Modality", ""))
    if modality not in {"NM", "PT", "CT"}:
        raise BadInputError(f"{first_path}: Modality", f"{modality!r} is not NM, PT or CT")
    if modality not in modalities:
        raise BadInputError(
            f"{first_path}: Modality", f"{modality!r} where {' or '.join(modalities)} is expected"
        )
    units = str(first.get("Units", "")).upper()
    rwvm_present = False
    datasets = [(path, _full(path)) for path, _ in members]
    planes: list[_Plane] = []
    for path, dataset in datasets:
        if str(dataset.get("Modality", "")) != modality:
            raise BadInputError(f"{path}: Modality", "differs within the series")
        holder_rwvm = _rwvm_bqml(dataset, str(path)) is not None or (
            "SharedFunctionalGroupsSequence" in dataset
            and _rwvm_bqml(_wrap_rwvm(dataset, 0), str(path)) is not None
        )
        rwvm_present = rwvm_present or holder_rwvm
        planes.extend(_planes(path, dataset, use_rwvm=modality != "CT"))
    frame_uid = first.get("FrameOfReferenceUID")
    grid, values = _stack(planes, str(frame_uid) if frame_uid else None, label)
    reading = f"{len(datasets)} file(s), {len(planes)} plane(s), modality {modality}"

    if modality == "CT":
        try:
            acquired: datetime | None = _acquisition_time(first, modality, label, timezone)[0]
            time_note = "acquisition time from AcquisitionDate/Time"
        except BadInputError as error:
            acquired, time_note = None, f"acquisition time unknown ({error.reason})"
        return Volume(
            grid, values, "ct_number", "HU", acquired,
            f"{reading}; HU = stored × RescaleSlope + RescaleIntercept; {time_note}",
        )  # fmt: skip

    if modality == "PT":
        acquired_at, time_source = _pet_reference_time(datasets, label, timezone)
    else:
        acquired_at, time_source = _acquisition_time(first, modality, label, timezone)
    correction = str(first.get("DecayCorrection", "NONE" if modality == "NM" else "")).upper()
    # What the file says, for the notes: an NM image without DecayCorrection (a PET
    # attribute, PS3.3 C.8.9.1) is read as not decay corrected, an assumption said as such.
    stated = (
        correction
        if first.get("DecayCorrection")
        else ("absent, read as NONE for an NM image" if modality == "NM" else "absent")
    )
    if correction not in {"", "NONE", "START", "ADMIN"}:
        raise BadInputError(f"{label}: DecayCorrection", f"{correction!r} is not NONE/START/ADMIN")
    if modality == "PT":
        _check_pet_corrections(first, label, correction)
    quantity: Quantity = "activity_concentration"
    if rwvm_present:
        scale = "Real World Value Mapping (units Bq/mL)"
        kind = "bqml"
    elif units == "BQML":
        scale = "Units BQML, stored × RescaleSlope + RescaleIntercept"
        kind = "bqml"
    elif units == "GML" and modality == "PT":
        scale, kind, quantity = "Units GML (SUVbw computed by the scanner)", "suv", "suv_bw"
    elif units in {"", "CNTS"} and calibration_cps_per_mbq is not None:
        duration_s, duration_source = _frame_duration_s(first, label)
        if not duration_s > 0:
            raise BadInputError(f"{label}: ActualFrameDuration", "must be positive")
        values = values / duration_s / calibration_cps_per_mbq * 1e6 / grid.voxel_volume_ml
        scale = (
            f"counts / {duration_s:.6g} s ({duration_source}) / {calibration_cps_per_mbq:.6g} "
            f"cps/MBq ({USER_CALIBRATION_SOURCE}) / {grid.voxel_volume_ml:.6g} mL per voxel"
        )
        kind = "counts"
    elif units in {"", "CNTS"}:
        raise BadInputError(
            "calibration_cps_per_mbq",
            f"{label}: no Real World Value Mapping in Bq/mL and Units is "
            f"{units or 'absent'}: a calibration factor (cps/MBq) is needed",
        )
    else:
        raise BadInputError(f"{label}: Units", f"{units!r} is not BQML, CNTS or GML")

    decay_note = "values at acquisition start"
    if kind == "suv":
        decay_note = f"DecayCorrection {correction or 'absent'} (as the scanner computed SUV)"
    elif correction in {"NONE", ""}:
        # Decay is handled by DecayCorrection whatever the unit: counts corrected to the
        # acquisition start (START) or to the administration (ADMIN) are not divided again.
        if modality == "PT":
            # Not decay corrected: each plane refers to its own acquisition time (one per bed).
            starts = {
                (str(d.get("AcquisitionDate")), str(d.get("AcquisitionTime"))) for _, d in datasets
            }
            if len(starts) > 1:
                raise BadInputError(
                    f"{label}: AcquisitionTime",
                    f"DecayCorrection {correction or 'absent'} with {len(starts)} acquisition "
                    "times (several beds): per-bed decay is not supported",
                )
            acquired_at, time_source = _datetime(
                first, "AcquisitionDate", "AcquisitionTime", label, timezone
            )
        injection = injection_from_dataset(first, label=label, timezone=timezone)
        half_life_h = checked_half_life_h(injection)
        duration_s, _ = _frame_duration_s(first, label)
        factor = _mean_decay(half_life_h, duration_s)
        values = values / factor
        decay_note = (
            f"not decay corrected in the file (DecayCorrection {stated}): "
            f"mean over the {duration_s:.6g} s frame divided by (1−e^(−λT))/(λT) = {factor:.6f} "
            f"to give the activity at acquisition start ({injection.nuclide})"
        )
    elif correction == "START":
        decay_note = "DecayCorrection START: values are at the acquisition start already"
    elif correction == "ADMIN":
        injection = injection_from_dataset(first, label=label, timezone=timezone)
        half_life_h = checked_half_life_h(injection)
        from lutetia.nuclides import decay_factor

        factor = decay_factor(injection.at, acquired_at, half_life_h)
        values = values * factor
        decay_note = (
            f"DecayCorrection ADMIN: decayed from {injection.at.isoformat()} to acquisition "
            f"start (× {factor:.6f})"
        )
    else:
        raise BadInputError(f"{label}: DecayCorrection", f"{correction!r} is not NONE/START/ADMIN")
    if not np.all(np.isfinite(values)):
        raise BadInputError(f"{label}: PixelData", "values are not finite after rescaling")
    unit = "g/mL" if quantity == "suv_bw" else "Bq/mL"
    _check_emission_values(values, grid, label, unit, quantity)
    return Volume(
        grid,
        values,
        quantity,
        unit,
        acquired_at,
        f"{reading}; {scale}; {decay_note}; acquired at {acquired_at.isoformat()} ({time_source})",
    )
