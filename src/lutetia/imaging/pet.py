"""PSMA PET: SUVbw images and the ``psma_pet`` block of a case file (pure: values in, values out).

SUVbw (body-weight standardised uptake value, g/mL):

    SUVbw = C(t) · W / (A_inj · e^{−λ (t − t_inj)})

with C(t) the activity concentration (Bq/mL) at the acquisition start t
(this package's decay convention, see :mod:`lutetia.imaging.dicom`), W the
body weight in g, A_inj the injected activity (Bq) at t_inj and λ = ln 2/T½
(Kinahan PE, Fletcher JW, Semin Ultrasound CT MR 2010;31:496-505,
doi:10.1053/j.sult.2010.10.001, eq. 1; QIBA FDG-PET/CT profile, 2016, §3.6).
T½ is ICRP-107's, checked against the Radionuclide Half Life tag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lutetia.errors import BadInputError
from lutetia.imaging.dicom import Injection, checked_half_life_h
from lutetia.imaging.volume import Grid, Volume

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Lesion sites of the case format (``cases.model.LesionSite``), longest first for prefix matching.
LESION_SITES: tuple[str, ...] = (
    "soft_tissue_other",
    "visceral_other",
    "lymph_node",
    "prostate",
    "liver",
    "lung",
    "bone",
)
#: Plausible body weight (kg) for SUVbw.
WEIGHT_RANGE_KG = (20.0, 400.0)


#: A region with more than this share of its volume outside the PET's field of view is not
#: measured: its SUVmean and SUVmax would be those of the part inside.
MAX_OUTSIDE_FRACTION = 0.10
#: A PET scan is made within a few half-lives of its administration (68Ga-PSMA at 50–100
#: min, 18F-PSMA at 90–120 min, both about one half-life); an administration more than this
#: many half-lives before the scan is another one (its decay factor below 1/1000).
MAX_UPTAKE_HALF_LIVES = 10.0
#: SUVs of PSMA PET reach about 100–200 g/mL in the hottest lesions and 5–10 in the liver; an
#: image above this is not in SUV (Units GML on Bq/mL values) or is scaled wrongly.
MAX_SUV_G_PER_ML = 1000.0


def check_suv_plausible(
    volume: Volume, field: str, regions: NDArray[np.bool_], *, scanner_suv: bool
) -> str | None:
    """Refuse an SUVbw image whose maximum in ``regions`` exceeds :data:`MAX_SUV_G_PER_ML`,
    naming ``field``; above it outside the regions (a contamination, a paravenous
    injection: nothing measured) it is returned as a warning. ``scanner_suv``: the values
    are the scanner's SUVbw (Units GML), so a mislabelled unit is the likely cause."""
    values = np.asarray(volume.values)
    if regions.shape != values.shape:
        raise BadInputError("regions", f"shape {regions.shape} is not the PET's {values.shape}")
    inside = float(np.max(values[regions])) if np.any(regions) else 0.0
    outside = float(np.max(values[~regions])) if not np.all(regions) else 0.0
    if inside > MAX_SUV_G_PER_ML:
        cause = (
            "values not in SUV (Units GML on Bq/mL values?) or a wrong scale"
            if scanner_suv
            else "a wrong weight, administered activity or scale"
        )
        raise BadInputError(
            field,
            f"SUVbw up to {inside:.4g} g/mL in the regions, above any PSMA PET "
            f"({MAX_SUV_G_PER_ML:g}): {cause}",
        )
    if outside > MAX_SUV_G_PER_ML:
        return (
            f"SUVbw up to {outside:.4g} g/mL outside the regions, above any PSMA PET "
            f"({MAX_SUV_G_PER_ML:g}): a contamination or the injection site? Not measured; "
            "check the image"
        )
    return None


def check_weight_kg(weight_kg: float, field: str = "patient_weight_kg") -> None:
    """Refuse a body weight outside :data:`WEIGHT_RANGE_KG`, naming ``field``."""
    low, high = WEIGHT_RANGE_KG
    if not (math.isfinite(weight_kg) and low <= weight_kg <= high):
        raise BadInputError(field, f"{weight_kg:g} kg is outside {low:g}–{high:g} kg")


def suv_bw(volume: Volume, patient_weight_kg: float, injection: Injection) -> Volume:
    """SUVbw image from an activity-concentration image (Kinahan & Fletcher 2010, eq. 1).

    Refuses a volume that is not Bq/mL, an implausible weight, an acquisition
    before the injection, and a half-life tag inconsistent with ICRP-107.
    """
    from lutetia.nuclides import decay_factor

    if volume.quantity != "activity_concentration" or volume.unit != "Bq/mL":
        raise BadInputError("volume", f"SUVbw needs Bq/mL, got {volume.quantity} in {volume.unit}")
    check_weight_kg(patient_weight_kg)
    if not (math.isfinite(injection.activity_bq) and injection.activity_bq > 0):
        raise BadInputError("injection.activity_bq", f"{injection.activity_bq!r} must be positive")
    assert volume.acquired_at is not None  # Volume guarantees it for activity concentration
    if volume.acquired_at < injection.at:
        raise BadInputError(
            "injection.at",
            f"{injection.at.isoformat()} is after the acquisition {volume.acquired_at.isoformat()}",
        )
    half_life_h = checked_half_life_h(injection)
    uptake_h = (volume.acquired_at - injection.at).total_seconds() / 3600.0
    if uptake_h > MAX_UPTAKE_HALF_LIVES * half_life_h:
        raise BadInputError(
            "injection.at",
            f"{injection.at.isoformat()} is {uptake_h:.4g} h before the acquisition, more than "
            f"{MAX_UPTAKE_HALF_LIVES:g} half-lives of {injection.nuclide}: not this scan's "
            "administration (check RadiopharmaceuticalStartDateTime)",
        )
    factor = decay_factor(injection.at, volume.acquired_at, half_life_h)
    scale = patient_weight_kg * 1000.0 / (injection.activity_bq * factor)
    values: NDArray[np.float64] = np.asarray(volume.values, dtype=np.float64) * scale
    return Volume(
        grid=volume.grid,
        values=values,
        quantity="suv_bw",
        unit="g/mL",
        acquired_at=volume.acquired_at,
        source=(
            "SUVbw = C·W/(A_inj·e^(−λΔt)) (Kinahan & Fletcher 2010 eq. 1): "
            f"W {patient_weight_kg:g} kg, A_inj {injection.activity_bq:.6g} Bq "
            f"at {injection.at.isoformat()}, "
            f"{injection.nuclide} T½ {half_life_h:.6g} h (ICRP-107), decay factor {factor:.6f}; "
            f"C from: {volume.source}"
        ),
    )


@dataclass(frozen=True)
class RegionStats:
    """SUV statistics of one labelled region."""

    name: str
    label: int
    voxels: int
    volume_ml: float
    suvmax: float
    suvmean: float


@dataclass(frozen=True)
class PsmaPetMeasurement:
    """The ``psma_pet`` block, what it could not fill, and the per-region numbers behind it."""

    block: dict[str, Any]
    missing: tuple[str, ...]
    regions: tuple[RegionStats, ...]
    notes: tuple[str, ...]


def _site(name: str) -> str | None:
    if not name.startswith("lesion_"):
        return None
    rest = name.removeprefix("lesion_")
    for site in LESION_SITES:
        if rest == site or rest.startswith(site + "_"):
            return site
    return None


def _caliper_mm(grid: Grid, mask: NDArray[np.bool_], *, shortest: bool) -> float:
    """Longest diameter (or, with ``shortest``, the smallest principal-axis width) in mm.

    Longest: the largest distance between two voxel centres of the region,
    plus the width of one voxel along that line. Shortest: the extent of
    the voxel centres along the region's minor principal axis, plus the
    width of one voxel along it. Both are voxel approximations of the
    calipers a reader would draw.
    """
    k, j, i = np.nonzero(mask)
    points = grid.index_to_lps(np.stack([i, j, k], axis=-1).astype(np.float64))
    axes = grid.direction_matrix * np.array(grid.spacing_mm)[np.newaxis, :]

    def voxel_width(unit: NDArray[np.float64]) -> float:
        return float(np.sum(np.abs(unit @ axes)))

    if len(points) == 1:
        return min(grid.spacing_mm) if shortest else max(grid.spacing_mm)
    if shortest:
        centred = points - points.mean(axis=0)
        _, _, vectors = np.linalg.svd(centred, full_matrices=False)
        minor = vectors[-1]
        projection = centred @ minor
        return float(np.ptp(projection)) + voxel_width(minor)
    # Candidates for the farthest pair lie on the boundary: keep voxels with a missing neighbour.
    padded = np.pad(mask, 1)
    interior = padded[1:-1, 1:-1, 1:-1].copy()
    for axis in range(3):
        for shift in (-1, 1):
            interior &= np.roll(padded, shift, axis=axis)[1:-1, 1:-1, 1:-1]
    boundary = mask & ~interior
    kb, jb, ib = np.nonzero(boundary)
    edge = grid.index_to_lps(np.stack([ib, jb, kb], axis=-1).astype(np.float64))
    best, pair = 0.0, (edge[0], edge[0])
    for start in range(0, len(edge), 512):
        block = edge[start : start + 512]
        distances = np.linalg.norm(block[:, np.newaxis, :] - edge[np.newaxis, :, :], axis=-1)
        index = np.unravel_index(int(np.argmax(distances)), distances.shape)
        if distances[index] > best:
            best, pair = float(distances[index]), (block[index[0]], edge[index[1]])
    unit = (pair[1] - pair[0]) / best
    return best + voxel_width(unit)


def measure_psma_pet(
    suv: Volume,
    labels: tuple[Grid, NDArray[np.int32]],
    names: dict[int, str],
    *,
    tracer: str | None = None,
    outside_fraction: Mapping[str, float] | None = None,
) -> PsmaPetMeasurement:
    """SUV statistics of labelled regions, and the case file's ``psma_pet`` block from them.

    ``outside_fraction``: per region name, the share of it outside the PET's field of view;
    a region with more than :data:`MAX_OUTSIDE_FRACTION` outside is not measured (its SUVs
    would be of a part of it) and is listed as missing with the reason.

    Region names decide the role: ``liver`` → ``liver_suvmean``; every name
    starting with ``parotid`` (left, right) → ``parotid_suvmean`` (mean over
    their voxels together); ``lesion_<site>[_…]`` with a case-format site
    (``lesion_bone_1``, ``lesion_lymph_node_2``) → a lesion with ``suvmax``,
    ``suvmean`` and ``size_mm`` (longest diameter; short axis for lymph
    nodes, as the case format asks). What the images do not give (FDG,
    soft-tissue component, a tracer not stated) is left out and listed.
    """
    grid, array = labels
    if suv.quantity != "suv_bw":
        raise BadInputError("suv", f"expected an SUVbw image, got {suv.quantity}")
    if array.shape != suv.grid.shape or not grid.same_as(suv.grid, tol_mm=0.01):
        raise BadInputError("labels", "the label map is not on the grid of the SUV image")
    if not np.issubdtype(array.dtype, np.integer):
        raise BadInputError("labels", f"dtype {array.dtype} is not an integer type")
    present = {int(v) for v in np.unique(array)} - {0}
    unnamed = sorted(present - set(names))
    if unnamed:
        raise BadInputError("names", f"labels {unnamed} have no name")
    regions: list[RegionStats] = []
    not_measured = {
        name: f"{100 * share:.0f} % of region {name!r} lies outside the PET's field of view"
        for name, share in (outside_fraction or {}).items()
        if share > MAX_OUTSIDE_FRACTION
    }
    for label in sorted(names):
        mask = array == label
        voxels = int(np.count_nonzero(mask))
        if voxels == 0 or names[label] in not_measured:
            continue
        inside = suv.values[mask]
        regions.append(
            RegionStats(
                name=names[label],
                label=label,
                voxels=voxels,
                volume_ml=voxels * grid.voxel_volume_ml,
                suvmax=float(np.max(inside)),
                suvmean=float(np.mean(inside)),
            )
        )
    assert suv.acquired_at is not None
    block: dict[str, Any] = {"date": suv.acquired_at.isoformat(), "modality": "pet"}
    missing: list[str] = []
    notes = [f"SUV from: {suv.source}"]
    if tracer:
        block["tracer"] = tracer
    else:
        missing.append("tracer: not stated (the liver criterion is exact only for 68Ga-PSMA-11)")
    by_name = {r.name: r for r in regions}
    if "liver" in by_name:
        block["liver_suvmean"] = round(by_name["liver"].suvmean, 3)
    elif "liver" in not_measured:
        missing.append(f"liver_suvmean: {not_measured['liver']}")
    else:
        missing.append("liver_suvmean: no region named 'liver'")
    parotids = [
        label
        for label, name in names.items()
        if name.startswith("parotid") and name not in not_measured
    ]
    parotid_mask = np.isin(array, parotids) if parotids else np.zeros(array.shape, dtype=bool)
    cut = sorted(name for name in not_measured if name.startswith("parotid"))
    if np.any(parotid_mask) and not cut:
        block["parotid_suvmean"] = round(float(np.mean(suv.values[parotid_mask])), 3)
    elif cut:
        missing.append(f"parotid_suvmean: {'; '.join(not_measured[n] for n in cut)}")
    else:
        missing.append("parotid_suvmean: no region named 'parotid…'")
    lesions = []
    for region in regions:
        site = _site(region.name)
        if region.name.startswith("lesion_") and site is None:
            missing.append(
                f"lesions: {region.name!r} names no site of the case format ({LESION_SITES})"
            )
            continue
        if site is None:
            continue
        lymph = site == "lymph_node"
        size = _caliper_mm(grid, array == region.label, shortest=lymph)
        lesions.append(
            {
                "site": site,
                "size_mm": round(size, 1),
                "suvmax": round(region.suvmax, 3),
                "suvmean": round(region.suvmean, 3),
            }
        )
        notes.append(
            f"{region.name}: size_mm is the {'short axis' if lymph else 'longest diameter'} "
            f"measured on {region.voxels} voxels (voxel approximation)"
        )
    for name in sorted(not_measured):
        if name.startswith("lesion_"):
            missing.append(f"lesions: {not_measured[name]}; not measured")
    block["lesions"] = lesions
    if not lesions:
        missing.append("lesions: no region named 'lesion_<site>…'")
    missing.append("lesions[].fdg, lesions[].soft_tissue_component_mm: not determined by PET")
    return PsmaPetMeasurement(block, tuple(missing), tuple(regions), tuple(notes))


def psma_pet_block(
    suv: Volume,
    labels: tuple[Grid, NDArray[np.int32]],
    names: dict[int, str],
    *,
    tracer: str | None = None,
) -> dict[str, Any]:
    """The ``psma_pet`` block of a case file (see :func:`measure_psma_pet` for the naming rules)."""
    return measure_psma_pet(suv, labels, names, tracer=tracer).block
