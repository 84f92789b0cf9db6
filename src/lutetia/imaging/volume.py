"""Image geometry and values: :class:`Grid` and :class:`Volume` (pure: dataclasses and numpy).

Coordinates are DICOM patient coordinates, LPS (x towards the patient's left,
y towards posterior, z towards head; DICOM PS3.3 C.7.6.2.1.1), in millimetres,
exactly as SimpleITK holds an image:

    p(i, j, k) = origin + D · diag(spacing) · (i, j, k)ᵀ

where (i, j, k) are column, row and slice indices, ``spacing`` is (Δi, Δj, Δk)
and the columns of the 3×3 direction matrix D are the unit vectors of the
i, j and k axes in LPS (ITK's image geometry; DICOM PS3.3 C.7.6.2.1.1 eq. for
Image Position / Image Orientation). The numpy array is indexed
``values[k, j, i]``, as ``SimpleITK.GetArrayFromImage`` returns it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lutetia.errors import BadInputError

Quantity = Literal["counts", "activity_concentration", "ct_number", "suv_bw", "activity_per_voxel"]
QUANTITIES: tuple[str, ...] = get_args(Quantity)

#: Unit each quantity must carry (the one spelling the package uses).
UNITS: dict[str, str] = {
    "counts": "counts",
    "activity_concentration": "Bq/mL",
    "ct_number": "HU",
    "suv_bw": "g/mL",
    "activity_per_voxel": "MBq",
}

#: Tolerance on the orthonormality of the direction matrix, |DᵀD − I|.
ORTHONORMAL_TOL = 1e-4


def _tuple3(value: object, field: str) -> tuple[float, float, float]:
    try:
        items = tuple(float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as error:
        raise BadInputError(field, f"{value!r} is not three numbers") from error
    if len(items) != 3:
        raise BadInputError(field, f"{value!r} has {len(items)} numbers, expected 3")
    if not all(math.isfinite(v) for v in items):
        raise BadInputError(field, f"{value!r} is not finite")
    return items[0], items[1], items[2]


@dataclass(frozen=True)
class Grid:
    """Geometry of a 3-D image in DICOM patient coordinates (LPS), as SimpleITK holds it.

    ``shape`` is the numpy axis order (k, j, i) = (slice, row, column);
    ``spacing_mm`` and ``origin_mm`` are in SimpleITK order (i, j, k) / (x, y, z);
    ``origin_mm`` is the LPS position of the centre of voxel (0, 0, 0);
    ``direction`` is the row-major 3×3 matrix of ``GetDirection()``, whose
    columns are the i, j, k axes in LPS.

    >>> g = Grid((2, 3, 4), (1.0, 2.0, 3.0), (10.0, 20.0, 30.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    >>> g.index_to_lps([1, 1, 1]).tolist()
    [11.0, 22.0, 33.0]
    >>> round(g.voxel_volume_ml, 6)
    0.006
    """

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    direction: tuple[float, ...]
    frame_of_reference_uid: str | None = None

    def __post_init__(self) -> None:
        try:
            shape = tuple(int(n) for n in self.shape)
        except (TypeError, ValueError) as error:
            raise BadInputError("grid.shape", f"{self.shape!r} is not three integers") from error
        if len(shape) != 3 or any(n < 1 for n in shape):
            raise BadInputError("grid.shape", f"{self.shape!r} must be three positive integers")
        spacing = _tuple3(self.spacing_mm, "grid.spacing_mm")
        if any(s <= 0 for s in spacing):
            raise BadInputError("grid.spacing_mm", f"{spacing!r} must be positive")
        origin = _tuple3(self.origin_mm, "grid.origin_mm")
        try:
            direction = tuple(float(v) for v in self.direction)
        except (TypeError, ValueError) as error:
            raise BadInputError("grid.direction", f"{self.direction!r} is not 9 numbers") from error
        if len(direction) != 9 or not all(math.isfinite(v) for v in direction):
            raise BadInputError("grid.direction", f"{self.direction!r} is not 9 finite numbers")
        matrix = np.array(direction).reshape(3, 3)
        deviation = float(np.max(np.abs(matrix.T @ matrix - np.eye(3))))
        if deviation > ORTHONORMAL_TOL:
            raise BadInputError(
                "grid.direction",
                f"not orthonormal (|DᵀD − I| = {deviation:.2g} > {ORTHONORMAL_TOL:g})",
            )
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "spacing_mm", spacing)
        object.__setattr__(self, "origin_mm", origin)
        object.__setattr__(self, "direction", direction)

    @property
    def size_ijk(self) -> tuple[int, int, int]:
        """Number of voxels along i, j, k (SimpleITK ``GetSize()`` order)."""
        return self.shape[2], self.shape[1], self.shape[0]

    @property
    def direction_matrix(self) -> NDArray[np.float64]:
        """The 3×3 direction matrix D (columns: i, j, k axes in LPS)."""
        return np.array(self.direction, dtype=np.float64).reshape(3, 3)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel, Δi·Δj·Δk / 1000 (mL; 1 mL = 1000 mm³)."""
        return self.spacing_mm[0] * self.spacing_mm[1] * self.spacing_mm[2] / 1000.0

    @property
    def affine_lps(self) -> NDArray[np.float64]:
        """4×4 matrix taking (i, j, k, 1) to (x, y, z, 1) in LPS mm: [D·diag(Δ) | origin]."""
        affine = np.eye(4)
        affine[:3, :3] = self.direction_matrix * np.array(self.spacing_mm)[np.newaxis, :]
        affine[:3, 3] = self.origin_mm
        return affine

    def index_to_lps(self, ijk: ArrayLike) -> NDArray[np.float64]:
        """LPS position (mm) of (continuous) indices (i, j, k); shape (..., 3) in and out."""
        index = np.asarray(ijk, dtype=np.float64)
        if index.shape[-1:] != (3,):
            raise BadInputError("ijk", f"last axis must be (i, j, k), got shape {index.shape}")
        scaled = index * np.array(self.spacing_mm)
        result: NDArray[np.float64] = scaled @ self.direction_matrix.T + np.array(self.origin_mm)
        return result

    def lps_to_index(self, lps_mm: ArrayLike) -> NDArray[np.float64]:
        """Continuous indices (i, j, k) of LPS positions (mm); inverse of :meth:`index_to_lps`."""
        point = np.asarray(lps_mm, dtype=np.float64)
        if point.shape[-1:] != (3,):
            raise BadInputError("lps_mm", f"last axis must be (x, y, z), got shape {point.shape}")
        # D is orthonormal, so D⁻¹ = Dᵀ; (p − o)·D gives Dᵀ(p − o) row-wise.
        rotated = (point - np.array(self.origin_mm)) @ self.direction_matrix
        result: NDArray[np.float64] = rotated / np.array(self.spacing_mm)
        return result

    def corners_lps(self) -> NDArray[np.float64]:
        """LPS positions (mm) of the centres of the 8 corner voxels, shape (8, 3)."""
        ni, nj, nk = self.size_ijk
        corners = [(i, j, k) for k in (0, nk - 1) for j in (0, nj - 1) for i in (0, ni - 1)]
        return self.index_to_lps(np.array(corners, dtype=np.float64))

    def same_as(self, other: Grid, tol_mm: float = 1e-3) -> bool:
        """True if both grids have the same shape and every corner voxel centre within ``tol_mm``.

        Two grids whose frames of reference are both known and differ are never
        the same (their LPS coordinates are not comparable).
        """
        if self.shape != other.shape:
            return False
        if (
            self.frame_of_reference_uid is not None
            and other.frame_of_reference_uid is not None
            and self.frame_of_reference_uid != other.frame_of_reference_uid
        ):
            return False
        # Corners fix the origin; the spacing and direction are then fixed by the
        # far corners along each axis (checked by the corner positions themselves),
        # but a 1-voxel axis has no far corner: compare the axes directly too.
        axes_self = self.direction_matrix * np.array(self.spacing_mm)[np.newaxis, :]
        axes_other = other.direction_matrix * np.array(other.spacing_mm)[np.newaxis, :]
        if float(np.max(np.abs(axes_self - axes_other))) > tol_mm:
            return False
        distance = np.linalg.norm(self.corners_lps() - other.corners_lps(), axis=1)
        return bool(np.all(distance <= tol_mm))


@dataclass(frozen=True, eq=False)
class Volume:
    """One 3-D image: values on a grid, with what they are.

    ``values`` has shape ``grid.shape`` (k, j, i); ``quantity`` and ``unit``
    say what the numbers are (:data:`UNITS` gives the unit of each quantity);
    ``acquired_at`` is the timezone-aware start of acquisition (``None`` only
    for CT); ``source`` says how values and unit were obtained (tags used,
    calibration factor, decay reference).
    """

    grid: Grid
    values: NDArray[np.float64] | NDArray[np.float32]
    quantity: Quantity
    unit: str
    acquired_at: datetime | None
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.grid, Grid):
            raise BadInputError("volume.grid", f"expected a Grid, got {type(self.grid).__name__}")
        values = self.values
        if not isinstance(values, np.ndarray):
            kind = type(values).__name__
            raise BadInputError("volume.values", f"expected a numpy array, got {kind}")
        if values.dtype not in (np.float32, np.float64):
            raise BadInputError("volume.values", f"dtype {values.dtype} must be float32 or float64")
        if values.shape != self.grid.shape:
            raise BadInputError(
                "volume.values", f"shape {values.shape} does not match grid shape {self.grid.shape}"
            )
        if self.quantity not in QUANTITIES:
            raise BadInputError("volume.quantity", f"{self.quantity!r} is not one of {QUANTITIES}")
        if self.unit != UNITS[self.quantity]:
            raise BadInputError(
                "volume.unit",
                f"{self.unit!r} is not the unit of {self.quantity} ({UNITS[self.quantity]!r})",
            )
        if self.acquired_at is None:
            if self.quantity != "ct_number":
                raise BadInputError("volume.acquired_at", f"missing for {self.quantity}")
        elif self.acquired_at.tzinfo is None or self.acquired_at.utcoffset() is None:
            raise BadInputError(
                "volume.acquired_at", f"{self.acquired_at.isoformat()} has no UTC offset"
            )
        if not self.source:
            raise BadInputError("volume.source", "must say how the values were obtained")
