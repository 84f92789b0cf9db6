"""Rigid registration of SPECT time points: a known shift and rotation are recovered.

The images are synthetic 40³ SPECT-like volumes (4.8 mm voxels): Gaussian
"organs" whose intensities change between the two time points by different
factors (washout differs per organ), so the two images are not related by one
scale factor. The later image is the earlier anatomy moved by a known rigid
transform T, sampled analytically (no interpolation of the first image):
moving(q) = f_late(T⁻¹(q)). Tolerance: the issue's measure, one voxel
(4.8 mm) for the positions that T maps; the rotation within 1°.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from lutetia.errors import BadInputError
from lutetia.imaging.registration import Registration, register_rigid, resample
from lutetia.imaging.volume import Grid, Volume

GRID = Grid((40, 40, 40), (4.8, 4.8, 4.8), (-93.6, -93.6, -93.6), (1, 0, 0, 0, 1, 0, 0, 0, 1))
VOXEL_MM = 4.8
#: (centre mm, width mm, intensity early, intensity late): kidneys, liver, a lesion, background.
ORGANS = (
    ((-30.0, 10.0, 0.0), 12.0, 1.0, 0.5),
    ((30.0, 12.0, -5.0), 12.0, 1.0, 0.4),
    ((0.0, -20.0, 30.0), 25.0, 0.3, 0.2),
    ((5.0, 25.0, -40.0), 8.0, 3.0, 2.5),
    ((-10.0, 0.0, -10.0), 60.0, 0.05, 0.04),
)
EARLY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LATE = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def _activity(points: np.ndarray[Any, Any], late: bool) -> np.ndarray[Any, Any]:
    values = np.zeros(points.shape[:-1])
    for centre, width, early_value, late_value in ORGANS:
        distance2 = np.sum((points - np.array(centre)) ** 2, axis=-1)
        values += (late_value if late else early_value) * np.exp(-distance2 / (2 * width**2))
    return values


def _points(grid: Grid) -> np.ndarray[Any, Any]:
    k, j, i = np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij")
    return grid.index_to_lps(np.stack([i, j, k], axis=-1).astype(np.float64))


def _volume(values: np.ndarray[Any, Any], when: datetime) -> Volume:
    return Volume(GRID, values, "activity_concentration", "Bq/mL", when, "synthetic")


def _truth(translation: tuple[float, float, float], rotation: tuple[float, float, float]) -> Any:
    return Registration(translation, rotation, (0.0, 0.0, 0.0), "truth", 0, 0, 0, 0, "", ())


def _moved(truth: Registration) -> Volume:
    """The late image of the anatomy moved by T: moving(q) = f_late(R⁻¹(q − c − t) + c)."""
    points = _points(GRID)
    centre, shift = np.array(truth.center_mm), np.array(truth.translation_mm)
    inverse = (points - centre - shift) @ truth.rotation_matrix() + centre
    return _volume(_activity(inverse, late=True), LATE)


FIXED = _volume(_activity(_points(GRID), late=False), EARLY)
PROBES = np.array([[0.0, 0.0, 0.0], [60.0, 60.0, 60.0], [-60.0, 40.0, -60.0], [30.0, -50.0, 20.0]])


@pytest.fixture(scope="module")
def shifted() -> tuple[Registration, Registration]:
    truth = _truth((7.3, -2.0, 3.1), (2.0, -1.5, 4.0))
    return truth, register_rigid(FIXED, _moved(truth))


def test_known_shift_and_rotation_are_recovered_within_one_voxel(
    shifted: tuple[Registration, Registration],
) -> None:
    truth, found = shifted
    error = np.linalg.norm(found.fixed_to_moving(PROBES) - truth.fixed_to_moving(PROBES), axis=1)
    assert float(error.max()) < VOXEL_MM
    np.testing.assert_allclose(found.rotation_deg, truth.rotation_deg, atol=1.0)
    assert found.ncc_after > found.ncc_before
    assert found.warnings == ()
    assert "Mattes" in found.metric
    assert found.as_dict()["translation_mm"] == list(found.translation_mm)


def test_pure_translation_of_7_3_mm() -> None:
    truth = _truth((7.3, 0.0, 0.0), (0.0, 0.0, 0.0))
    found = register_rigid(FIXED, _moved(truth))
    np.testing.assert_allclose(found.translation_mm, (7.3, 0.0, 0.0), atol=VOXEL_MM)
    assert abs(found.translation_mm[0] - 7.3) < 1.0  # in practice much better than a voxel


def test_no_shift_gives_about_zero() -> None:
    found = register_rigid(FIXED, _volume(_activity(_points(GRID), late=True), LATE))
    assert found.shift_mm < 1.0
    assert max(abs(a) for a in found.rotation_deg) < 1.0
    assert found.warnings == ()


def test_registration_is_deterministic(shifted: tuple[Registration, Registration]) -> None:
    truth, found = shifted
    again = register_rigid(FIXED, _moved(truth))
    # Fixed seed and one optimiser thread: equal up to the summation order of ITK's
    # multithreaded image pyramid (seen: 2e-13 mm).
    np.testing.assert_allclose(again.translation_mm, found.translation_mm, rtol=0, atol=1e-9)
    np.testing.assert_allclose(again.rotation_deg, found.rotation_deg, rtol=0, atol=1e-9)


def test_large_shift_is_reported_for_a_person_to_check() -> None:
    truth = _truth((7.3, 0.0, 0.0), (0.0, 0.0, 0.0))
    found = register_rigid(FIXED, _moved(truth), max_shift_mm=2.0)
    assert any("exceeds 2 mm" in w for w in found.warnings)


def test_resample_brings_the_moved_image_back(shifted: tuple[Registration, Registration]) -> None:
    truth, found = shifted
    moving = _moved(truth)
    back = resample(moving, found, GRID)
    late_in_place = _activity(_points(GRID), late=True)
    body = FIXED.values > 0.05
    before = float(np.abs(moving.values - late_in_place)[body].mean())
    after = float(np.abs(back.values - late_in_place)[body].mean())
    assert after < 0.3 * before
    assert back.quantity == moving.quantity
    assert back.acquired_at == LATE
    assert "resampled rigidly" in back.source


def test_resample_keeps_the_total_of_an_amount_per_voxel() -> None:
    values = _activity(_points(GRID), late=False)
    amount = Volume(GRID, values, "activity_per_voxel", "MBq", EARLY, "synthetic")
    finer = Grid((80, 80, 80), (2.4, 2.4, 2.4), (-94.8, -94.8, -94.8), GRID.direction)
    back = resample(amount, _truth((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)), finer)
    # Trilinear interpolation of a smooth image, ×1/8 for the voxel volume: total within 1 %.
    assert float(back.values.sum()) == pytest.approx(float(values.sum()), rel=0.01)


def test_constant_or_ct_images_are_refused() -> None:
    flat = _volume(np.ones(GRID.shape), LATE)
    with pytest.raises(BadInputError) as error:
        register_rigid(FIXED, flat)
    assert error.value.field == "moving.values"
    ct = Volume(GRID, np.zeros(GRID.shape), "ct_number", "HU", None, "ct")
    with pytest.raises(BadInputError):
        register_rigid(FIXED, ct)


def test_rotation_matrix_is_itk_euler3d() -> None:
    # Independent check against SimpleITK's own Euler3DTransform.
    import SimpleITK

    sitk: Any = SimpleITK
    reg = _truth((1.0, 2.0, 3.0), (10.0, -20.0, 30.0))
    transform = sitk.Euler3DTransform()
    transform.SetRotation(*(math.radians(a) for a in reg.rotation_deg))
    transform.SetTranslation(reg.translation_mm)
    for point in PROBES:
        np.testing.assert_allclose(
            reg.fixed_to_moving(point), transform.TransformPoint(tuple(point)), atol=1e-9
        )
