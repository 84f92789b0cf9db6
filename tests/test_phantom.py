"""The synthetic phantom: its analytic truth is self-consistent and its files say the same.

The truth is checked against independent computations: numerical
integration of A(t) (scipy ``quad``) for the TIA, the images read back by
this package's readers and by SimpleITK for activities, HU and geometry.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import SimpleITK
from pydicom.uid import UID
from scipy.integrate import quad

from lutetia.errors import BadInputError
from lutetia.imaging.dicom import read_injection, read_series
from lutetia.imaging.nifti import read_label_map, read_label_names
from lutetia.imaging.phantom import ORGANS, PhantomTruth, make_phantom
from lutetia.imaging.sitk import grid_from_sitk

#: SimpleITK without its partial type hints (mypy --strict).
ITK: Any = SimpleITK
SHAPE = (48, 48, 48)
SPACING = (6.4, 6.4, 6.4)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomTruth:
    return make_phantom(tmp_path_factory.mktemp("phantom"), shape=SHAPE, spacing_mm=SPACING)


def test_tia_is_the_integral_of_the_activity(phantom: PhantomTruth) -> None:
    for name, organ in phantom.organs.items():
        numeric, _ = quad(organ.activity_at_mbq, 0, math.inf, limit=200)
        assert organ.tia_mbq_h == pytest.approx(numeric, rel=1e-8), name
        for t, activity in zip(phantom.timepoints_h, organ.activity_mbq, strict=True):
            assert organ.activity_at_mbq(t) == pytest.approx(activity, rel=1e-12)
            assert activity > 0


def test_every_clearance_is_at_least_physical_decay(phantom: PhantomTruth) -> None:
    lam = math.log(2) / phantom.half_life_h
    assert phantom.half_life_h == pytest.approx(6.647 * 24, rel=1e-6)  # ICRP-107 177Lu
    for organ in phantom.organs.values():
        assert all(k >= lam for _, k in organ.terms_mbq_per_h)


def test_spect_activity_read_back_matches_the_truth(phantom: PhantomTruth) -> None:
    grid, labels = read_label_map(phantom.labels_path)
    assert grid.same_as(phantom.grid)
    for n, folder in enumerate(phantom.spect_dirs):
        volume = read_series(folder, calibration_cps_per_mbq=phantom.calibration_cps_per_mbq)
        assert volume.acquired_at == phantom.acquired_at[n]
        total = float(volume.values.sum()) * volume.grid.voxel_volume_ml / 1e6
        expected = sum(o.activity_mbq[n] for o in phantom.organs.values())
        # 16-bit storage (slope = peak/60000): the body's ~1400-step values round by ≤ 3.5e-4.
        assert total == pytest.approx(expected, rel=5e-4)
        if n == 0:  # unshifted anatomy: every organ on its own label
            for name, organ in phantom.organs.items():
                inside = float(volume.values[labels == organ.label].sum())
                mbq = inside * volume.grid.voxel_volume_ml / 1e6
                assert mbq == pytest.approx(organ.activity_mbq[0], rel=2e-3), name


def test_later_time_points_are_shifted_by_the_stated_amount(phantom: PhantomTruth) -> None:
    assert phantom.shifts_mm[0] == (0.0, 0.0, 0.0)
    first = read_series(phantom.spect_dirs[0], calibration_cps_per_mbq=10.0)
    last = read_series(phantom.spect_dirs[-1], calibration_cps_per_mbq=10.0)

    def centroid(volume_values: np.ndarray[Any, Any], threshold: float) -> np.ndarray[Any, Any]:
        # the bone lesion: the hottest region, isolated in space
        mask = volume_values >= threshold
        k, j, i = np.nonzero(mask)
        points = phantom.grid.index_to_lps(np.stack([i, j, k], axis=-1).astype(float))
        centre: np.ndarray[Any, Any] = points.mean(axis=0)
        return centre

    a = centroid(first.values, 0.5 * float(first.values.max()))
    b = centroid(last.values, 0.5 * float(last.values.max()))
    assert np.allclose(b - a, phantom.shifts_mm[-1], atol=0.5 * SPACING[0])
    assert np.linalg.norm(phantom.shifts_mm[-1]) > 3.0


def test_ct_numbers_and_masses(phantom: PhantomTruth) -> None:
    ct = read_series(phantom.ct_dir)
    assert ct.grid.same_as(phantom.grid)
    _, labels = read_label_map(phantom.labels_path)
    for name, organ in phantom.organs.items():
        hu = ct.values[labels == organ.label]
        assert np.all(hu == organ.hu), name
        # mass = Σ ρ(HU)·V with the phantom's ρ = 1 + HU/1000 g/mL
        mass = float(np.sum(1 + hu / 1000.0)) * ct.grid.voxel_volume_ml
        assert mass == pytest.approx(organ.mass_g, rel=1e-9), name
    assert float(ct.values[labels == 0].max()) == -1000.0


def test_label_names_json_matches_the_organs(phantom: PhantomTruth) -> None:
    names = read_label_names(phantom.label_names_path)
    assert names == {n: organ.name for n, organ in enumerate(ORGANS, start=1)}
    assert names == phantom.label_names
    truth = json.loads((phantom.folder / "truth.json").read_text())
    assert truth["organs"]["liver"]["tia_mbq_h"] == phantom.organs["liver"].tia_mbq_h


def test_simpleitk_reads_the_phantom_with_the_same_geometry(phantom: PhantomTruth) -> None:
    reader = ITK.ImageSeriesReader()
    for folder in (phantom.ct_dir, phantom.pet_dir):
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
        theirs = grid_from_sitk(reader.Execute())
        assert theirs.same_as(read_series(folder).grid, tol_mm=1e-3), folder
    nm = SimpleITK.ReadImage(str(phantom.spect_dirs[1] / "nm.dcm"))
    assert grid_from_sitk(nm).same_as(phantom.grid, tol_mm=1e-3)


def test_dicom_attributes_are_valid_and_consistent(phantom: PhantomTruth) -> None:
    spect = pydicom.dcmread(phantom.spect_dirs[0] / "nm.dcm")
    ct = pydicom.dcmread(next(phantom.ct_dir.iterdir()))
    pet = pydicom.dcmread(next(phantom.pet_dir.iterdir()))
    for ds in (spect, ct, pet):
        for uid in (ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID):
            assert UID(uid).is_valid
        assert ds.TimezoneOffsetFromUTC == "+0100"
    assert spect.FrameOfReferenceUID == ct.FrameOfReferenceUID
    assert pet.FrameOfReferenceUID != ct.FrameOfReferenceUID  # another day, another scanner
    injection = read_injection(phantom.spect_dirs[0])
    assert injection.activity_bq == pytest.approx(phantom.injected_mbq * 1e6)
    assert injection.at == phantom.injected_at
    assert injection.nuclide == "Lu-177"


def test_noise_is_poisson_and_seeded(tmp_path: Path) -> None:
    folders = [tmp_path / name for name in "abc"]
    for folder in folders:
        folder.mkdir()
    a, b, c = (
        make_phantom(
            folder, shape=SHAPE, spacing_mm=SPACING, timepoints_h=(24.0,), seed=3, noise=noise
        )
        for folder, noise in zip(folders, (True, True, False), strict=True)
    )
    noisy = pydicom.dcmread(a.spect_dirs[0] / "nm.dcm")
    again = pydicom.dcmread(b.spect_dirs[0] / "nm.dcm")
    clean = pydicom.dcmread(c.spect_dirs[0] / "nm.dcm")
    assert noisy.PixelData == again.PixelData
    counts = noisy.pixel_array * float(noisy.RescaleSlope)
    mean = clean.pixel_array * float(clean.RescaleSlope)
    assert not np.allclose(counts, mean, rtol=1e-3)
    # Poisson: total counts within 5 σ of the expected total (σ = √N), plus the 16-bit
    # rounding of the noiseless reference (≤ 5e-4 of the total, see the read-back test)
    assert abs(counts.sum() - mean.sum()) < 5 * math.sqrt(mean.sum()) + 5e-4 * mean.sum()
    # and the variance of a uniform region equals its mean (Poisson), within 10 %
    _, labels = read_label_map(a.labels_path)
    liver = counts[labels == a.organs["liver"].label]
    assert float(np.var(liver)) == pytest.approx(float(np.mean(liver)), rel=0.1)


def test_a_grid_too_coarse_for_an_organ_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no voxel") as error:
        make_phantom(tmp_path, shape=(8, 8, 8), spacing_mm=(40.0, 40.0, 40.0))
    assert error.value.field == "shape"
