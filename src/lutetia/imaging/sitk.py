"""Adapter between :mod:`lutetia.imaging.volume` and SimpleITK images.

SimpleITK and :class:`~lutetia.imaging.volume.Grid` share one convention (LPS,
origin at the centre of voxel 0, direction columns = index axes), so the
conversion copies spacing, origin and direction unchanged; the pixel array
is ``GetArrayFromImage`` order (k, j, i). SimpleITK is imported on use.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from lutetia.errors import BadInputError
from lutetia.imaging.volume import Grid, Quantity, Volume

if TYPE_CHECKING:
    from numpy.typing import NDArray


def grid_from_sitk(image: Any, frame_of_reference_uid: str | None = None) -> Grid:
    """The :class:`Grid` of a 3-D SimpleITK image (spacing, origin, direction copied as is)."""
    if image.GetDimension() != 3:
        raise BadInputError("image", f"expected a 3-D image, got {image.GetDimension()}-D")
    ni, nj, nk = (int(n) for n in image.GetSize())
    return Grid(
        shape=(nk, nj, ni),
        spacing_mm=tuple(float(s) for s in image.GetSpacing()),  # type: ignore[arg-type]
        origin_mm=tuple(float(o) for o in image.GetOrigin()),  # type: ignore[arg-type]
        direction=tuple(float(d) for d in image.GetDirection()),
        frame_of_reference_uid=frame_of_reference_uid,
    )


def array_from_sitk(image: Any) -> NDArray[Any]:
    """The pixel array of ``image`` in (k, j, i) order (a copy)."""
    import SimpleITK

    return np.asarray(SimpleITK.GetArrayFromImage(image))


def to_sitk(volume_or_grid: Volume | Grid, values: NDArray[Any] | None = None) -> Any:
    """A SimpleITK image with the geometry of a :class:`Volume` (or a :class:`Grid` and an array).

    ``to_sitk(volume)`` uses the volume's values; ``to_sitk(grid, array)`` puts
    ``array`` (shape ``grid.shape``, e.g. an int32 label map) on ``grid``.
    """
    import SimpleITK

    if isinstance(volume_or_grid, Volume):
        if values is not None:
            raise BadInputError("values", "give values only with a Grid, not with a Volume")
        grid = volume_or_grid.grid
        array: NDArray[Any] = volume_or_grid.values
    else:
        if values is None:
            raise BadInputError("values", "an array is needed with a Grid")
        grid = volume_or_grid
        array = np.asarray(values)
    if array.shape != grid.shape:
        raise BadInputError("values", f"shape {array.shape} does not match grid shape {grid.shape}")
    image: Any = SimpleITK.GetImageFromArray(np.ascontiguousarray(array), isVector=False)
    image.SetSpacing(grid.spacing_mm)
    image.SetOrigin(grid.origin_mm)
    image.SetDirection(grid.direction)
    return image


def volume_from_sitk(
    image: Any,
    *,
    quantity: Quantity,
    unit: str,
    acquired_at: datetime | None,
    source: str,
    frame_of_reference_uid: str | None = None,
) -> Volume:
    """A :class:`Volume` from a SimpleITK image (values as float64 unless already float32)."""
    array = array_from_sitk(image)
    if array.dtype != np.float32:
        array = array.astype(np.float64)
    return Volume(
        grid=grid_from_sitk(image, frame_of_reference_uid),
        values=array,
        quantity=quantity,
        unit=unit,
        acquired_at=acquired_at,
        source=source,
    )
