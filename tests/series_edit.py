"""Copies of a phantom's DICOM series with every file changed, and the phantom's study as
the inputs of ``lutetia dose images``: shared by the image tests."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom

from lutetia.imaging.phantom import PhantomTruth
from lutetia.services.image_dosimetry import StudyInputs


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
    calibration_cps_per_mbq: float,
) -> StudyInputs:
    """The phantom's study: its SPECT series (or ``spect``), label map and names, ``ct``."""
    return StudyInputs(
        spect=spect or tuple(Path(p) for p in phantom.spect_dirs),
        masks=Path(phantom.labels_path),
        ct=ct,
        labels=Path(phantom.label_names_path),
        calibration_cps_per_mbq=calibration_cps_per_mbq,
    )
