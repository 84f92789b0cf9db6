"""A phantom that does not move, copies of its DICOM series with every file changed, and its
study as the inputs of ``lutetia dose images`` or as a cohort's study folder: shared by the
image tests."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom

from lutetia.imaging.phantom import PhantomTruth, make_phantom
from lutetia.services.image_dosimetry import StudyInputs

#: The phantom camera's sensitivity (cps/MBq) these tests give it.
CALIBRATION = 10.0


def still_phantom(folder: Path, voxels: int, spacing_mm: float) -> PhantomTruth:
    """The phantom on a cube of ``voxels``³ voxels of ``spacing_mm``, without motion between
    time points, its camera calibrated at :data:`CALIBRATION`."""
    return make_phantom(
        folder,
        shape=(voxels, voxels, voxels),
        spacing_mm=(spacing_mm, spacing_mm, spacing_mm),
        shift_mm=(0.0, 0.0, 0.0),
        calibration_cps_per_mbq=CALIBRATION,
    )


def edited_copy(source: Path, target: Path, change: Callable[[pydicom.Dataset], None]) -> Path:
    """The series folder ``source`` copied to ``target``, every file changed by ``change``
    (pydicom's warnings on writing an invalid value silenced: writing one is the point)."""
    shutil.copytree(source, target)
    for file in sorted(target.glob("*.dcm")):
        dataset = pydicom.dcmread(file)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            change(dataset)
            dataset.save_as(file)
    return target


def study_inputs(
    phantom: PhantomTruth,
    spect: tuple[Path, ...] | None = None,
    ct: Path | None = None,
    *,
    calibration_cps_per_mbq: float = CALIBRATION,
) -> StudyInputs:
    """The phantom's study: its SPECT series (or ``spect``), label map and names, ``ct``."""
    return StudyInputs(
        spect=spect or tuple(Path(p) for p in phantom.spect_dirs),
        masks=Path(phantom.labels_path),
        ct=ct,
        labels=Path(phantom.label_names_path),
        calibration_cps_per_mbq=calibration_cps_per_mbq,
    )


def write_study(phantom: PhantomTruth, folder: Path, **described: Any) -> Path:
    """A copy of the phantom's study in ``folder`` with a study.json naming its parts and
    :data:`CALIBRATION` (``described`` overrides or adds keys)."""
    shutil.copytree(phantom.folder, folder)
    document: dict[str, Any] = {
        "spect": [Path(p).name for p in phantom.spect_dirs],
        "ct": "ct",
        "masks": "labels.nii.gz",
        "labels": "labels.json",
        "calibration_cps_per_mbq": CALIBRATION,
    }
    document.update(described)
    (folder / "study.json").write_text(json.dumps(document), encoding="utf-8")
    return folder
