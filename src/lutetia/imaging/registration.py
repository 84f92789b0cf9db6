"""Rigid registration of a later SPECT time point onto the first (SimpleITK).

Metric: **Mattes mutual information** (Mattes D et al., IEEE Trans Med
Imaging 2003;22:120-128). Between time points of one patient the activity
redistributes — kidneys and blood pool wash out faster than lesions, the
bladder fills and empties — so the intensities of two scans are not related
by one scale factor, which the correlation metric assumes; mutual information
only needs the intensities to be statistically dependent. The correlation
(normalised cross-correlation, NCC) is used instead as an independent
*quality check*: it is computed before and after registration over the body
(voxels above 1 % of the fixed image's 99th percentile, or the given mask),
and a registration that lowers it is reported.

Transform: Euler 3-D (rotation about the centre of the fixed image, then
translation; :class:`Registration` explains the convention), initialised at
the identity by the geometry of the two images (``CenteredTransformInitializer``
in GEOMETRY mode, which places the rotation centre at the fixed image's
centre; moments would follow the activity, which moves between scans).
Multi-resolution: shrink factors 4, 2, 1 with Gaussian smoothing 2, 1, 0
voxels; regular-step gradient descent with scales from the physical shift
(at most 100 iterations per level).
Metric samples: a random 25 % of voxels drawn with a fixed seed, one thread
for the optimisation: the same images give the same transform (to about
1e-12 mm; ITK's image pyramid sums in threads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from lutetia.errors import BadInputError
from lutetia.imaging.volume import Grid, Volume

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Regular-step gradient descent: first step, smallest step (scaled units ≈ mm) and
#: iterations per resolution level; tuned on synthetic SPECT (tests/test_registration.py).
LEARNING_RATE: Final[float] = 4.0
MIN_STEP: Final[float] = 1e-2
ITERATIONS: Final[int] = 100
#: A fall of the NCC by more than this is reported as a registration that made things worse.
NCC_TOLERANCE: Final[float] = 1e-3
#: Seed of the metric's random sampling (determinism).
SAMPLING_SEED: Final[int] = 20_230_511
SAMPLING_PERCENTAGE: Final[float] = 0.25
HISTOGRAM_BINS: Final[int] = 32
SHRINK_FACTORS: Final[tuple[int, ...]] = (4, 2, 1)
SMOOTHING_SIGMAS_VOXELS: Final[tuple[float, ...]] = (2.0, 1.0, 0.0)
#: Patient repositioning between scans on the couch is usually within a few centimetres;
#: a larger shift or rotation is reported for a person to check (not refused).
MAX_SHIFT_MM: Final[float] = 30.0
MAX_ROTATION_DEG: Final[float] = 10.0
#: The quality region: voxels above this fraction of the fixed image's 99th percentile.
BODY_THRESHOLD: Final[float] = 0.01
#: Quantities that are amounts per voxel: resampling onto another voxel size rescales them.
EXTENSIVE: Final[frozenset[str]] = frozenset({"counts", "activity_per_voxel"})


@dataclass(frozen=True)
class Registration:
    """A rigid transform found between two images, with its quality.

    The transform maps a point p of the *fixed* image (LPS mm) to the point
    of the *moving* image showing the same anatomy:
    T(p) = R·(p − c) + c + t, with c = ``center_mm``, t = ``translation_mm`` and
    R = R_z·R_x·R_y from ``rotation_deg`` (angles about the x, y, z axes of
    LPS; ITK's Euler3DTransform in its default order, ComputeZYX off). If the
    patient lay 7 mm further to the left (+x) at the later scan,
    ``translation_mm`` ≈ (7, 0, 0).
    """

    translation_mm: tuple[float, float, float]
    rotation_deg: tuple[float, float, float]
    center_mm: tuple[float, float, float]
    metric: str
    metric_value: float
    ncc_before: float
    ncc_after: float
    iterations: int
    stop_condition: str
    warnings: tuple[str, ...]

    @property
    def shift_mm(self) -> float:
        """Length of the translation (mm)."""
        return math.sqrt(sum(t * t for t in self.translation_mm))

    def rotation_matrix(self) -> NDArray[np.float64]:
        """R = R_z·R_x·R_y of the Euler angles (ITK Euler3DTransform, default order)."""
        ax, ay, az = (math.radians(a) for a in self.rotation_deg)
        rx = np.array(
            [[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]]
        )
        ry = np.array(
            [[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]]
        )
        rz = np.array(
            [[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]]
        )
        result: NDArray[np.float64] = rz @ rx @ ry
        return result

    def fixed_to_moving(self, lps_mm: Any) -> NDArray[np.float64]:
        """T(p) for points p (…, 3) in LPS mm of the fixed image."""
        point = np.asarray(lps_mm, dtype=np.float64)
        centre = np.array(self.center_mm)
        moved = (point - centre) @ self.rotation_matrix().T + centre + np.array(self.translation_mm)
        result: NDArray[np.float64] = moved
        return result

    def as_dict(self) -> dict[str, object]:
        """The transform and its quality for a report (JSON-friendly)."""
        return {
            "transform": "rigid (ITK Euler3DTransform): moving = R·(fixed − center) + center + t",
            "translation_mm": list(self.translation_mm),
            "rotation_deg": list(self.rotation_deg),
            "center_mm": list(self.center_mm),
            "metric": self.metric,
            "metric_value": self.metric_value,
            "ncc_before": self.ncc_before,
            "ncc_after": self.ncc_after,
            "iterations": self.iterations,
            "stop_condition": self.stop_condition,
            "warnings": list(self.warnings),
        }


def _simpleitk() -> Any:
    """SimpleITK, imported on use (its wrappers are untyped: used as ``Any``)."""
    import SimpleITK

    return SimpleITK


def _image(grid: Grid, values: NDArray[Any]) -> Any:
    from lutetia.imaging.sitk import to_sitk

    return to_sitk(grid, np.asarray(values, dtype=np.float32))


def _euler(registration: Registration) -> Any:
    sitk = _simpleitk()

    transform = sitk.Euler3DTransform()
    transform.SetCenter(registration.center_mm)
    transform.SetRotation(*(math.radians(a) for a in registration.rotation_deg))
    transform.SetTranslation(registration.translation_mm)
    return transform


def _quality_region(fixed: Volume, mask: NDArray[np.bool_] | None) -> NDArray[np.bool_]:
    if mask is not None:
        return mask
    values = np.asarray(fixed.values, dtype=np.float64)
    level = BODY_THRESHOLD * float(np.percentile(values, 99.0))
    region: NDArray[np.bool_] = values > level
    return region


def normalized_cross_correlation(
    a: NDArray[Any], b: NDArray[Any], region: NDArray[np.bool_]
) -> float:
    """Pearson correlation of two images over a region: Σ(a−ā)(b−b̄)/√(Σ(a−ā)²Σ(b−b̄)²).

    NaN when either image is constant over the region.
    """
    x = np.asarray(a, dtype=np.float64)[region]
    y = np.asarray(b, dtype=np.float64)[region]
    x = x - x.mean()
    y = y - y.mean()
    denominator = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    return float(np.dot(x, y)) / denominator if denominator > 0 else math.nan


def _resample_values(moving: Volume, transform: Any, onto: Grid) -> NDArray[np.float64]:
    sitk = _simpleitk()

    from lutetia.imaging.sitk import array_from_sitk

    reference = _image(onto, np.zeros(onto.shape, dtype=np.float32))
    result = sitk.Resample(
        _image(moving.grid, moving.values),
        reference,
        transform,
        sitk.sitkLinear,
        0.0,
        sitk.sitkFloat64,
    )
    values: NDArray[np.float64] = array_from_sitk(result)
    return values


def register_rigid(
    fixed: Volume,
    moving: Volume,
    *,
    mask: NDArray[np.bool_] | None = None,
    max_shift_mm: float = MAX_SHIFT_MM,
    max_rotation_deg: float = MAX_ROTATION_DEG,
) -> Registration:
    """Rigid transform that best aligns ``moving`` onto ``fixed`` (Mattes MI, multi-resolution).

    ``mask`` (boolean on the fixed grid) restricts the metric and the quality
    check to a region, e.g. the body or the abdomen. Warnings: the NCC over
    the body fell, the shift exceeds ``max_shift_mm`` or a rotation exceeds
    ``max_rotation_deg`` (reported, not refused: a person decides).
    """
    sitk = _simpleitk()

    if fixed.quantity == "ct_number" or moving.quantity == "ct_number":
        raise BadInputError("moving", "register SPECT time points, not CT")
    if mask is not None and mask.shape != fixed.grid.shape:
        raise BadInputError("mask", f"shape {mask.shape} is not the fixed grid {fixed.grid.shape}")
    for name, volume in (("fixed", fixed), ("moving", moving)):
        if not np.all(np.isfinite(volume.values)):
            raise BadInputError(f"{name}.values", "not all finite")
        if float(np.ptp(volume.values)) == 0.0:
            raise BadInputError(f"{name}.values", "the image is constant: nothing to register")
    fixed_image = _image(fixed.grid, fixed.values)
    moving_image = _image(moving.grid, moving.values)
    initial = sitk.CenteredTransformInitializer(
        fixed_image,
        moving_image,
        sitk.Euler3DTransform(),
        sitk.CenteredTransformInitializerFilter.GEOMETRY,
    )
    # GEOMETRY mode puts the centre at the fixed image's centre and the translation at the
    # difference of the image centres; start from the identity in patient coordinates.
    initial.SetTranslation((0.0, 0.0, 0.0))
    method = sitk.ImageRegistrationMethod()
    method.SetNumberOfThreads(1)
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=HISTOGRAM_BINS)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(SAMPLING_PERCENTAGE, SAMPLING_SEED)
    if mask is not None:
        method.SetMetricFixedMask(_image(fixed.grid, mask.astype(np.uint8)) > 0)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=LEARNING_RATE,
        minStep=MIN_STEP,
        numberOfIterations=ITERATIONS,
        relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(SHRINK_FACTORS))
    method.SetSmoothingSigmasPerLevel(list(SMOOTHING_SIGMAS_VOXELS))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(initial, inPlace=False)
    try:
        found = method.Execute(fixed_image, moving_image)
    except RuntimeError as error:
        raise BadInputError("moving", f"registration failed: {error}") from error
    euler = sitk.Euler3DTransform(sitk.CompositeTransform(found).GetNthTransform(0))
    translation = tuple(float(v) for v in euler.GetTranslation())
    angles = (euler.GetAngleX(), euler.GetAngleY(), euler.GetAngleZ())
    region = _quality_region(fixed, mask)
    identity = sitk.Euler3DTransform()
    before = normalized_cross_correlation(
        fixed.values, _resample_values(moving, identity, fixed.grid), region
    )
    after = normalized_cross_correlation(
        fixed.values, _resample_values(moving, euler, fixed.grid), region
    )
    rotation = tuple(math.degrees(a) for a in angles)
    centre = tuple(float(c) for c in euler.GetCenter())
    result = Registration(
        translation_mm=(translation[0], translation[1], translation[2]),
        rotation_deg=(rotation[0], rotation[1], rotation[2]),
        center_mm=(centre[0], centre[1], centre[2]),
        metric=f"Mattes mutual information ({HISTOGRAM_BINS} bins, "
        f"{SAMPLING_PERCENTAGE:.0%} random samples, seed {SAMPLING_SEED})",
        metric_value=float(method.GetMetricValue()),
        ncc_before=before,
        ncc_after=after,
        iterations=int(method.GetOptimizerIteration()),
        stop_condition=str(method.GetOptimizerStopConditionDescription()),
        warnings=(),
    )
    warnings: list[str] = []
    if not (after >= before - NCC_TOLERANCE):  # also when either is NaN
        warnings.append(
            f"registration did not improve the match: NCC over the body {before:.3f} before, "
            f"{after:.3f} after"
        )
    if result.shift_mm > max_shift_mm:
        warnings.append(
            f"shift {result.shift_mm:.1f} mm exceeds {max_shift_mm:g} mm: check the registration"
        )
    largest = max(abs(a) for a in result.rotation_deg)
    if largest > max_rotation_deg:
        warnings.append(
            f"rotation {largest:.1f}° exceeds {max_rotation_deg:g}°: check the registration"
        )
    return Registration(**{**result.__dict__, "warnings": tuple(warnings)})


def resample(moving: Volume, registration: Registration, onto: Grid) -> Volume:
    """``moving`` resampled onto ``onto`` through the registration (trilinear, 0 outside).

    Concentrations (Bq/mL, SUV) are interpolated as they are; amounts per
    voxel (counts, MBq per voxel) are also multiplied by the ratio of voxel
    volumes so that the total is kept. Voxels of ``onto`` that map outside the
    moving image are 0; their share is stated in ``source``.
    """
    sitk = _simpleitk()

    transform = _euler(registration)
    values = _resample_values(moving, transform, onto)
    outside_image = sitk.Resample(
        _image(moving.grid, np.ones(moving.grid.shape, dtype=np.float32)),
        _image(onto, np.zeros(onto.shape, dtype=np.float32)),
        transform,
        sitk.sitkNearestNeighbor,
        0.0,
    )
    from lutetia.imaging.sitk import array_from_sitk

    outside = float(np.mean(array_from_sitk(outside_image) == 0))
    note = ""
    if moving.quantity in EXTENSIVE:
        ratio = onto.voxel_volume_ml / moving.grid.voxel_volume_ml
        values = values * ratio
        note = f", ×{ratio:.6g} for the voxel volume"
    t, r = registration.translation_mm, registration.rotation_deg
    source = (
        f"{moving.source}; resampled rigidly (trilinear{note}) with translation "
        f"({t[0]:.2f}, {t[1]:.2f}, {t[2]:.2f}) mm, rotation ({r[0]:.2f}, {r[1]:.2f}, "
        f"{r[2]:.2f})°; {100 * outside:.1f} % of voxels outside the moving image set to 0"
    )
    return Volume(
        grid=onto,
        values=values,
        quantity=moving.quantity,
        unit=moving.unit,
        acquired_at=moving.acquired_at,
        source=source,
    )


def transfer_mask(
    mask: NDArray[np.bool_], fixed: Grid, registration: Registration, onto: Grid
) -> tuple[NDArray[np.bool_], float]:
    """A region drawn on the fixed image, carried onto the moving image's grid.

    A voxel of ``onto`` (centre q, LPS mm) is in the region when the fixed
    point T⁻¹(q) falls in a region voxel (nearest neighbour): the inverse of
    the transform :func:`resample` uses. Measuring a later time point on its
    own voxels through the carried region sums the counts as they were
    acquired; resampling the image instead blurs them across the region's
    edge by the interpolation. Also returns the fraction of the region's
    voxels that land outside ``onto`` (lost from the measurement).
    """
    sitk = _simpleitk()
    from lutetia.imaging.sitk import array_from_sitk

    if mask.shape != fixed.shape:
        raise BadInputError("mask", f"shape {mask.shape} is not the fixed grid {fixed.shape}")
    inverse = _euler(registration).GetInverse()
    carried = sitk.Resample(
        _image(fixed, mask.astype(np.float32)),
        _image(onto, np.zeros(onto.shape, dtype=np.float32)),
        inverse,
        sitk.sitkNearestNeighbor,
        0.0,
    )
    result: NDArray[np.bool_] = array_from_sitk(carried) > 0.5
    # Where the region's voxel centres go: those mapped outside the moving grid are lost.
    where = np.argwhere(mask)[:, ::-1].astype(np.float64)  # (i, j, k)
    moved = registration.fixed_to_moving(fixed.index_to_lps(where))
    index = onto.lps_to_index(moved)
    size = np.array(onto.size_ijk, dtype=np.float64)
    inside = np.all((index > -0.5) & (index < size - 0.5), axis=1)
    lost = 1.0 - float(np.mean(inside)) if len(inside) else 0.0
    return result, lost
