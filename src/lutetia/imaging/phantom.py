"""A synthetic 177Lu-PSMA patient with analytic truth, written as DICOM and NIfTI.

The phantom is this project's own definition (not a model of real anatomy
or published kinetics): ellipsoidal organs in LPS millimetres, each holding
a uniform activity concentration whose total follows a sum of exponentials

    A(t) = A_inj · Σ cₙ · exp(−(λ_phys + ln 2 / T_bio,n) · t)

so that the time-integrated activity is analytic, Ã = A_inj · Σ cₙ / (λ_phys + ln 2/T_bio,n)
(MIRD Pamphlet 21, Bolch et al., J Nucl Med 2009;50:477, eq. 6). A negative
cₙ makes an uptake phase. λ_phys is the ICRP-107 177Lu decay constant.

Written files (``folder``):

* ``spect_<t>h/nm.dcm``: one DICOM NM multi-frame reconstructed tomography
  per time point (counts; the reader converts with ``calibration_cps_per_mbq``),
  with the anatomy moved by a known rigid shift at later time points;
* ``ct/ct_<n>.dcm``: a single-frame CT series (HU per organ), same frame of
  reference and grid as the first SPECT;
* ``pet/pet_<n>.dcm``: a 68Ga-PSMA-11 PET series (Units BQML, DecayCorrection
  START) whose SUVbw per organ is known;
* ``labels.nii.gz`` and ``labels.json``: the label map of the CT anatomy and
  the label names; ``truth.json``: the truth below.

Organ masses are voxel count × voxel volume × density with the phantom's own
density model ρ = 1 + HU/1000 g/mL (air −1000 HU → 0, water 0 HU → 1).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lutetia.errors import BadInputError
from lutetia.imaging.volume import Grid

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True)
class Organ:
    """One region of the phantom: an ellipsoid (LPS mm), its CT number, kinetics and PET SUV."""

    name: str
    centre_mm: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]
    hu: float
    #: (fraction of the injected activity cₙ, biological half-life T_bio,n in h)
    terms: tuple[tuple[float, float], ...]
    pet_suv: float


#: The phantom's organs, painted in this order (later ones overwrite earlier ones).
ORGANS: tuple[Organ, ...] = (
    Organ("rest_of_body", (0, 0, 0), (140, 100, 150), 0.0, ((0.25, 3.0), (0.15, 60.0)), 0.5),
    Organ("liver", (-60, 10, 40), (55, 45, 45), 55.0, ((0.03, 60.0),), 5.0),
    Organ("spleen", (70, 30, 50), (25, 20, 35), 45.0, ((0.005, 50.0),), 8.0),
    Organ("kidney_right", (-45, 45, 0), (20, 17, 40), 30.0, ((0.02, 40.0),), 40.0),
    Organ("kidney_left", (45, 45, 5), (20, 17, 40), 30.0, ((0.02, 40.0),), 40.0),
    Organ("parotid_right", (-50, 10, 120), (12, 15, 18), -20.0, ((0.004, 20.0),), 12.0),
    Organ("parotid_left", (50, 10, 120), (12, 15, 18), -20.0, ((0.004, 20.0),), 12.0),
    Organ("submandibular_right", (-30, -15, 100), (10, 10, 10), 30.0, ((0.002, 20.0),), 10.0),
    Organ("submandibular_left", (30, -15, 100), (10, 10, 10), 30.0, ((0.002, 20.0),), 10.0),
    Organ("lesion_bone_1", (0, 70, -60), (14, 14, 14), 400.0, ((0.02, 120.0), (-0.02, 2.0)), 30.0),
    Organ("lesion_lymph_node_1", (20, 20, -100), (11, 11, 11), 40.0, ((0.008, 100.0),), 20.0),
)

#: Scanner clock of the phantom (Central European Time, written as TimezoneOffsetFromUTC).
PHANTOM_TZ = timezone(timedelta(hours=1))
INJECTED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=PHANTOM_TZ)
PET_TRACER = "68Ga-PSMA-11"
PET_INJECTED_MBQ = 150.0
PET_WEIGHT_KG = 80.0
PET_UPTAKE_MIN = 60.0
#: SPECT acquisition: views × time per view (RotationInformationSequence).
VIEWS = 60
TIME_PER_VIEW_S = 20.0


@dataclass(frozen=True)
class OrganTruth:
    """Analytic truth for one region."""

    label: int
    hu: float
    density_g_per_ml: float
    voxels: int
    volume_ml: float
    mass_g: float
    #: (coefficient MBq, rate constant 1/h) of A(t) = Σ c·e^(−k t)
    terms_mbq_per_h: tuple[tuple[float, float], ...]
    activity_mbq: tuple[float, ...]  # at each SPECT time point
    tia_mbq_h: float
    pet_suv: float

    def activity_at_mbq(self, hours: float) -> float:
        """A(t) in MBq, t hours after the 177Lu injection."""
        return sum(c * math.exp(-k * hours) for c, k in self.terms_mbq_per_h)


@dataclass(frozen=True)
class PhantomTruth:
    """What the phantom holds, analytically, and where its files are."""

    folder: Path
    grid: Grid
    injected_mbq: float
    injected_at: datetime
    nuclide: str
    half_life_h: float
    timepoints_h: tuple[float, ...]
    acquired_at: tuple[datetime, ...]
    shifts_mm: tuple[tuple[float, float, float], ...]  # anatomy shift at each time point (LPS)
    calibration_cps_per_mbq: float
    acquisition_s: float
    organs: dict[str, OrganTruth]
    label_names: dict[int, str]
    spect_dirs: tuple[Path, ...]
    ct_dir: Path
    pet_dir: Path
    labels_path: Path
    label_names_path: Path
    pet_injected_mbq: float = PET_INJECTED_MBQ
    pet_weight_kg: float = PET_WEIGHT_KG
    pet_at: datetime = field(default=INJECTED_AT)
    seed: int = 0


def _labels(grid: Grid, shift_mm: tuple[float, float, float]) -> NDArray[np.int32]:
    """Paint the organs (moved by ``shift_mm``) on the grid, by voxel centre."""
    nk, nj, ni = grid.shape
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    points = grid.index_to_lps(np.stack([i, j, k], axis=-1).astype(np.float64))
    labels = np.zeros(grid.shape, dtype=np.int32)
    for label, organ in enumerate(ORGANS, start=1):
        centre = np.array(organ.centre_mm) + np.array(shift_mm)
        inside = np.sum(((points - centre) / np.array(organ.semi_axes_mm)) ** 2, axis=-1) <= 1.0
        labels[inside] = label
    return labels


def _uid(seed: int, *parts: object) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["lutetia-phantom", str(seed), *map(str, parts)]))


def _base(modality: str, sop_class: str, sop_uid: str, ids: dict[str, str], when: datetime) -> Any:
    from pydicom.dataset import Dataset as PydicomDataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = PydicomDataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.Modality = modality
    ds.PatientName = "Phantom^Lutetia"
    ds.PatientID = "LUTETIA-PHANTOM"
    ds.PatientBirthDate = "19550101"
    ds.PatientSex = "M"
    ds.PatientWeight = PET_WEIGHT_KG
    ds.StudyInstanceUID = ids["study"]
    ds.SeriesInstanceUID = ids["series"]
    ds.FrameOfReferenceUID = ids["frame"]
    ds.StudyID = "1"
    ds.SeriesNumber = int(ids["number"])
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.TimezoneOffsetFromUTC = when.strftime("%z")
    ds.Manufacturer = "Lutetia synthetic phantom"
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    return ds


def _radiopharmaceutical(
    nuclide: str,
    meaning: str,
    code: str,
    *,
    activity_bq: float,
    at: datetime,
    half_life_s: float,
    modality: str,
) -> Any:
    """The Radiopharmaceutical Information Sequence; Radionuclide Total Dose in MBq for NM
    (PS3.3 C.8.4.10.1.7), in Bq for PT (PS3.3 C.8.9.2)."""
    from pydicom.dataset import Dataset as PydicomDataset
    from pydicom.sequence import Sequence

    radionuclide = PydicomDataset()
    radionuclide.CodeValue = code
    radionuclide.CodingSchemeDesignator = "SCT"
    radionuclide.CodeMeaning = meaning
    item = PydicomDataset()
    item.Radiopharmaceutical = nuclide
    item.RadionuclideCodeSequence = Sequence([radionuclide])
    total = activity_bq / 1e6 if modality == "NM" else activity_bq
    item.RadionuclideTotalDose = f"{total:.6e}"
    item.RadionuclideHalfLife = f"{half_life_s:.6g}"
    item.RadiopharmaceuticalStartDateTime = at.strftime("%Y%m%d%H%M%S") + at.strftime("%z")
    return Sequence([item])


def _pixels(ds: Any, stored: NDArray[Any], signed: bool) -> None:
    ds.Rows, ds.Columns = int(stored.shape[-2]), int(stored.shape[-1])
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = np.ascontiguousarray(stored.astype("<i2" if signed else "<u2")).tobytes()


def _ds(values: tuple[float, ...]) -> list[str]:
    return [f"{v:.10g}" for v in values]


def write_nm(
    path: Path,
    grid: Grid,
    counts: NDArray[np.float64],
    *,
    ids: dict[str, str],
    when: datetime,
    radiopharmaceutical: Any,
) -> None:
    """Write counts (shape (k, j, i)) as one NM multi-frame RECON TOMO file (PS3.3 C.8.4)."""
    from pydicom.dataset import Dataset as PydicomDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import NuclearMedicineImageStorage

    ds = _base("NM", NuclearMedicineImageStorage, ids["sop"], ids, when)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.SeriesDescription = ids["description"]
    frames = grid.shape[0]
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = [0x00540080]
    ds.NumberOfSlices = frames
    ds.SliceVector = list(range(1, frames + 1))
    ds.PixelSpacing = _ds((grid.spacing_mm[1], grid.spacing_mm[0]))
    ds.SliceThickness = f"{grid.spacing_mm[2]:.10g}"
    ds.SpacingBetweenSlices = f"{grid.spacing_mm[2]:.10g}"
    detector = PydicomDataset()
    direction = grid.direction_matrix
    detector.ImageOrientationPatient = _ds((*direction[:, 0], *direction[:, 1]))
    detector.ImagePositionPatient = _ds(grid.origin_mm)
    ds.DetectorInformationSequence = Sequence([detector])
    ds.NumberOfDetectors = 1
    rotation = PydicomDataset()
    rotation.NumberOfFramesInRotation = VIEWS
    rotation.ActualFrameDuration = int(TIME_PER_VIEW_S * 1000)
    ds.RotationInformationSequence = Sequence([rotation])
    ds.NumberOfRotations = 1
    window = PydicomDataset()
    window.EnergyWindowName = "Lu177_208keV"
    ds.EnergyWindowInformationSequence = Sequence([window])
    ds.NumberOfEnergyWindows = 1
    ds.RadiopharmaceuticalInformationSequence = radiopharmaceutical
    peak = float(np.max(counts)) if counts.size else 0.0
    slope = peak / 60000.0 if peak > 0 else 1.0
    ds.RescaleSlope = f"{slope:.10g}"
    ds.RescaleIntercept = "0"
    _pixels(ds, np.round(counts / slope), signed=False)
    ds.save_as(path, enforce_file_format=True)


def write_slices(
    folder: Path,
    prefix: str,
    grid: Grid,
    values: NDArray[np.float64],
    *,
    ids: dict[str, str],
    when: datetime,
    extra: dict[str, Any],
) -> list[Path]:
    """Write a single-frame CT or PT series, one file per slice (PS3.3 C.7.6.2)."""
    from pydicom.uid import CTImageStorage, PositronEmissionTomographyImageStorage

    modality = str(extra.get("Modality", "CT"))
    sop_class = CTImageStorage if modality == "CT" else PositronEmissionTomographyImageStorage
    folder.mkdir(parents=True, exist_ok=True)
    direction = grid.direction_matrix
    paths = []
    for k in range(grid.shape[0]):
        uid = _uid(int(ids["seed"]), ids["series"], k)
        ds = _base(modality, sop_class, uid, ids, when)
        ds.SeriesDescription = ids["description"]
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = _ds((*direction[:, 0], *direction[:, 1]))
        position = grid.index_to_lps([0.0, 0.0, float(k)])
        ds.ImagePositionPatient = _ds(tuple(position))
        ds.SliceLocation = f"{float(position @ direction[:, 2]):.10g}"
        ds.PixelSpacing = _ds((grid.spacing_mm[1], grid.spacing_mm[0]))
        ds.SliceThickness = f"{grid.spacing_mm[2]:.10g}"
        plane = values[k]
        if modality == "CT":
            ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
            stored = np.round(plane + 1024)
            ds.RescaleType = "HU"
            ds.KVP = "120"
        else:
            peak = float(np.max(np.abs(plane)))
            slope = peak / 32000.0 if peak > 0 else 1.0
            ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", "0"
            stored = np.round(plane / slope)
        for key, value in extra.items():
            setattr(ds, key, value)
        _pixels(ds, stored, signed=True)
        path = folder / f"{prefix}_{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def make_phantom(
    folder: str | Path,
    *,
    shape: tuple[int, int, int] = (64, 64, 64),
    spacing_mm: tuple[float, float, float] = (4.8, 4.8, 4.8),
    timepoints_h: tuple[float, ...] = (4, 24, 48, 168),
    injected_mbq: float = 7400,
    seed: int = 0,
    noise: bool = False,
    shift_mm: tuple[float, float, float] = (3.0, -2.0, 4.0),
    calibration_cps_per_mbq: float = 10.0,
) -> PhantomTruth:
    """Write the synthetic patient into ``folder`` and return its analytic truth.

    ``shape`` is (k, j, i), ``spacing_mm`` (Δi, Δj, Δk); the grid is axial,
    centred on the LPS origin. Time point n (of N) has the anatomy moved by
    n/(N−1) × ``shift_mm`` (the first is not moved). With ``noise`` the SPECT
    counts are Poisson samples (numpy, seeded by ``seed``), else their means.
    """
    from lutetia.imaging.nifti import write_label_map
    from lutetia.nuclides import nuclide

    out = Path(folder)
    if not out.is_dir():
        raise BadInputError("folder", f"{out} is not an existing folder")
    if not timepoints_h or any(not (t > 0 and math.isfinite(t)) for t in timepoints_h):
        raise BadInputError("timepoints_h", f"{timepoints_h!r} must be positive hours")
    if not injected_mbq > 0:
        raise BadInputError("injected_mbq", f"{injected_mbq!r} must be positive")
    spacing = tuple(float(s) for s in spacing_mm)
    extent = np.array(spacing) * (np.array(shape[::-1]) - 1)
    grid = Grid(
        shape=shape,
        spacing_mm=(spacing[0], spacing[1], spacing[2]),
        origin_mm=(float(-extent[0] / 2), float(-extent[1] / 2), float(-extent[2] / 2)),
        direction=(1, 0, 0, 0, 1, 0, 0, 0, 1),
        frame_of_reference_uid=_uid(seed, "frame"),
    )
    lu = nuclide("Lu-177")
    lam = math.log(2) / lu.half_life_h
    count = len(timepoints_h)
    shifts = tuple(
        (
            (
                shift_mm[0] * n / (count - 1),
                shift_mm[1] * n / (count - 1),
                shift_mm[2] * n / (count - 1),
            )
            if count > 1
            else (0.0, 0.0, 0.0)
        )
        for n in range(count)
    )
    anatomy = _labels(grid, (0.0, 0.0, 0.0))
    names = {label: organ.name for label, organ in enumerate(ORGANS, start=1)}
    organs: dict[str, OrganTruth] = {}
    for label, organ in enumerate(ORGANS, start=1):
        voxels = int(np.sum(anatomy == label))
        if voxels == 0:
            raise BadInputError(
                "shape", f"{organ.name} has no voxel on this grid: use finer spacing"
            )
        density = 1.0 + organ.hu / 1000.0
        terms = tuple((c * injected_mbq, lam + math.log(2) / t_bio) for c, t_bio in organ.terms)
        volume_ml = voxels * grid.voxel_volume_ml
        organs[organ.name] = OrganTruth(
            label=label,
            hu=organ.hu,
            density_g_per_ml=density,
            voxels=voxels,
            volume_ml=volume_ml,
            mass_g=volume_ml * density,
            terms_mbq_per_h=terms,
            activity_mbq=tuple(sum(c * math.exp(-k * t) for c, k in terms) for t in timepoints_h),
            tia_mbq_h=sum(c / k for c, k in terms),
            pet_suv=organ.pet_suv,
        )

    study = _uid(seed, "study")
    frame = grid.frame_of_reference_uid or ""
    lu_sequence = _radiopharmaceutical(
        "Lu-177 PSMA", "^177^Lutetium", "LU177", activity_bq=injected_mbq * 1e6,
        at=INJECTED_AT, half_life_s=lu.half_life_h * 3600, modality="NM",
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    acquisition_s = VIEWS * TIME_PER_VIEW_S
    mean_decay = -math.expm1(-lam * acquisition_s / 3600) / (lam * acquisition_s / 3600)
    spect_dirs, acquired = [], []
    for n, hours in enumerate(timepoints_h):
        when = INJECTED_AT + timedelta(hours=float(hours))
        labels = anatomy if n == 0 else _labels(grid, shifts[n])
        activity = np.zeros(grid.shape)  # MBq per voxel at acquisition start
        for name, organ_truth in organs.items():
            inside = labels == organ_truth.label
            if not np.any(inside):
                raise BadInputError("shift_mm", f"{name} vanishes from the grid at {hours:g} h")
            activity[inside] = organ_truth.activity_mbq[n] / int(np.sum(inside))
        expected = activity * calibration_cps_per_mbq * acquisition_s * mean_decay
        counts = rng.poisson(expected).astype(np.float64) if noise else expected
        directory = out / f"spect_{hours:g}h"
        directory.mkdir(exist_ok=True)
        ids = {
            "study": study, "series": _uid(seed, "spect", n), "frame": frame,
            "sop": _uid(seed, "spect-sop", n), "number": str(10 + n),
            "description": f"Lu-177 SPECT {hours:g} h", "seed": str(seed),
        }  # fmt: skip
        write_nm(
            directory / "nm.dcm", grid, counts, ids=ids, when=when, radiopharmaceutical=lu_sequence
        )
        spect_dirs.append(directory)
        acquired.append(when)

    ct_values = np.full(grid.shape, -1000.0)
    for organ_truth in organs.values():
        ct_values[anatomy == organ_truth.label] = organ_truth.hu
    ct_ids = {
        "study": study, "series": _uid(seed, "ct"), "frame": frame, "number": "2",
        "description": "CT (phantom)", "seed": str(seed),
    }  # fmt: skip
    write_slices(
        out / "ct", "ct", grid, ct_values, ids=ct_ids, when=acquired[0], extra={"Modality": "CT"}
    )

    ga = nuclide("Ga-68")
    pet_injected_at = INJECTED_AT - timedelta(days=14)
    pet_at = pet_injected_at + timedelta(minutes=PET_UPTAKE_MIN)
    decayed_bq = (
        PET_INJECTED_MBQ * 1e6 * math.exp(-math.log(2) / ga.half_life_h * PET_UPTAKE_MIN / 60)
    )
    pet_values = np.zeros(grid.shape)
    for organ_truth in organs.values():
        # SUVbw = C · W / A(t): C = SUV · A(t) / W (Bq/mL, W in g)
        pet_values[anatomy == organ_truth.label] = (
            organ_truth.pet_suv * decayed_bq / (PET_WEIGHT_KG * 1000)
        )
    pet_ids = {
        "study": _uid(seed, "pet-study"), "series": _uid(seed, "pet"),
        "frame": _uid(seed, "pet-frame"), "number": "1", "description": "PSMA PET (phantom)",
        "seed": str(seed),
    }  # fmt: skip
    pet_extra = {
        "Modality": "PT",
        "Units": "BQML",
        "DecayCorrection": "START",
        "CorrectedImage": ["ATTN", "DECY"],
        "RadiopharmaceuticalInformationSequence": _radiopharmaceutical(
            PET_TRACER, "^68^Gallium", "GA68", activity_bq=PET_INJECTED_MBQ * 1e6,
            at=pet_injected_at, half_life_s=ga.half_life_h * 3600, modality="PT",
        ),
        "ActualFrameDuration": 120000,
    }  # fmt: skip
    write_slices(out / "pet", "pet", grid, pet_values, ids=pet_ids, when=pet_at, extra=pet_extra)

    labels_path = out / "labels.nii.gz"
    write_label_map(grid, anatomy, labels_path)
    names_path = out / "labels.json"
    names_path.write_text(json.dumps({str(k): v for k, v in names.items()}, indent=1) + "\n")
    truth = PhantomTruth(
        folder=out,
        grid=grid,
        injected_mbq=float(injected_mbq),
        injected_at=INJECTED_AT,
        nuclide="Lu-177",
        half_life_h=lu.half_life_h,
        timepoints_h=tuple(float(t) for t in timepoints_h),
        acquired_at=tuple(acquired),
        shifts_mm=shifts,
        calibration_cps_per_mbq=float(calibration_cps_per_mbq),
        acquisition_s=acquisition_s,
        organs=organs,
        label_names=names,
        spect_dirs=tuple(spect_dirs),
        ct_dir=out / "ct",
        pet_dir=out / "pet",
        labels_path=labels_path,
        label_names_path=names_path,
        pet_at=pet_at,
        seed=seed,
    )
    (out / "truth.json").write_text(json.dumps(asdict(truth), default=str, indent=1) + "\n")
    return truth
