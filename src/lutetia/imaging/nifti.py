"""NIfTI-1 images and label maps in and out (nibabel), converted between RAS and LPS.

NIfTI world coordinates are RAS+ (+x towards the patient's right, +y
anterior, +z superior; NIfTI-1 header, ``qform``/``sform`` fields,
https://nifti.nimh.nih.gov/nifti-1/documentation/nifti1fields). DICOM and
:class:`~lutetia.imaging.volume.Grid` are LPS+ (+x left, +y posterior, +z
superior). The two differ by F = diag(−1, −1, 1): ``affine_lps = F · affine_ras``.

The affine is nibabel's ``img.affine``: the sform when its code is non-zero,
else the qform (nibabel's documented choice). It maps voxel indices
(i, j, k) — the NIfTI array order — to RAS mm; the array is transposed to the
numpy order (k, j, i) used by :class:`Volume`. An affine with shear or
non-orthogonal axes is refused (a Grid holds spacing and an orthonormal
direction only).
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lutetia.errors import BadInputError
from lutetia.imaging.volume import ORTHONORMAL_TOL, Grid, Quantity, Volume

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: RAS ↔ LPS: negate x and y.
_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def _load(path: str | Path) -> Any:
    import nibabel

    file = Path(path)
    if not file.is_file():
        raise BadInputError(str(path), "no such file")
    try:
        image = nibabel.load(str(file))
    except Exception as error:  # nibabel raises ImageFileError, OSError, EOFError, …
        raise BadInputError(str(path), f"cannot be read as NIfTI ({error})") from error
    if not isinstance(image, nibabel.Nifti1Image | nibabel.Nifti2Image):
        raise BadInputError(str(path), f"is {type(image).__name__}, not NIfTI")
    if len(image.shape) != 3:
        raise BadInputError(f"{path}: dim", f"image has shape {image.shape}, expected 3-D")
    return image


def grid_from_affine_ras(
    affine_ras: NDArray[np.float64],
    shape_ijk: tuple[int, int, int],
    *,
    field: str = "affine",
    frame_of_reference_uid: str | None = None,
) -> Grid:
    """The LPS :class:`Grid` of a NIfTI affine (RAS mm from (i, j, k)) and array shape (i, j, k)."""
    affine = np.asarray(affine_ras, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise BadInputError(field, "is not a finite 4×4 matrix")
    lps = _FLIP @ affine
    axes = lps[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if np.any(spacing <= 0):
        raise BadInputError(field, "has a zero-length axis")
    direction = axes / spacing[np.newaxis, :]
    deviation = float(np.max(np.abs(direction.T @ direction - np.eye(3))))
    if deviation > ORTHONORMAL_TOL:
        raise BadInputError(
            field, f"has shear or non-orthogonal axes (|DᵀD − I| = {deviation:.2g})"
        )
    return Grid(
        shape=(shape_ijk[2], shape_ijk[1], shape_ijk[0]),
        spacing_mm=(float(spacing[0]), float(spacing[1]), float(spacing[2])),
        origin_mm=(float(lps[0, 3]), float(lps[1, 3]), float(lps[2, 3])),
        direction=tuple(float(v) for v in direction.reshape(-1)),
        frame_of_reference_uid=frame_of_reference_uid,
    )


def affine_ras(grid: Grid) -> NDArray[np.float64]:
    """The NIfTI (RAS) affine of a grid: F · affine_lps."""
    result: NDArray[np.float64] = _FLIP @ grid.affine_lps
    return result


def _grid_of(image: Any, path: str | Path) -> Grid:
    shape = tuple(int(n) for n in image.shape)
    return grid_from_affine_ras(
        np.asarray(image.affine, dtype=np.float64),
        (shape[0], shape[1], shape[2]),
        field=f"{path}: sform/qform",
    )


def read_nifti(
    path: str | Path, *, quantity: Quantity, unit: str, acquired_at: datetime | None
) -> Volume:
    """A NIfTI image as a :class:`Volume` in LPS; what the values are is the caller's statement.

    The scaling ``scl_slope``/``scl_inter`` of the header is applied (nibabel
    ``get_fdata``). NIfTI carries no acquisition time or unit that this
    package trusts, so ``quantity``, ``unit`` and ``acquired_at`` are required.
    """
    image = _load(path)
    grid = _grid_of(image, path)
    values = np.asarray(image.get_fdata(dtype=np.float64)).transpose(2, 1, 0)
    if not np.all(np.isfinite(values)):
        raise BadInputError(f"{path}: data", "holds NaN or infinite values")
    header = image.header
    code = "sform" if int(header["sform_code"]) > 0 else "qform"
    return Volume(
        grid=grid,
        values=np.ascontiguousarray(values),
        quantity=quantity,
        unit=unit,
        acquired_at=acquired_at,
        source=(
            f"NIfTI {path} ({code}, RAS converted to LPS); values × scl_slope + scl_inter; "
            f"quantity, unit and time stated by the caller"
        ),
    )


def read_label_map(path: str | Path) -> tuple[Grid, NDArray[np.int32]]:
    """A NIfTI label map: its LPS grid and the labels (int32, shape (k, j, i)).

    Refuses non-integer or negative labels (a resampled, interpolated mask is
    not a label map).
    """
    image = _load(path)
    grid = _grid_of(image, path)
    data = np.asarray(image.get_fdata(dtype=np.float64)).transpose(2, 1, 0)
    if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
        raise BadInputError(f"{path}: data", "labels must be whole numbers")
    if np.any(data < 0) or np.any(data > np.iinfo(np.int32).max):
        raise BadInputError(f"{path}: data", "labels must be between 0 and 2³¹−1")
    return grid, np.ascontiguousarray(data.astype(np.int32))


def read_label_names(path: str | Path) -> dict[int, str]:
    """Label → region name from a JSON object ``{"1": "liver", …}`` (0 is background)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInputError(str(path), f"cannot be read as JSON ({error})") from error
    if not isinstance(raw, dict):
        raise BadInputError(str(path), "must be a JSON object of label: name")
    names: dict[int, str] = {}
    for key, name in raw.items():
        try:
            label = int(key)
        except ValueError as error:
            raise BadInputError(f"{path}: {key}", "label is not an integer") from error
        if label <= 0 or not isinstance(name, str) or not name:
            raise BadInputError(f"{path}: {key}", "labels are positive, names non-empty text")
        names[label] = name
    return names


def _write(image: Any, path: str | Path, option: str) -> None:
    from lutetia.cli.output import atomic_output

    target = str(path)
    if not target.endswith((".nii", ".nii.gz")):
        raise BadInputError(option, f"{target} must end in .nii or .nii.gz")
    data = image.to_bytes()
    if target.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with atomic_output(target, option=option) as temporary:
        temporary.write_bytes(data)


def _image(grid: Grid, array_kji: NDArray[Any]) -> Any:
    import nibabel

    affine = affine_ras(grid)
    make: Any = nibabel.Nifti1Image
    image: Any = make(np.ascontiguousarray(array_kji.transpose(2, 1, 0)), affine)
    image.header.set_qform(affine, code=1)  # 1 = scanner-based anatomical coordinates
    image.header.set_sform(affine, code=1)
    image.header.set_xyzt_units(xyz="mm")
    return image


def write_nifti(volume: Volume, path: str | Path) -> None:
    """Write a volume as NIfTI-1 (RAS affine in both qform and sform, float32/64 as held)."""
    _write(_image(volume.grid, volume.values), path, "path")


def write_label_map(grid: Grid, labels: NDArray[np.int32], path: str | Path) -> None:
    """Write a label map (int32) as NIfTI-1 on ``grid``."""
    if labels.shape != grid.shape:
        raise BadInputError("labels", f"shape {labels.shape} does not match grid {grid.shape}")
    _write(_image(grid, np.asarray(labels, dtype=np.int32)), path, "path")


def label_map_gz_bytes(grid: Grid, labels: NDArray[Any]) -> bytes:
    """A label map (stored as int32) on ``grid`` as the bytes of a ``.nii.gz`` file, for a
    caller that writes several files together (all or none)."""
    if labels.shape != grid.shape:
        raise BadInputError("labels", f"shape {labels.shape} does not match grid {grid.shape}")
    data: bytes = _image(grid, np.asarray(labels, dtype=np.int32)).to_bytes()
    return gzip.compress(data, mtime=0)
