"""Voxel dosimetry: the 177Lu dose-voxel kernel, local deposition, convolution, DVH, CLI.

References
----------
* Lanconelli N, Pacilio M, Lo Meo S, Botta F, Di Dia A, Aroche LAT, Pérez MAC,
  Cremonesi M. A free database of radionuclide voxel S values for the dosimetry of
  nonuniform activity distributions. Phys Med Biol 2012;57:517-533. 177Lu, soft tissue,
  mGy/(MBq·s). The database (medphys.it) is not reachable from here; its files are read
  from copies that name it: GitHub MGHPhysicsResearch/MIRDCalculation (README: "voxel-based
  S-values published by Lanconelli et al."), ``VoxelSValues/177Lu{3,3.59,3.9,4.42,5,6}mmsoft.txt``
  at commit a2a2fc793d5d89ff90a4db44c4de43e664c8bd0e and
  ``MIRD/VoxelSValues/177Lu{4,4.8}mmsoft.txt`` at d7cf1983557b4aeb89c05ffd36633907bf6aa2a1;
  the 2.21 mm file from luisadias02/masters-thesis ``dosimetry_177Lu/s_values_lu177_2p21.txt``
  (f350669121333183487c28d3faf963e61ee2c2d6), identical to the copy in
  luisacbscs/SNMMIDosimetryChallenge (e122cc1e022894085e5fddb55a8e2168cd70087c), whose
  code says it was downloaded from medphys.it. Every file has the header
  "Lu177 - <size>mm - Soft tissue"; the 4.42 mm file is also identical in
  albertoduina/Dosimetry (205fbcb434732efaab41b5eac6ca402c4e43c217). Their 3×3×3 block
  at 2.21 mm sums to the ICRP-107 mean β⁻ energy per decay over a unit-density voxel:
  the tables hold the β⁻ spectrum without conversion and Auger electrons, and their
  centre voxels are 12 % below a kernel with those electrons; the comparison is made
  with the β⁻ spectrum alone.
* Klein–Nishina: xraylib's DCS_KN, CS_KN and ComptonEnergy (an independent implementation).
* Organ-level S values: :mod:`lutetia.dosimetry.absorbed` (MIRD schema).
* DVH: ICRU Report 83 (2010), D_x = dose received by at least x % of the volume.
"""

from __future__ import annotations

import functools
import json
import math
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xraylib
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.constants import physical_constants
from scipy.integrate import quad

from lutetia.cli import main
from lutetia.dosimetry.absorbed import absorbed_dose
from lutetia.dosimetry.voxel import (
    PHOTON_RANGE_CM,
    Kernel,
    _photon_lines,
    _primary_terms,
    _sample_klein_nishina,
    collision_stopping_power_mev_cm2_per_g,
    convolve_dose_gy,
    density_corrected_dose_gy,
    dose_voxel_kernel,
    dvh,
    klein_nishina_transfer_fraction,
    local_deposition_dose_gy,
    photon_point_kernel_mev_per_cm3,
    photon_radial_mev_per_cm,
    scattered_photon_tally,
)
from lutetia.errors import BadInputError
from lutetia.nuclides import nuclide

#: Lanconelli et al. 2012 (cited above), 177Lu in soft tissue: voxel side in mm →
#: S in mGy/(MBq·s) at the offsets of LANCONELLI_OFFSETS.
LANCONELLI_OFFSETS = ((0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 0, 0))
LANCONELLI_2012 = {
    2.21: (1.66e00, 4.83e-02, 2.52e-03, 2.50e-04, 7.70e-05),
    3.0: (6.93e-01, 1.51e-02, 6.17e-04, 7.98e-05, 4.08e-05),
    3.59: (4.13e-01, 7.55e-03, 2.80e-04, 4.72e-05, 2.83e-05),
    3.9: (3.25e-01, 5.49e-03, 1.97e-04, 3.81e-05, 2.41e-05),
    4.0: (3.02e-01, 4.98e-03, 1.78e-04, 3.58e-05, 2.29e-05),
    4.42: (2.26e-01, 3.39e-03, 1.19e-04, 2.82e-05, 1.88e-05),
    4.8: (1.78e-01, 2.46e-03, 8.65e-05, 2.35e-05, 1.61e-05),
    5.0: (1.58e-01, 2.11e-03, 7.43e-05, 2.15e-05, 1.48e-05),
    6.0: (9.25e-02, 1.04e-03, 3.94e-05, 1.46e-05, 1.04e-05),
}
#: Far voxels, where only photons arrive: (voxel mm, offset, published S), same files.
LANCONELLI_FAR = (
    (3.0, (3, 0, 0), 1.78e-05), (3.0, (5, 0, 0), 6.51e-06), (3.0, (3, 3, 3), 6.12e-06),
    (3.0, (5, 5, 5), 2.28e-06), (6.0, (3, 0, 0), 4.71e-06), (6.0, (5, 0, 0), 1.78e-06),
    (6.0, (2, 2, 2), 3.56e-06), (6.0, (5, 5, 5), 6.24e-07),
)  # fmt: skip


@pytest.fixture(scope="module")
def kernel_48() -> Kernel:
    return dose_voxel_kernel(4.8, half_width_voxels=3)


@functools.cache
def beta_kernel(voxel_mm: float, half_width: int = 2) -> Kernel:
    """The kernel with the electron content of the published tables (β⁻ spectrum only)."""
    return dose_voxel_kernel(voxel_mm, half_width_voxels=half_width, electron_kinds=("beta-",))


def test_stopping_power_matches_nist_estar() -> None:
    # NIST ESTAR, water, collision stopping power (MeV cm²/g): 10 keV 22.56, 100 keV 4.115,
    # 500 keV 2.034 (https://physics.nist.gov/PhysRefData/Star/Text/ESTAR.html).
    got = collision_stopping_power_mev_cm2_per_g(np.array([0.01, 0.1, 0.5]))
    assert got == pytest.approx([22.56, 4.115, 2.034], rel=0.005)


@pytest.mark.parametrize("voxel_mm", sorted(LANCONELLI_2012))
def test_centre_and_face_neighbours_match_lanconelli_2012_within_5_percent(
    voxel_mm: float,
) -> None:
    # Issue 11: within 5 % at the centre voxel and its first neighbours. Measured
    # 2026-12-02: centre −0.1 to +0.5 %, face neighbour +2.2 to +3.1 % at every size.
    kernel = beta_kernel(voxel_mm)
    centre, face = LANCONELLI_2012[voxel_mm][:2]
    assert kernel.at(0, 0, 0) == pytest.approx(centre, rel=0.01)
    for offset in ((1, 0, 0), (0, -1, 0), (0, 0, 1)):
        assert kernel.at(*offset) == pytest.approx(face, rel=0.05)


@pytest.mark.parametrize("voxel_mm", sorted(LANCONELLI_2012))
def test_edge_corner_and_second_neighbours_match_lanconelli_2012(voxel_mm: float) -> None:
    # Measured 2026-12-02: corner (1,1,1) and (2,0,0) within 3.0 %; the edge neighbour
    # (1,1,0) is low, −1.3 % at 3.59 mm to −5.2 % at 6 mm (half electrons, half photons
    # there at 6 mm: the electron transport has no straggling or δ-rays).
    kernel = beta_kernel(voxel_mm)
    edge, corner, second = LANCONELLI_2012[voxel_mm][2:]
    assert kernel.at(1, 1, 0) == pytest.approx(edge, rel=0.06)
    assert kernel.at(1, 1, 1) == pytest.approx(corner, rel=0.05)
    assert kernel.at(2, 0, 0) == pytest.approx(second, rel=0.05)


@pytest.mark.parametrize(
    ("voxel_mm", "offset", "published"),
    LANCONELLI_FAR,
    ids=[f"{v}-{o}" for v, o, _ in LANCONELLI_FAR],
)
def test_far_photon_voxels_match_lanconelli_2012_within_5_percent(
    voxel_mm: float, offset: tuple[int, int, int], published: float
) -> None:
    # Photons alone, 9–52 mm from the source: the scattered photons' share is what the
    # energy-absorption approximation lacked (it was 12–34 % low here). Measured 2026-12-02:
    # within 3 %.
    kernel = beta_kernel(voxel_mm, half_width=5)
    assert kernel.at(*offset) == pytest.approx(published, rel=0.05)
    h = kernel.half_width_voxels
    i, j, k = offset
    assert kernel.electron_mgy_per_mbq_s[h + k, h + j, h + i] == 0.0


def test_lanconelli_tables_hold_the_beta_spectrum_alone() -> None:
    # With conversion and Auger electrons the centre voxel holds 11–12 % more energy than
    # the published value: the tables leave those electrons out (see the references).
    full = dose_voxel_kernel(4.8, half_width_voxels=1)
    assert full.at(0, 0, 0) / LANCONELLI_2012[4.8][0] == pytest.approx(1.12, abs=0.02)


@pytest.mark.parametrize("energy_kev", [20.0, 55.8, 112.9, 208.4, 321.3, 1000.0])
def test_klein_nishina_transfer_fraction_matches_xraylib(energy_kev: float) -> None:
    # ⟨T⟩/E = ∫ dσ_KN/dΩ (1 − E′/E) dΩ / σ_KN, with xraylib's own Klein–Nishina functions.
    def integrand(theta: float) -> float:
        scattered = float(xraylib.ComptonEnergy(energy_kev, theta)) / energy_kev
        dcs = float(xraylib.DCS_KN(energy_kev, theta))
        return dcs * (1 - scattered) * 2 * math.pi * math.sin(theta)

    expected = quad(integrand, 0.0, math.pi)[0] / xraylib.CS_KN(energy_kev)
    assert klein_nishina_transfer_fraction(energy_kev) == pytest.approx(expected, rel=1e-4)


def test_klein_nishina_angles_follow_xraylib() -> None:
    # The sampler's mean cos θ against ∫ cos θ dσ_KN/dΩ dΩ / σ_KN (xraylib), 200 000 draws.
    energy_kev = 208.4
    rest_kev = physical_constants["electron mass energy equivalent in MeV"][0] * 1000
    k = np.full(200_000, energy_kev / rest_kev)
    cos = _sample_klein_nishina(k, np.random.default_rng(1))

    def moment(theta: float) -> float:
        dcs = float(xraylib.DCS_KN(energy_kev, theta))
        return dcs * math.cos(theta) * 2 * math.pi * math.sin(theta)

    expected = quad(moment, 0.0, math.pi)[0] / xraylib.CS_KN(energy_kev)
    assert float(cos.mean()) == pytest.approx(
        expected, abs=4 * float(cos.std()) / math.sqrt(len(cos))
    )
    assert float(cos.min()) >= -1.0
    assert float(cos.max()) <= 1.0


def test_photon_energy_is_conserved_to_the_range_followed() -> None:
    # Primary: ∫ EY μ_p e^{−μr} dr = EY μ_p/μ; scattered: the tally. Together all photon
    # energy but what scattered photons carry beyond 50 cm of water (measured 2.9 %).
    energy_kev, yields, _ = _photon_lines()
    weights, mu = _primary_terms()
    primary = float(np.sum(weights / mu))
    total = float(np.sum(energy_kev / 1000 * yields))
    absorbed = primary + float(scattered_photon_tally().sum())
    assert 0.95 * total < absorbed < total
    # and the radial function integrates to the same
    r = np.linspace(0.0, PHOTON_RANGE_CM, 200_001)
    integral = float(np.trapezoid(photon_radial_mev_per_cm(r), r))
    assert integral == pytest.approx(absorbed, rel=2e-3)


def test_denser_water_scales_the_photon_kernel_by_its_lengths() -> None:
    # dE/dr(r; ρ) = ρ dE/dr(ρr; 1): the same energy within ρ-scaled spheres.
    r = np.array([0.3, 1.0, 4.0])
    assert photon_radial_mev_per_cm(r, 1.5) == pytest.approx(
        1.5 * photon_radial_mev_per_cm(1.5 * r, 1.0), rel=1e-12
    )


def test_kernel_has_the_48_symmetries_of_the_cube(kernel_48: Kernel) -> None:
    k = kernel_48.values_mgy_per_mbq_s
    for p in permutations(range(3)):
        for flips in range(8):
            axes = tuple(a for a in range(3) if flips >> a & 1)
            image = np.flip(k.transpose(p), axis=axes) if axes else k.transpose(p)
            np.testing.assert_allclose(image, k, rtol=1e-12, atol=0)
    # and falls off away from the source along each axis
    h = kernel_48.half_width_voxels
    assert np.all(np.diff(k[h, h, h:]) < 0)


def test_anisotropic_voxels_keep_only_their_own_symmetry() -> None:
    kernel = dose_voxel_kernel((3.0, 3.0, 4.5), half_width_voxels=2)
    k = kernel.values_mgy_per_mbq_s  # [k, j, i]
    np.testing.assert_allclose(k, k.transpose(0, 2, 1), rtol=1e-12)  # i ↔ j
    np.testing.assert_allclose(k, k[::-1, ::-1, ::-1], rtol=1e-12)
    # the face neighbour across the 4.5 mm axis is farther than across a 3 mm one
    assert kernel.at(0, 0, 1) < kernel.at(1, 0, 0)
    assert kernel.voxel_mass_g == pytest.approx(0.3 * 0.3 * 0.45)


def test_electron_energy_is_conserved(kernel_48: Kernel) -> None:
    # Σ S_e · m = ICRP-107 electron energy per decay (every electron stops inside 3 voxels).
    to_mev = kernel_48.voxel_mass_g / 1000.0 / 1000.0 / 1e6 / 1.602176634e-13
    electron_mev = kernel_48.electron_mgy_per_mbq_s.sum() * to_mev
    assert electron_mev == pytest.approx(nuclide("Lu-177").non_penetrating_mev, rel=1e-9)


def test_photon_energy_in_kernel_lies_between_inscribed_and_circumscribed_spheres(
    kernel_48: Kernel,
) -> None:
    # Bound on the cubature: a point source inside a sphere of radius R absorbs
    # ∫₀ᴿ dE/dr dr of the photon energy. The box of (2h+1) voxels holds the
    # sphere of radius (h + ½)a − a√3/2 and lies inside the one of (h + ½)a√3 + a√3/2.
    h, a = kernel_48.half_width_voxels, 0.48
    r_in, r_out = (h + 0.5) * a - a * math.sqrt(3) / 2, (h + 0.5) * a * math.sqrt(3) + a
    local = _photon_lines()[2]

    def absorbed(radius: float) -> float:
        r = np.linspace(0.0, radius, 100_001)
        return local + float(np.trapezoid(photon_radial_mev_per_cm(r), r))

    to_mev = kernel_48.voxel_mass_g / 1000.0 / 1000.0 / 1e6 / 1.602176634e-13
    photon_mev = kernel_48.photon_mgy_per_mbq_s.sum() * to_mev
    assert absorbed(r_in) < photon_mev < absorbed(r_out)


def test_photon_cubature_agrees_with_monte_carlo_point_pairs() -> None:
    # Second, independent computation of the photon part of two voxels: the mean of g(r)
    # over 400 000 random (source, target) point pairs, times the target volume.
    a_cm = 0.3
    kernel = dose_voxel_kernel(3.0, half_width_voxels=3)
    rng = np.random.default_rng(7)
    for offset in ((2, 1, 0), (3, 3, 1)):
        source = rng.uniform(-0.5, 0.5, size=(400_000, 3))
        target = rng.uniform(-0.5, 0.5, size=(400_000, 3)) + np.array(offset)
        r = np.linalg.norm(target - source, axis=1) * a_cm
        mev = photon_point_kernel_mev_per_cm3(r).mean() * a_cm**3
        s = mev * 1.602176634e-13 * 1e6 / (kernel.voxel_mass_g / 1000) * 1000
        i, j, k = offset
        h = kernel.half_width_voxels
        assert kernel.photon_mgy_per_mbq_s[h + k, h + j, h + i] == pytest.approx(s, rel=0.01)


def test_local_deposition_equals_organ_level_electron_dose() -> None:
    # A 300 g organ: absorbed.py gives Ã·Δₑ/m for the electrons; so must one voxel of 300 g.
    organ = absorbed_dose(1000.0, 300.0)
    voxel = local_deposition_dose_gy(np.full((1, 1, 1), 1000.0), 300.0)
    assert float(voxel[0, 0, 0]) == pytest.approx(organ.electron_gy, rel=1e-12)
    with_photons = local_deposition_dose_gy(np.full((1, 1, 1), 1000.0), 300.0, photons=True)
    assert float(with_photons[0, 0, 0]) > organ.absorbed_dose_gy  # all photons: upper bound


def test_uniform_region_centre_dose_tends_to_local_deposition(kernel_48: Kernel) -> None:
    tia = np.full((15, 15, 15), 2.0)  # MBq·h per voxel
    dose = convolve_dose_gy(tia, kernel_48, spacing_mm=(4.8, 4.8, 4.8))
    mass_g = kernel_48.voxel_mass_g
    electrons = float(local_deposition_dose_gy(np.full((1, 1, 1), 2.0), mass_g)[0, 0, 0])
    everything = float(
        local_deposition_dose_gy(np.full((1, 1, 1), 2.0), mass_g, photons=True)[0, 0, 0]
    )
    centre = float(dose[7, 7, 7])
    # electrons alone give exactly local deposition in the interior; photons add part of theirs
    electron_only = Kernel(
        kernel_48.electron_mgy_per_mbq_s, kernel_48.electron_mgy_per_mbq_s,
        0 * kernel_48.photon_mgy_per_mbq_s, kernel_48.voxel_mm, kernel_48.half_width_voxels,
        kernel_48.density_g_per_cm3, mass_g, 0.0,
    )  # fmt: skip
    assert float(convolve_dose_gy(tia, electron_only)[7, 7, 7]) == pytest.approx(
        electrons, rel=1e-9
    )
    assert electrons < centre < everything
    # at the edge of the region about half the neighbourhood is empty: less dose
    assert dose[7, 7, 0] < centre


def test_convolution_equals_direct_sum_without_wrap_around() -> None:
    kernel = dose_voxel_kernel(4.0, half_width_voxels=2)
    rng = np.random.default_rng(3)
    tia = rng.uniform(0, 5, size=(6, 7, 8))
    tia[0, 0, 0] = 50.0
    got = convolve_dose_gy(tia, kernel)
    s = kernel.gy_per_mbq_h
    h = kernel.half_width_voxels
    expected = np.zeros_like(tia)
    for (k, j, i), activity in np.ndenumerate(tia):  # direct sum, independent of FFT
        for (dk, dj, di), value in np.ndenumerate(s):
            kk, jj, ii = k + dk - h, j + dj - h, i + di - h
            if 0 <= kk < 6 and 0 <= jj < 7 and 0 <= ii < 8:
                expected[kk, jj, ii] += activity * value
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * expected.max())
    # a point source in one corner gives nothing in the far corner (no wrap-around)
    point = np.zeros((6, 7, 8))
    point[0, 0, 0] = 1.0
    assert convolve_dose_gy(point, kernel)[5, 6, 7] == 0.0


def test_convolution_refuses_a_kernel_for_another_voxel_size(kernel_48: Kernel) -> None:
    with pytest.raises(BadInputError) as error:
        convolve_dose_gy(np.ones((4, 4, 4)), kernel_48, spacing_mm=(4.0, 4.0, 4.0))
    assert error.value.field == "spacing_mm"


def test_dvh_of_uniform_dose() -> None:
    dose = np.full((4, 5, 6), 3.5)
    mask = np.zeros_like(dose, dtype=bool)
    mask[1:3, 1:4, 2:5] = True
    result = dvh(dose, mask, voxel_volume_ml=0.1)
    assert result.d2_gy == result.d50_gy == result.d98_gy == result.mean_gy == 3.5
    assert result.n_voxels == 18
    assert result.volume_ml == pytest.approx(1.8)


def test_dvh_of_a_linear_ramp() -> None:
    # 100 voxels with 0, 1, …, 99 Gy: at least 2 % of the volume (2 voxels) receives 98 Gy,
    # 50 % receives 50 Gy, 98 % receives 2 Gy (nearest rank).
    dose = np.arange(100.0).reshape(4, 5, 5)
    result = dvh(dose, np.ones_like(dose, dtype=bool))
    assert (result.d2_gy, result.d50_gy, result.d98_gy) == (98.0, 50.0, 2.0)
    assert result.mean_gy == pytest.approx(49.5)
    assert (result.min_gy, result.max_gy) == (0.0, 99.0)
    assert result.curve_volume_fraction[0] == 1.0
    assert result.curve_volume_fraction[-1] == pytest.approx(0.01)
    assert result.volume_ml is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=60))
def test_dvh_order_and_curve(values: list[float]) -> None:
    dose = np.array(values).reshape(1, 1, -1)
    result = dvh(dose, np.ones_like(dose, dtype=bool))
    assert result.min_gy <= result.d98_gy <= result.d50_gy <= result.d2_gy <= result.max_gy
    assert np.all(np.diff(result.curve_volume_fraction) <= 0)
    # D_x: at least x % of the voxels receive it, and fewer receive anything higher
    for x, d in ((2, result.d2_gy), (50, result.d50_gy), (98, result.d98_gy)):
        assert np.mean(dose >= d) >= x / 100 - 1e-12
        higher = dose[dose > d]
        assert higher.size < math.ceil(x * dose.size / 100 - 1e-9)


def _corrected(dose: Any, density: Any, kernel_density: float = 1.0) -> Any:
    return density_corrected_dose_gy(dose, density, kernel_density_g_per_ml=kernel_density)


def test_density_correction_divides_by_the_voxel_density() -> None:
    """D = D_k·ρ_k/ρ (Dieudonné et al. 2013, J Nucl Med 54:236): bone 1.5 g/mL gets 2/3 of the
    water dose, lung 0.25 g/mL four times it, water the same; Σ D·ρ (energy) unchanged."""
    dose = np.array([3.0, 3.0, 3.0, 0.0])
    density = np.array([1.5, 0.25, 1.0, 1.2])
    corrected = _corrected(dose, density)
    assert corrected.tolist() == [2.0, 12.0, 3.0, 0.0]
    assert float(np.sum(corrected * density)) == pytest.approx(float(np.sum(dose)))
    assert _corrected(dose, 2.0, 1.04).tolist() == pytest.approx([1.56, 1.56, 1.56, 0.0])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: local_deposition_dose_gy(np.array([[[-1.0]]]), 1.0), "tia_mbq_h_per_voxel"),
        (lambda: local_deposition_dose_gy(np.array([[[math.nan]]]), 1.0), "tia_mbq_h_per_voxel"),
        (lambda: local_deposition_dose_gy(np.ones((1, 1, 1)), 0.0), "voxel_mass_g"),
        (lambda: dose_voxel_kernel(0.0), "voxel_mm"),
        (lambda: dose_voxel_kernel(-4.8), "voxel_mm"),
        (lambda: dose_voxel_kernel(480.0), "voxel_mm"),
        (lambda: dose_voxel_kernel(math.nan), "voxel_mm"),
        (lambda: dose_voxel_kernel((4.0, 4.0)), "voxel_mm"),  # type: ignore[arg-type]
        (lambda: dose_voxel_kernel(4.8, half_width_voxels=0), "half_width_voxels"),
        (lambda: dose_voxel_kernel(4.8, electron_kinds=("alpha",)), "electron_kinds"),
        (lambda: dvh(np.ones((2, 2, 2)), np.zeros((2, 2, 2), dtype=bool)), "mask"),
        (lambda: dvh(np.ones((2, 2, 2)), np.ones((2, 2, 3), dtype=bool)), "mask"),
        (lambda: dvh(np.full((1, 1, 1), math.inf), np.ones((1, 1, 1), dtype=bool)), "dose_gy"),
        (lambda: _corrected(np.ones(2), np.array([1.0, 0.0])), "density_g_per_ml"),
        (lambda: _corrected(np.ones(2), np.array([1.0, math.nan])), "density_g_per_ml"),
        (lambda: _corrected(np.ones(2), np.ones(3)), "density_g_per_ml"),
        (lambda: _corrected(np.ones(2), 1.0, 0.0), "kernel_density_g_per_ml"),
        (lambda: _corrected(np.array([math.inf, 1.0]), 1.0), "dose_gy"),
    ],
)
def test_bad_input_names_the_field(call: object, field: str) -> None:
    with pytest.raises(BadInputError) as error:
        call()  # type: ignore[operator]
    assert error.value.field == field


def test_convolution_refuses_negative_or_nan_tia(kernel_48: Kernel) -> None:
    for bad in (-1.0, math.nan):
        tia = np.ones((3, 3, 3))
        tia[1, 1, 1] = bad
        with pytest.raises(BadInputError) as error:
            convolve_dose_gy(tia, kernel_48)
        assert error.value.field == "tia_mbq_h_per_voxel"


def test_cli_kernel_json_and_npy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    out = tmp_path / "k.npy"
    assert (
        main(["dose", "kernel", "--voxel-mm", "4.8", "--size", "2", "--json", "--out", str(out)])
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    kernel = np.array(document["kernel_mgy_per_mbq_s"])
    assert kernel.shape == (5, 5, 5)
    assert document["centre_index"] == 2
    assert kernel[2, 2, 2] == document["s_values_mgy_per_mbq_s"]["centre"] == kernel.max()
    np.testing.assert_array_equal(np.load(out), kernel)
    assert main(["dose", "kernel", "--voxel-mm", "4.8", "--half-width", "1"]) == 0
    text = capsys.readouterr().out
    for needle in ("mGy/(MBq s)", "Gy/(MBq h)", "method:"):
        assert needle in text


def test_cli_kernel_of_anisotropic_voxels_lists_every_face(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A walk-through saw only the (1, 0, 0) face of a 4.8 × 4.8 × 3 mm kernel: the nearer
    # k neighbour (3 mm) receives more and was not shown.
    assert main(["dose", "kernel", "--voxel-mm", "4.8", "4.8", "3", "--size", "1", "--json"]) == 0
    values = json.loads(capsys.readouterr().out)["s_values_mgy_per_mbq_s"]
    assert values["face_j"] == pytest.approx(values["face"], rel=1e-9)  # 4.8 mm both
    assert values["face_k"] > 1.2 * values["face"]  # 3 mm away, not 4.8 mm
    assert main(["dose", "kernel", "--voxel-mm", "4.8", "--size", "1", "--json"]) == 0
    assert "face_k" not in json.loads(capsys.readouterr().out)["s_values_mgy_per_mbq_s"]


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--voxel-mm", "0"], "--voxel-mm"),
        (["--voxel-mm", "4", "4"], "--voxel-mm"),
        (["--voxel-mm", "4.8", "--size", "21"], "--size"),
    ],
)
def test_cli_kernel_bad_input(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dose", "kernel", *argv]) == 2
    err = capsys.readouterr().err
    assert option in err
    assert len(err.strip().splitlines()) == 1


def test_cli_kernel_of_the_beta_spectrum_compares_with_the_published_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `--electrons beta` is the content of Lanconelli et al. 2012; `all` adds IE and Auger.
    assert main(["dose", "kernel", "--voxel-mm", "4.42", "--size", "1", "--electrons", "beta",
                 "--json"]) == 0  # fmt: skip
    beta = json.loads(capsys.readouterr().out)
    assert beta["electron_emissions"] == ["beta-"]
    assert "beta- only" in beta["method"]
    centre = beta["s_values_mgy_per_mbq_s"]["centre"]
    assert centre == pytest.approx(LANCONELLI_2012[4.42][0], rel=0.01)
    assert main(["dose", "kernel", "--voxel-mm", "4.42", "--size", "1", "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["electron_emissions"] == ["beta-", "IE", "auger"]
    assert full["s_values_mgy_per_mbq_s"]["centre"] / centre == pytest.approx(1.12, abs=0.02)
