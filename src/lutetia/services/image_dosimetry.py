"""Patient-specific dosimetry from serial quantitative SPECT/CT: the use case.

One study is a series of 177Lu SPECT acquisitions after one administration, a
CT (optional) and the regions (a label map, DICOM SEG or RTSTRUCT). The steps,
each done by a module of its own:

1. read every SPECT series as activity concentration (Bq/mL) at the start of
   its acquisition, not decay-corrected (:func:`lutetia.imaging.dicom.read_series`),
   and the administration from the first series'
   RadiopharmaceuticalInformationSequence (:func:`lutetia.imaging.dicom.read_injection`);
   the time of each point is its acquisition start minus the administration time;
2. optionally register each later time point rigidly onto the first
   (:func:`lutetia.imaging.registration.register_rigid`);
3. map the regions onto the first SPECT grid (:func:`lutetia.imaging.masks.read_masks`)
   and weigh them, from the CT (HU → density) or at a stated default density
   (:func:`lutetia.imaging.mass.region_masses`);
4. per region: activity at each time point = Σ C·V over its voxels, the
   region carried onto that time point's own grid through the transform
   (:func:`lutetia.imaging.registration.transfer_mask`: counts are summed as
   acquired, not interpolated); the regions' TACs are
   fitted together by the organ kinetics (:func:`lutetia.dosimetry.kinetics.select_models`:
   one batch, automatic model choice per TAC), and the TIA converted to an absorbed dose by the
   organ S value of a sphere of the region's mass
   (:func:`lutetia.dosimetry.absorbed.absorbed_dose`);
5. optionally, voxel by voxel (every time point resampled onto the first
   one's grid through its transform, trilinear): every voxel's TAC fitted by the batched engine
   (:func:`lutetia.dosimetry.batch.fit_voxels`), the TIA map turned into a dose
   map by local deposition or by convolution with the 177Lu dose-voxel kernel
   for the grid's voxel size (:mod:`lutetia.dosimetry.voxel`), and a DVH per region.

The result is a JSON-ready document; every assumption is listed in it.
This module reads files through the imaging adapters; it writes only the
RTDOSE file it is asked for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from lutetia.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from lutetia.imaging.masks import Masks
    from lutetia.imaging.mass import DensityCalibration
    from lutetia.imaging.registration import Registration
    from lutetia.imaging.volume import Grid, Volume

#: A study needs at least this many time points for a fit of its kinetics.
MIN_TIMEPOINTS: Final[int] = 2
#: Names of a study folder's parts (``spect*`` folders, ``ct``, the regions).
MASK_FILE_NAMES: Final[tuple[str, ...]] = (
    "labels.nii.gz",
    "labels.nii",
    "masks.nii.gz",
    "masks.nii",
    "seg.dcm",
    "rtstruct.dcm",
)
LABEL_NAME_FILES: Final[tuple[str, ...]] = ("labels.json", "labels.csv")
STUDY_FILE: Final[str] = "study.json"
#: Voxels outside every region but above this fraction of the first image's 99th percentile
#: count as body for the voxel-wise fit.
BODY_FRACTION: Final[float] = 0.01
#: A region carried onto a later time point with more than this fraction of it outside
#: that image's field of view gets a warning.
MAX_LOST_FRACTION: Final[float] = 0.01
#: With more than this fraction outside, the region is not measured at that time point:
#: the point is left out of its curve (a partial sum is not the region's activity).
MAX_MEASURED_LOST_FRACTION: Final[float] = 0.10
#: Without --register, a check registration that moves a later time point by more than
#: this many voxels along an axis, or turns it by more than this many degrees, and raises
#: the correlation by more than MOTION_NCC_GAIN, is reported as motion.
MOTION_VOXELS: Final[float] = 0.5
MOTION_ROTATION_DEG: Final[float] = 2.0
MOTION_NCC_GAIN: Final[float] = 0.02
#: Local deposition: floor of the CT density, so that counts the SPECT resolution spills
#: into air (0.0012 g/mL) do not become doses a thousand times the tissue's. Lung
#: (about 0.26 g/mL) is above it.
MIN_VOXEL_DENSITY_G_PER_ML: Final[float] = 0.1

#: Region names of the image vocabulary → the key of the plausible-mass table
#: (:data:`lutetia.dosimetry.plausibility.MASS_RANGES_G`).
_MASS_KEYS: Final[dict[str, str]] = {
    "kidneys": "kidneys",
    "liver": "liver",
    "spleen": "spleen",
    "lungs": "lungs",
    "parotid_glands": "parotid_glands",
    "red_marrow": "bone_marrow",
    "lesions": "tumor",
}


Progress = Callable[[str], None]


@dataclass(frozen=True)
class StudyInputs:
    """Where one study's files are."""

    spect: tuple[Path, ...]
    masks: Path
    ct: Path | None = None
    labels: Path | None = None
    calibration_cps_per_mbq: float | None = None


@dataclass(frozen=True)
class Options:
    """What to compute (the command line's switches)."""

    calibration_cps_per_mbq: float | None = None
    register: bool = False
    voxelwise: bool = False
    kernel: bool = False
    timezone: tzinfo | None = None
    #: The kidneys' absorbed dose and BED of the cycles already given, and risk factors
    #: (BED limit 28 Gy instead of 40 Gy): the course check of the kidney regions.
    kidney_already_gy: float = 0.0
    kidney_already_bed_gy: float | None = None
    risk_factors: bool = False
    steps: list[str] = field(default_factory=list, compare=False, repr=False)


def mass_range_key(region: str) -> str | None:
    """The key of the plausible-mass table for a region name (None: the generic range).

    >>> mass_range_key("kidneys"), mass_range_key("lesion_3"), mass_range_key("kidney_left")
    ('kidneys', 'tumor', None)
    """
    if region.startswith("lesion_"):
        return "tumor"
    return _MASS_KEYS.get(region)


def _untried_models(n_points: int) -> list[str]:
    """A note of the models AICc could not compare for ``n_points`` points (n ≥ k + 2)."""
    from lutetia.dosimetry.batch import candidate_models
    from lutetia.dosimetry.kinetics import MODELS, PARAMETER_COUNT

    compared = candidate_models(n_points)
    untried = [m for m in MODELS if m not in compared]
    if not untried or not compared:
        return []
    needs = ", ".join(f"{m} needs {PARAMETER_COUNT[m] + 2}" for m in untried)
    return [
        f"not compared with {n_points} points (AICc needs k + 2 points for k parameters): {needs}"
    ]


def study_inputs(
    folder: str | Path, *, calibration_cps_per_mbq: float | None = None
) -> StudyInputs:
    """The files of a study folder, by the layout of docs/imaging.md.

    ``spect*`` sub-folders (one series each), an optional ``ct`` folder, the
    regions as ``labels.nii.gz`` (or ``masks.nii.gz``, ``seg.dcm``,
    ``rtstruct.dcm``) with names in ``labels.json``/``labels.csv``; a
    ``study.json`` may name each part instead (keys ``spect`` — a list —,
    ``ct``, ``masks``, ``labels``, ``calibration_cps_per_mbq``; paths relative
    to the folder).
    """
    root = Path(folder)
    if not root.is_dir():
        raise BadInputError(str(root), "is not a folder")
    described: dict[str, Any] = {}
    study_file = root / STUDY_FILE
    try:
        described_here = study_file.is_file()
    except OSError as error:
        raise BadInputError(str(root), f"cannot be read: {error.strerror}") from None
    if described_here:
        try:
            described = json.loads(study_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadInputError(str(study_file), f"cannot be read: {error}") from None
        except RecursionError:
            raise BadInputError(str(study_file), "cannot be read: nested too deeply") from None
        if not isinstance(described, dict):
            raise BadInputError(str(study_file), "must hold one JSON object")
        unknown = set(described) - {"spect", "ct", "masks", "labels", "calibration_cps_per_mbq"}
        if unknown:
            raise BadInputError(str(study_file), f"unknown keys {sorted(unknown)}")

    def inside(key: str, value: object) -> Path:
        """A path of study.json: relative, and inside the study folder (a study's files
        taken from another folder could be another patient's, without a word). The rule is
        on the path as written: a symbolic link the user made inside the study is followed."""
        if not isinstance(value, str) or not value.strip():
            raise BadInputError(f"{study_file}: {key}", "must be a path")
        relative = Path(value)
        if relative.anchor or ".." in relative.parts:  # a root, a drive, or both
            raise BadInputError(
                f"{study_file}: {key}",
                f"{value!r}: must be a path inside the study folder, relative to it",
            )
        return root / relative

    def part(key: str) -> Path | None:
        value = described.get(key)
        return None if value is None else inside(key, value)

    if "spect" in described:
        listed = described["spect"]
        if not isinstance(listed, list):
            raise BadInputError(f"{study_file}: spect", "must be a list of paths")
        spect = tuple(inside(f"spect[{i}]", p) for i, p in enumerate(listed))
    else:
        try:
            spect = tuple(
                sorted(
                    p for p in root.iterdir() if p.is_dir() and p.name.lower().startswith("spect")
                )
            )
        except OSError as error:
            raise BadInputError(str(root), f"cannot be read: {error.strerror}") from None
    if not spect:
        raise BadInputError(str(root), "no SPECT series (no spect* folder, no study.json 'spect')")
    masks = part("masks") or next(
        (root / name for name in MASK_FILE_NAMES if (root / name).is_file()), None
    )
    if masks is None:
        raise BadInputError(str(root), f"no regions: none of {', '.join(MASK_FILE_NAMES)}")
    ct = part("ct")
    if ct is None and (root / "ct").is_dir():
        ct = root / "ct"
    labels = part("labels") or next(
        (root / name for name in LABEL_NAME_FILES if (root / name).is_file()), None
    )
    calibration = described.get("calibration_cps_per_mbq", calibration_cps_per_mbq)
    if calibration is not None and not (
        isinstance(calibration, int | float)
        and not isinstance(calibration, bool)
        and math.isfinite(calibration)
        and calibration > 0
    ):
        raise BadInputError(f"{study_file}: calibration_cps_per_mbq", "must be a positive number")
    return StudyInputs(
        spect=spect,
        masks=masks,
        ct=ct,
        labels=labels,
        calibration_cps_per_mbq=None if calibration is None else float(calibration),
    )


def _say(progress: Progress | None, step: str) -> None:
    if progress is not None:
        progress(step)


def _activity_mbq(volume: Volume, mask: NDArray[np.bool_]) -> float:
    """Σ C·V over the region: Bq/mL × mL → MBq."""
    import numpy as np

    total_bq = float(np.sum(volume.values[mask], dtype=np.float64)) * volume.grid.voxel_volume_ml
    return total_bq / 1e6


def _read_spect(
    inputs: StudyInputs, options: Options, progress: Progress | None
) -> tuple[list[Volume], Any, list[str], list[Path]]:
    """The time points in time order, the administration, warnings, and each time point's
    series path."""
    from lutetia.imaging.dicom import (
        USER_CALIBRATION_SOURCE,
        USER_TIMEZONE_SOURCE,
        checked_half_life_h,
        half_life_note,
        read_injection,
        read_modality,
        read_patient_id,
        read_series,
    )

    calibration = inputs.calibration_cps_per_mbq or options.calibration_cps_per_mbq
    volumes = []
    warnings: list[str] = []
    own, given = inputs.calibration_cps_per_mbq, options.calibration_cps_per_mbq
    if own is not None and given is not None and not math.isclose(own, given, rel_tol=1e-9):
        # The study's own value (its study.json) is the more specific: it is used, and the
        # option the user typed, which it overrides, is named.
        warnings.append(
            f"calibration: the study's {own:g} cps/MBq (study.json) used, not "
            f"--calibration-cps-per-mbq {given:g}"
        )
    _distinct_series(inputs.spect)
    injections = []
    for path in inputs.spect:
        modality = read_modality(path)
        if modality not in {"NM", "PT"}:
            raise BadInputError(
                f"{path}: Modality", f"{modality!r}: a SPECT time point is NM (or PT)"
            )
        # Every series is of 177Lu (before its values are read: a series of another nuclide
        # would be decay-corrected with that nuclide's half-life and counted as 177Lu).
        try:
            stated = read_injection(path, timezone=options.timezone)
            if stated.nuclide not in (None, "Lu-177"):
                raise BadInputError(
                    "RadiopharmaceuticalInformationSequence",
                    f"the radionuclide is {stated.nuclide}, not Lu-177",
                )
            checked_half_life_h(stated)
            note = half_life_note(stated)
            if note is not None:
                warnings.append(f"{path}: {note}")
            warnings.extend(f"{path}: {said}" for said in stated.notes)
        except BadInputError as error:
            if str(path) in error.field:
                raise
            raise BadInputError(f"{path}: {error.field}", error.reason) from None
        injections.append(stated)
    for path in inputs.spect:
        _say(progress, f"reading SPECT {path.name}")
        volume = read_series(
            path, calibration_cps_per_mbq=calibration, timezone=options.timezone,
            modalities=("NM", "PT"),
        )  # fmt: skip
        if volume.quantity != "activity_concentration":
            raise BadInputError(
                str(path), f"is {volume.quantity} ({volume.unit}), not an activity image"
            )
        if calibration is not None and USER_CALIBRATION_SOURCE not in volume.source:
            warnings.append(
                f"{path}: its values are in Bq/mL already, so the calibration of "
                f"{calibration:g} cps/MBq was not used for it"
            )
        volumes.append(volume)
    injection = injections[0]
    offset = injection.at.utcoffset()
    if (
        options.timezone is not None
        and any(USER_TIMEZONE_SOURCE in volume.source for volume in volumes)
        and USER_TIMEZONE_SOURCE not in injection.source
        and offset != options.timezone.utcoffset(None)
    ):
        warnings.append(
            f"the administration time states its own UTC offset ({injection.at.isoformat()}) "
            f"and series without TimezoneOffsetFromUTC were read with --timezone "
            f"{_offset_text(options.timezone)}: if both are the same clock, every time since "
            "the administration is off by the difference"
        )
    for path, other in zip(inputs.spect[1:], injections[1:], strict=True):
        if other.at != injection.at or not math.isclose(
            other.activity_bq, injection.activity_bq, rel_tol=1e-6
        ):
            warnings.append(
                f"{path}: the administration it states ({other.activity_bq / 1e6:.5g} MBq at "
                f"{other.at.isoformat()}) differs from the first series'; the first is used"
            )
    offsets = sorted(
        {_offset_text(v.acquired_at.tzinfo, v.acquired_at) for v in volumes if v.acquired_at}
    )
    if len(offsets) > 1:
        warnings.append(
            f"the time points state different UTC offsets ({', '.join(offsets)}): a change to "
            "or from daylight saving time between them, or scanner clocks set differently; "
            "times were taken as stated, each with its own offset"
        )
    order = sorted(range(len(volumes)), key=lambda i: volumes[i].acquired_at or injection.at)
    volumes = [volumes[i] for i in order]
    for volume, path in zip(volumes, [inputs.spect[i] for i in order], strict=True):
        if volume.acquired_at is None or volume.acquired_at <= injection.at:
            raise BadInputError(
                str(path), "acquired before the administration (check the DICOM dates and times)"
            )
        low = _check_against_administration(volume, injection, path)
        if low:
            warnings.append(low)
    if len(volumes) < MIN_TIMEPOINTS:
        raise BadInputError(
            "--spect", f"{len(volumes)} time point(s): at least {MIN_TIMEPOINTS} are needed"
        )
    paths = [inputs.spect[i] for i in order]
    for index in range(1, len(volumes)):
        at = volumes[index].acquired_at
        if at is not None and at == volumes[index - 1].acquired_at:
            raise BadInputError(
                "--spect",
                f"{paths[index - 1]} and {paths[index]} were acquired at the same time "
                f"({at.isoformat()}): one time point given twice?",
            )
    patients = {str(p): read_patient_id(p) for p in inputs.spect}
    named = {pid for pid in patients.values() if pid is not None}
    if len(named) > 1:
        listing = ", ".join(f"{p}: {pid}" for p, pid in patients.items())
        raise BadInputError("--spect", f"the series are of different patients ({listing})")
    unnamed = [p for p, pid in patients.items() if pid is None]
    if unnamed:
        warnings.append(
            f"no Patient ID in {', '.join(unnamed)}: that these series are of one patient "
            "could not be checked"
        )
    for volume, path in zip(volumes[1:], paths[1:], strict=True):
        if not _grids_overlap(volume.grid, volumes[0].grid):
            raise BadInputError(
                "--spect",
                f"{path}: its field of view does not overlap the first time point's "
                "(a series of another study, or a wrong Image Position)",
            )
        if not volume.grid.same_as(volumes[0].grid, tol_mm=0.5) and not options.register:
            warnings.append(
                f"{path}: its grid differs from the first time point's; it is resampled onto it "
                "without registration (use --register to align the anatomy)"
            )
    return volumes, injection, warnings, paths


#: A region whose mean density from the CT is below this (g/mL; −950 HU by ρ = 1 + HU/1000)
#: is in air: normal lung is about 0.26 g/mL and severe emphysema reaches −870 to −900 HU,
#: so the CT does not show the SPECT's anatomy, or its Rescale is wrong.
MIN_CT_DENSITY_G_PER_ML: Final[float] = 0.05


def _check_ct(inputs: StudyInputs, masses: dict[str, Any], warnings: list[str]) -> None:
    """The CT is of the SPECT's patient, reaches the regions and shows tissue there: a CT of
    another patient or study is refused, a region it does not reach (default density) is
    warned, one that it shows as air is refused."""
    from lutetia.imaging.dicom import read_patient_id

    assert inputs.ct is not None
    ct_patient = read_patient_id(inputs.ct)
    spect_patients = {pid for pid in map(read_patient_id, inputs.spect) if pid is not None}
    if ct_patient is not None and spect_patients and ct_patient not in spect_patients:
        raise BadInputError(
            "--ct",
            f"{inputs.ct} is of patient {ct_patient!r}, the SPECT of "
            f"{', '.join(sorted(map(repr, spect_patients)))}",
        )
    if ct_patient is None:
        warnings.append(f"no Patient ID in {inputs.ct}: that the CT is the patient's is unchecked")
    from lutetia.imaging.mass import MIN_CT_COVERAGE

    outside = [name for name, mass in masses.items() if mass.ct_coverage == 0.0]
    if masses and len(outside) == len(masses):
        raise BadInputError(
            "--ct",
            f"{inputs.ct} covers none of the regions (a CT of another study or position?)",
        )
    for name, mass in masses.items():
        if mass.ct_coverage is not None and mass.ct_coverage < MIN_CT_COVERAGE:
            warnings.append(f"{name}: mass from {mass.method}")
        elif mass.density_g_per_ml < MIN_CT_DENSITY_G_PER_ML:
            raise BadInputError(
                "--ct",
                f"region {name}: the CT gives a mean density of {mass.density_g_per_ml:.3g} g/mL "
                "(air): the CT does not show the SPECT's anatomy, or its Rescale is wrong (or the "
                "masks are not drawn on this anatomy)",
            )


#: The activity in a time point's whole field of view may exceed the administered activity
#: decayed to then by calibration error and noise, never by this factor.
MAX_FOV_TO_ADMINISTERED: Final[float] = 1.5

#: Below this share of the administered activity decayed to then, a field of view is said.
#: About 70 % is excreted by 12 h, the rest leaves with an effective half-life of 40.5 h
#: (21.7–85.7 h; Kurth et al. 2018, EJNMMI Res 8:32): at 168 h the body holds about 4 % of
#: the decayed administration (0.4 % at the fastest clearance) and one bed position a fifth
#: to a third of that. A thousandth is what a lost Rescale Slope or calibration gives.
MIN_FOV_TO_ADMINISTERED: Final[float] = 0.001


def _check_against_administration(volume: Volume, injection: Any, path: Path) -> str | None:
    """Refuse a time point acquired later than any measurement can be (20 half-lives,
    :func:`~lutetia.dosimetry.plausibility.max_time_h`), or whose field of view holds more
    than :data:`MAX_FOV_TO_ADMINISTERED` times the activity administered, decayed to its
    acquisition: the administration or the quantification (calibration, Rescale Slope) is
    wrong, and which one the files cannot tell. A field of view holding less than
    :data:`MIN_FOV_TO_ADMINISTERED` of it is returned as a warning."""
    import numpy as np

    from lutetia.dosimetry.plausibility import max_time_h
    from lutetia.nuclides import decay_factor, nuclide

    assert volume.acquired_at is not None  # checked by the caller
    elapsed_h = (volume.acquired_at - injection.at).total_seconds() / 3600.0
    if elapsed_h > max_time_h():
        raise BadInputError(
            str(path),
            f"acquired {elapsed_h:.6g} h after the administration, later than any measurement "
            f"({max_time_h():.4g} h, 20 half-lives): check the DICOM dates",
        )
    in_view_mbq = float(np.sum(volume.values, dtype=np.float64)) * volume.grid.voxel_volume_ml / 1e6
    left_mbq = (
        injection.activity_bq
        / 1e6
        * decay_factor(injection.at, volume.acquired_at, nuclide("Lu-177").half_life_h)
    )
    if in_view_mbq > MAX_FOV_TO_ADMINISTERED * left_mbq:
        raise BadInputError(
            str(path),
            f"its field of view holds {in_view_mbq:.5g} MBq at {elapsed_h:.4g} h, "
            f"{in_view_mbq / left_mbq:.3g} times the {left_mbq:.5g} MBq left of the "
            f"{injection.activity_bq / 1e6:.5g} MBq administered: the administration "
            "(RadionuclideTotalDose) or the quantification (calibration, Rescale Slope) is wrong",
        )
    if in_view_mbq < MIN_FOV_TO_ADMINISTERED * left_mbq:
        return (
            f"{path}: its field of view holds {in_view_mbq:.5g} MBq at {elapsed_h:.4g} h, "
            f"{100 * in_view_mbq / left_mbq:.2g} % of the {left_mbq:.5g} MBq left of the "
            f"{injection.activity_bq / 1e6:.5g} MBq administered (below "
            f"{100 * MIN_FOV_TO_ADMINISTERED:g} %): check the quantification (calibration, "
            "Rescale Slope; a missing slope is read as 1) and the administration"
        )
    return None


def _offset_text(zone: tzinfo | None, at: datetime | None = None) -> str:
    """±HH:MM of a fixed-offset time zone, or of a zone's offset at ``at``."""
    if zone is None:
        return "no offset"
    delta = zone.utcoffset(at)
    if delta is None:
        return str(zone)
    minutes = round(delta.total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _distinct_series(paths: Sequence[Path]) -> None:
    """Refuse one SPECT series given twice (the same folder or file, however spelled)."""
    import os

    for index, path in enumerate(paths):
        for earlier in paths[:index]:
            try:
                same = os.path.samefile(path, earlier)
            except OSError:
                continue  # a missing path is reported by the reader
            if same:
                raise BadInputError("--spect", f"{path} is given twice (one series per time point)")


def _grids_overlap(a: Grid, b: Grid) -> bool:
    """Whether the LPS bounding boxes of two grids (voxel extents included) intersect."""
    import numpy as np

    def box(grid: Grid) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        size = np.array(grid.size_ijk, dtype=np.float64)
        corners = np.array(
            [[i, j, k] for i in (-0.5, size[0] - 0.5) for j in (-0.5, size[1] - 0.5)
             for k in (-0.5, size[2] - 0.5)]
        )  # fmt: skip
        points = grid.index_to_lps(corners)
        return points.min(axis=0), points.max(axis=0)

    (low_a, high_a), (low_b, high_b) = box(a), box(b)
    return bool(np.all(low_a < high_b) and np.all(low_b < high_a))


def _align(
    volumes: list[Volume],
    options: Options,
    progress: Progress | None,
    warnings: list[str],
    paths: Sequence[Path],
) -> tuple[list[Registration], list[dict[str, Any]]]:
    """The transform of each time point from the first (registered, or the identity).

    Without ``--register`` each later time point is still registered, as a check only: a
    time point whose anatomy appears moved (:func:`_appears_moved`) is warned about, since
    its regions are then measured where the anatomy was at the first time point."""
    from lutetia.imaging.registration import register_rigid

    first = volumes[0]
    transforms = [_identity()]
    report: list[dict[str, Any]] = [
        {"time_point": 0, "reference": True, "translation_mm": [0.0, 0.0, 0.0]}
    ]
    for index, volume in enumerate(volumes[1:], start=1):
        if options.register:
            _say(progress, f"registering time point {index + 1}")
            registration = register_rigid(first, volume)
            entry = {
                "time_point": index,
                "reference": False,
                "registered": True,
                **registration.as_dict(),
            }
        else:
            registration = _identity()
            entry = {
                "time_point": index,
                "reference": False,
                "registered": False,
                "translation_mm": [0.0, 0.0, 0.0],
                "metric": "none (not registered: the identity transform)",
            }
            _say(progress, f"checking time point {index + 1} for motion")
            try:
                check = register_rigid(first, volume)
            except BadInputError as error:
                entry["motion_check"] = f"not done: {error}"
            else:
                entry["motion_check"] = check.as_dict()
                if _appears_moved(check, first.grid):
                    t = ", ".join(f"{v:.1f}" for v in check.translation_mm)
                    warnings.append(
                        f"{paths[index]} appears moved relative to the first time point "
                        f"({paths[0]}): a rigid "
                        f"registration finds a translation of ({t}) mm and rotations of "
                        f"{max(abs(a) for a in check.rotation_deg):.1f}° at most, raising the "
                        f"correlation from {check.ncc_before:.2f} to {check.ncc_after:.2f}; "
                        "without --register its regions are measured where the anatomy was at "
                        "the first time point"
                    )
        transforms.append(registration)
        report.append(entry)
    return transforms, report


def _appears_moved(check: Registration, grid: Grid) -> bool:
    """Whether a check registration found motion that matters: a translation of more than
    :data:`MOTION_VOXELS` voxels along an axis or a rotation above
    :data:`MOTION_ROTATION_DEG`, that raised the correlation by more than
    :data:`MOTION_NCC_GAIN` (a transform that aligns nothing better is not motion)."""
    shifted = any(
        abs(t) > MOTION_VOXELS * s
        for t, s in zip(check.translation_mm, grid.spacing_mm, strict=True)
    )
    turned = max(abs(a) for a in check.rotation_deg) > MOTION_ROTATION_DEG
    gained = check.ncc_after - check.ncc_before > MOTION_NCC_GAIN
    return (shifted or turned) and gained


def _on_first_grid(volumes: list[Volume], transforms: list[Registration]) -> list[Volume]:
    """Every time point resampled onto the first one's grid (for the voxel-wise fit)."""
    from lutetia.imaging.registration import resample

    first = volumes[0]
    aligned = [first]
    for volume, registration in zip(volumes[1:], transforms[1:], strict=True):
        moved = registration.translation_mm != (0.0, 0.0, 0.0) or any(registration.rotation_deg)
        if moved or not volume.grid.same_as(first.grid, tol_mm=1e-3):
            volume = resample(volume, registration, first.grid)  # noqa: PLW2901
        aligned.append(volume)
    return aligned


def _region_activities(
    name: str,
    mask: NDArray[np.bool_],
    volumes: list[Volume],
    transforms: list[Registration],
    warnings: list[str],
) -> tuple[float | None, ...]:
    """Activity (MBq) in the region at each time point, on that time point's own voxels;
    None where more than :data:`MAX_MEASURED_LOST_FRACTION` of it lies outside that time
    point's field of view (not measured).

    The region, drawn on the first time point's grid, is carried onto each
    later one through its transform (:func:`lutetia.imaging.registration.transfer_mask`).
    """
    from lutetia.imaging.registration import transfer_mask

    first = volumes[0]
    activities: list[float | None] = [_activity_mbq(first, mask)]
    for index, (volume, registration) in enumerate(
        zip(volumes[1:], transforms[1:], strict=True), start=1
    ):
        moved = registration.translation_mm != (0.0, 0.0, 0.0) or any(registration.rotation_deg)
        if not moved and volume.grid.same_as(first.grid, tol_mm=1e-3):
            activities.append(_activity_mbq(volume, mask))
            continue
        carried, lost = transfer_mask(mask, first.grid, registration, volume.grid)
        if lost > MAX_MEASURED_LOST_FRACTION:
            warnings.append(
                f"{name}: {100 * lost:.1f} % of the region falls outside the field of view of "
                f"time point {index + 1}; not measured there, that point is left out of its "
                "curve"
            )
            activities.append(None)
            continue
        if lost > MAX_LOST_FRACTION:
            warnings.append(
                f"{name}: {100 * lost:.1f} % of the region falls outside the field of view of "
                f"time point {index + 1}; its activity there is underestimated"
            )
        activities.append(_activity_mbq(volume, carried))
    return tuple(activities)


def _as_region_error(error: BadInputError) -> BadInputError:
    """An error of the organ dosimetry named as the region's quantity, not as the option
    of ``lutetia dose tac`` (``--mass-g``) that this command does not have."""
    if not error.field.startswith("--"):
        return error
    return BadInputError(error.field.removeprefix("--").replace("-", "_"), error.reason)


def _identity() -> Registration:
    """No transform: for resampling one grid onto another in the same frame."""
    from lutetia.imaging.registration import Registration

    return Registration(
        (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0),
        "none (not registered)", math.nan, math.nan, math.nan, 0, "not registered", (),
    )  # fmt: skip


def _body(volumes: Sequence[Volume], masks: Masks) -> NDArray[np.bool_]:
    import numpy as np

    if "body" in masks:
        return masks["body"]
    union = np.zeros(volumes[0].grid.shape, dtype=bool)
    for name in masks.names():
        union |= masks[name]
    values = np.asarray(volumes[0].values, dtype=np.float64)
    level = BODY_FRACTION * float(np.percentile(values, 99.0))
    result: NDArray[np.bool_] = union | (values > level)
    return result


def run_study(
    inputs: StudyInputs,
    options: Options,
    *,
    progress: Progress | None = None,
    rtdose_writer: Callable[[NDArray[np.float64], Any], None] | None = None,
    fit_status_writer: Callable[[NDArray[Any], Any], None] | None = None,
) -> dict[str, Any]:
    """Organ and lesion doses (and, if asked, a dose map and DVHs) of one study.

    ``rtdose_writer(dose_gy, grid)`` is called with the dose map when there is
    one (the command line writes the RTDOSE file through it), and
    ``fit_status_writer(status_map, grid)`` with the map of where voxel fits failed or
    were replaced (:class:`lutetia.dosimetry.batch.Status` codes, −1 outside the body;
    the document's ``voxelwise.fit_status_codes`` says what each means).
    """

    from lutetia.dosimetry.absorbed import absorbed_dose
    from lutetia.dosimetry.bed import KIDNEY_REGIONS
    from lutetia.dosimetry.kinetics import TimeActivity, select_models
    from lutetia.imaging.dicom import read_series
    from lutetia.imaging.masks import read_masks
    from lutetia.imaging.mass import region_masses

    volumes, injection, warnings, paths = _read_spect(inputs, options, progress)
    transforms, registration = _align(volumes, options, progress, warnings, paths)
    for entry, path in zip(registration, paths, strict=True):
        entry["series"] = str(path)
    grid = volumes[0].grid
    times_h = tuple(
        (v.acquired_at - injection.at).total_seconds() / 3600.0
        for v in volumes
        if v.acquired_at is not None
    )
    _say(progress, "mapping the regions")
    masks = read_masks(inputs.masks, labels_file=inputs.labels, reference=grid)
    warnings.extend(masks.warnings)
    ct = None
    if inputs.ct is not None:
        _say(progress, "reading the CT")
        ct = read_series(inputs.ct, timezone=options.timezone, modalities=("CT",))
        if ct.quantity != "ct_number":
            raise BadInputError(str(inputs.ct), f"is {ct.quantity}, not a CT")
    try:
        masses = region_masses(masks, ct)
    except BadInputError as error:
        if inputs.ct is None or not error.field.startswith("ct."):
            raise
        tag = "FrameOfReferenceUID" if error.field == "ct.frame_of_reference_uid" else error.field
        raise BadInputError(
            f"--ct {inputs.ct}: {tag}", f"{error.reason} (the masks and the CT must share one)"
        ) from None
    if ct is not None and inputs.ct is not None:
        _check_ct(inputs, masses, warnings)
    regions: dict[str, dict[str, Any]] = {}
    curves: dict[str, TimeActivity | BadInputError] = {}
    for name in masks.names():
        _say(progress, f"measuring {name}")
        activities = _region_activities(name, masks[name], volumes, transforms, warnings)
        regions[name] = {
            "mass_g": masses[name].mass_g,
            "mass_method": masses[name].method,
            "volume_ml": masks.regions[name].volume_ml,
            "timepoints": [
                {"t_h": t, "activity_mbq": a} for t, a in zip(times_h, activities, strict=True)
            ],
        }
        kept = [(t, a) for t, a in zip(times_h, activities, strict=True) if a is not None]
        try:
            curves[name] = TimeActivity(tuple(t for t, _ in kept), tuple(a for _, a in kept))
        except BadInputError as error:
            curves[name] = _as_region_error(error)
    # Every region's TAC in one batch of the kinetics engine.
    _say(progress, "fitting the regions' time-activity curves")
    measured = [name for name, curve in curves.items() if isinstance(curve, TimeActivity)]
    fits = dict(
        zip(measured, select_models([cast(TimeActivity, curves[n]) for n in measured]), strict=True)
    )
    for name, region in regions.items():
        try:
            curve = curves[name]
            fit = curve if isinstance(curve, BadInputError) else fits[name]
            if isinstance(fit, BadInputError):
                raise _as_region_error(fit)
            try:
                dose = absorbed_dose(fit.tia_mbq_h, masses[name].mass_g, mass_range_key(name))
            except BadInputError as error:
                raise _as_region_error(error) from None
        except BadInputError as error:
            region.update(
                model=None, tia_mbq_h=None, tia_sd_mbq_h=None, absorbed_dose_gy=None,
                absorbed_dose_gy_per_gbq=None, error=str(error),
            )  # fmt: skip
            warnings.append(f"{name}: no dose ({error})")
        else:
            region.update(
                model=fit.model,
                parameters=fit.parameters,
                tia_mbq_h=fit.tia_mbq_h,
                tia_sd_mbq_h=fit.tia_sd_mbq_h,
                effective_half_life_h=fit.effective_half_life_h,
                absorbed_dose_gy=dose.absorbed_dose_gy,
                absorbed_dose_gy_per_gbq=dose.absorbed_dose_gy / (injection.activity_bq / 1e9),
                dose_model=dose.model,
                fit_notes=[*fit.notes, *_untried_models(len(cast(TimeActivity, curves[name])))],
            )
            warnings.extend(f"{name}: {w}" for w in (*fit.warnings, *dose.warnings))
            if name in KIDNEY_REGIONS:
                region.update(_kidney_course(fit, dose.absorbed_dose_gy, options))
                warnings.extend(f"{name}: {w}" for w in region["course"]["warnings"])
    document: dict[str, Any] = {
        "regions": regions,
        "registration": registration,
        "injection": {
            "activity_mbq": injection.activity_bq / 1e6,
            "datetime": injection.at.isoformat(),
            "nuclide": injection.nuclide or "Lu-177",
            "source": injection.source,
        },
        "timepoints_h": list(times_h),
        "series": [
            {
                "time_point": index,
                "path": str(path),
                "acquired_at": volume.acquired_at.isoformat() if volume.acquired_at else None,
                "t_h": t,
                "quantification": volume.source,
            }
            for index, (path, volume, t) in enumerate(zip(paths, volumes, times_h, strict=True))
        ],
        "regions_source": {"file": str(inputs.masks), "method": masks.method},
        "assumptions": [
            "activity = Σ concentration × voxel volume over each region, at the start of each "
            "acquisition (each series' values brought to its acquisition start as "
            "series[].quantification states: decay during the frame corrected where the file "
            "is not decay corrected), not decay-corrected to the administration",
            "each region's time-activity curve: the models with enough points (n ≥ k + 2) "
            "fitted and the simplest within ΔAICc < 2 of the best chosen (regions[].fit_notes "
            "lists them); the fitted curve is integrated from the administration (t = 0, "
            "extrapolated back before the first point) to infinity",
            "registration translations in mm in the DICOM patient frame (LPS) of the first "
            "time point",
            "regions are drawn on the first time point's grid and carried onto each later one "
            "through its transform (nearest neighbour); counts are summed on each time point's "
            "own voxels, not interpolated"
            + ("" if options.register else " (no registration: the identity transform)"),
            "no partial-volume (recovery) correction: activity that the SPECT resolution "
            "spills out of a region is not counted in it",
            "time of each point: acquisition start − administration (DICOM tags)",
            "organ dose: TIA × S value of a sphere of the region's mass (self-dose only, "
            "lutetia.dosimetry.absorbed); a combined region (kidneys: left and right; "
            "salivary glands; …) is one sphere of the parts' summed mass, each part also "
            "given on its own",
            "the CT is taken as aligned with the first time point in the DICOM patient frame "
            "(same frame of reference, or one scanner session): it is not registered to the "
            "SPECT",
            "kidney regions: BED of this cycle from the fitted kinetics (α/β 2.6 Gy, repair "
            "half-time 2.8 h), added to the cycles already given (--kidney-already-gy, "
            "--kidney-already-bed-gy: applied to every kidney region) and compared with the "
            "course limits (absorbed 23 Gy; BED 40 Gy, 28 Gy with --risk-factors)",
        ],
        "warnings": warnings,
    }
    if options.voxelwise:
        document["assumptions"].extend(
            [
                "voxel-wise: each later time point resampled onto the first one's grid "
                "through its transform (linear interpolation), every voxel of the body "
                "fitted on its own (voxelwise.models, fit_status_codes)",
                "voxel dose by local deposition: the electron energy stays in its voxel, the "
                "photon energy is left out (a few percent of an organ's dose, which the "
                "organ doses include)"
                if not options.kernel
                else "voxel dose by kernel convolution: electrons and photons transported as "
                "in water (voxelwise.dose_method)",
            ]
        )
        document.update(
            _voxelwise(
                _on_first_grid(volumes, transforms),
                times_h,
                masks,
                ct=ct,
                options=options,
                progress=progress,
                rtdose_writer=rtdose_writer,
                fit_status_writer=fit_status_writer,
            )
        )
        for name, dvh_entry in document.pop("_dvh").items():
            regions[name]["mean_voxel_dose_gy"] = dvh_entry["mean_gy"]
            regions[name]["dvh"] = dvh_entry
    return document


def _kidney_course(fit: Any, absorbed_gy: float, options: Options) -> dict[str, Any]:
    """The kidney region's BED for this cycle, from its fitted kinetics (the dose rate is
    the activity curve times the region's S value, Ḋ(t) = (D/Ã)·A(t)), and the course check
    against the kidney limits (:func:`lutetia.dosimetry.bed.kidney_course_check`)."""
    from lutetia.dosimetry.bed import (
        KIDNEY_ALPHA_BETA_GY,
        KIDNEY_REPAIR_HALF_TIME_H,
        bed_from_rates,
        kidney_course_check,
    )
    from lutetia.dosimetry.kinetics import components

    gy_per_mbq_h = absorbed_gy / fit.tia_mbq_h
    amplitudes, lambdas = components(fit.model, list(fit.parameters.values()))
    bed = bed_from_rates([a * gy_per_mbq_h for a in amplitudes], lambdas)
    check = kidney_course_check(
        absorbed_gy, bed, already_gy=options.kidney_already_gy,
        already_bed_gy=options.kidney_already_bed_gy, risk_factors=options.risk_factors,
    )  # fmt: skip
    return {
        "bed_gy": bed,
        "bed_parameters": {
            "alpha_beta_gy": KIDNEY_ALPHA_BETA_GY,
            "repair_half_time_h": KIDNEY_REPAIR_HALF_TIME_H,
            "method": "Lea–Catcheside factor of the fitted kinetics (Dale 1985); kidney "
            "α/β and repair half-time of Barone et al. 2005 (lutetia.dosimetry.bed)",
        },
        "course": {
            "already_gy": options.kidney_already_gy,
            "already_bed_gy": options.kidney_already_bed_gy,
            "absorbed_total_gy": check.absorbed_total_gy,
            "bed_total_gy": check.bed_total_gy,
            "absorbed_limit_gy": check.absorbed_limit.limit_gy,
            "absorbed_limit_source": check.absorbed_limit.source,
            "bed_limit_gy": check.bed_limit.limit_gy,
            "bed_limit_source": check.bed_limit.source,
            "further_cycles_within_limits": check.further_cycles,
            "warnings": list(check.warnings),
        },
    }


def voxel_density_g_per_ml(ct_hu: Any, calibration: DensityCalibration) -> Any:
    """Density of each voxel for the voxel dose: from the CT, at least the floor.

    >>> from lutetia.imaging.mass import DensityCalibration
    >>> c = DensityCalibration(((-1000.0, 0.0), (0.0, 1.0), (1000.0, 2.0)), "example")
    >>> voxel_density_g_per_ml([-1000.0, -800.0, 0.0, 500.0], c).round(4).tolist()
    [0.1, 0.2, 1.0, 1.5]
    """
    import numpy as np

    density = calibration.density_g_per_ml(np.asarray(ct_hu, dtype=np.float64))
    return np.maximum(density, MIN_VOXEL_DENSITY_G_PER_ML)


def voxel_mass_g(ct_hu: Any, calibration: DensityCalibration, voxel_volume_ml: float) -> Any:
    """Mass of each voxel for local deposition: :func:`voxel_density_g_per_ml` × volume.

    >>> from lutetia.imaging.mass import DensityCalibration
    >>> c = DensityCalibration(((-1000.0, 0.0), (0.0, 1.0), (1000.0, 2.0)), "example")
    >>> voxel_mass_g([-1000.0, -800.0, 0.0, 500.0], c, 0.1).round(4).tolist()
    [0.01, 0.02, 0.1, 0.15]
    """
    return voxel_density_g_per_ml(ct_hu, calibration) * voxel_volume_ml


def ct_density_on_grid(ct: Volume, grid: Grid, calibration: DensityCalibration) -> Any:
    """Density (g/mL) of each voxel of ``grid`` (the SPECT's) from the CT: the HU averaged over
    a box of the grid's voxel size along the CT's axes, sampled (trilinear) at the voxel
    centres, converted by ``calibration`` and floored (:func:`voxel_density_g_per_ml`).

    Where the calibration is linear over the voxel's HU (air with soft tissue: skin, lung,
    bowel gas; soft tissue with bone) the mean HU gives the mean density; a SPECT voxel
    that is partly air had been given the density of its centre point alone (37 % tissue
    read as 0.1 g/mL: a voxel dose 10 times its own, a review).
    """
    import numpy as np
    from scipy.ndimage import uniform_filter

    from lutetia.imaging.registration import resample

    di, dj, dk = grid.spacing_mm
    ci, cj, ck = ct.grid.spacing_mm
    box = tuple(max(1, round(s / c)) for s, c in ((dk, ck), (dj, cj), (di, ci)))
    averaged = uniform_filter(np.asarray(ct.values, dtype=np.float64), size=box, mode="nearest")
    smoothed = replace(
        ct,
        values=averaged,
        source=f"{ct.source}; HU averaged over {box[2]}×{box[1]}×{box[0]} CT voxels",
    )
    return voxel_density_g_per_ml(resample(smoothed, _identity(), grid).values, calibration)


def _voxelwise(
    volumes: list[Volume],
    times_h: tuple[float, ...],
    masks: Masks,
    *,
    ct: Volume | None,
    options: Options,
    progress: Progress | None,
    rtdose_writer: Callable[[NDArray[np.float64], Any], None] | None,
    fit_status_writer: Callable[[NDArray[Any], Any], None] | None = None,
) -> dict[str, Any]:
    import numpy as np

    from lutetia.dosimetry.batch import REASONS, fit_voxels
    from lutetia.dosimetry.voxel import (
        convolve_dose_gy,
        density_corrected_dose_gy,
        dose_voxel_kernel,
        dvh,
        local_deposition_dose_gy,
    )

    grid = volumes[0].grid
    voxel_ml = grid.voxel_volume_ml
    _say(progress, "fitting every voxel")
    images = np.stack([np.asarray(v.values, dtype=np.float32) for v in volumes])
    images *= np.float32(voxel_ml / 1e6)  # Bq/mL → MBq per voxel
    body = _body(volumes, masks)
    fits = fit_voxels(np.array(times_h), images, mask=body)
    del images
    tia = np.nan_to_num(fits.tia_mbq_h, nan=0.0)
    tia = np.clip(tia, 0.0, None)
    from lutetia.imaging.mass import DEFAULT_DENSITY_G_PER_ML

    # Without a CT: the default density of the region masses (water, as S values assume).
    density: Any = DEFAULT_DENSITY_G_PER_ML
    density_note = f"unit density ({DEFAULT_DENSITY_G_PER_ML:g} g/mL) in every voxel (no CT)"
    if ct is not None:
        from lutetia.imaging.mass import default_calibration

        calibration = default_calibration()
        density = ct_density_on_grid(ct, grid, calibration)
        density_note = (
            "voxel density from the CT averaged over each SPECT voxel (HU averaged over a box "
            f"of the SPECT voxel's size, sampled at its centre; {calibration.source}), at least "
            f"{MIN_VOXEL_DENSITY_G_PER_ML:g} g/mL"
        )
    if options.kernel:
        _say(progress, "convolving with the dose-voxel kernel")
        kernel = dose_voxel_kernel(grid.spacing_mm)
        dose = convolve_dose_gy(tia, kernel)
        method = f"convolution with the 177Lu dose-voxel kernel ({kernel.method})"
        if ct is not None:
            # Outside the body (the voxels fitted) the kernel's water stays: the floor would
            # give the energy the kernel spreads into air ten times a tissue's dose.
            inside = np.where(body, density, kernel.density_g_per_cm3)
            dose = density_corrected_dose_gy(
                dose, inside, kernel_density_g_per_ml=kernel.density_g_per_cm3
            )
            method += (
                f"; each voxel's dose in the body scaled by the kernel's density "
                f"({kernel.density_g_per_cm3:g} g/mL) over the voxel's ({density_note}; "
                "Dieudonné et al. 2013, J Nucl Med 54:236: energy transported as in water); "
                "outside the body, water"
            )
        else:
            method += f"; {density_note}"
    else:
        _say(progress, "local energy deposition")
        dose = local_deposition_dose_gy(tia, density * voxel_ml)
        method = f"local deposition of the ICRP-107 electron energy; {density_note}"
    if rtdose_writer is not None:
        rtdose_writer(dose, grid)
    if fit_status_writer is not None:
        fit_status_writer(fits.status_map, grid)
    dvhs: dict[str, dict[str, Any]] = {}
    for name in masks.names():
        curve = dvh(dose, masks[name], voxel_volume_ml=voxel_ml)
        dvhs[name] = {
            "d2_gy": curve.d2_gy,
            "d50_gy": curve.d50_gy,
            "d98_gy": curve.d98_gy,
            "mean_gy": curve.mean_gy,
            "min_gy": curve.min_gy,
            "max_gy": curve.max_gy,
            "volume_ml": curve.volume_ml,
            # The cumulative DVH: the fraction of the region receiving at least each dose.
            "curve": {
                "dose_gy": curve.curve_dose_gy.tolist(),
                "volume_fraction": curve.curve_volume_fraction.tolist(),
            },
        }
    return {
        "_dvh": dvhs,
        "voxelwise": {
            "voxels_fitted": int(np.count_nonzero(body)),
            "models": fits.model_counts,
            "failures": fits.failure_counts,
            "fit_status_codes": {str(int(code)): reason for code, reason in REASONS.items()},
            "dose_method": method,
            "max_dose_gy": float(np.max(dose)),
        },
    }
