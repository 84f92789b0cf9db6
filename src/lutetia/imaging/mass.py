"""Region masses: mean density from CT (HU → density) times the region's volume, or a default.

The volume is the region's volume on the SPECT grid (:attr:`Region.volume_ml`),
the region in which activity is measured, so that mass and activity refer to
the same tissue. With a CT, the mean density is that of the CT voxels whose
centres fall in the region's SPECT voxels (the masks are applied on the CT
grid, at the CT's resolution); without one, or where the CT does not cover
the region, a default density is used and said.

HU → density: piecewise linear through calibration points
(:class:`DensityCalibration`). The default is bilinear (Schneider U, Pedroni
E, Lomax A, Phys Med Biol 1996;41:111-124, for the shape: a soft-tissue line
and a flatter bone line):

* air–water–soft-tissue line: (−1000 HU, ρ_air), (0 HU, 1 g/mL) and
  (100 HU, 1.1 g/mL). By the definition HU = 1000(μ − μ_w)/μ_w, a material
  with water's mass attenuation coefficient has ρ = 1 + HU/1000; soft tissues
  (kidneys, liver, spleen, glands: about 0–100 HU) are close to water in
  composition. ρ_air = 0.001205 g/mL (NIST "Air, Dry", via xraylib);
* bone line: from 100 HU to cortical bone (NIST "Bone, Cortical (ICRP)",
  ρ = 1.85 g/mL, composition via xraylib) at its CT number
  1000(μ_bone/μ_w − 1) computed from the total attenuation coefficients at an
  effective energy of 70 keV (assumed for a 120 kVp CT beam; a parameter).
  Calcium raises attenuation faster than density, hence the flatter line.

The soft-tissue line is fixed by the HU definition; the bone line matters
only for marrow and bone VOIs and is only as good as the effective energy: a
scanner's own phantom calibration (``DensityCalibration``) is better.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from lutetia.errors import BadInputError
from lutetia.imaging.volume import Volume

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from lutetia.imaging.masks import Masks

#: Default density without CT: water, the density the absorbed-dose model assumes
#: (:mod:`lutetia.dosimetry.absorbed`, unit-density spheres).
DEFAULT_DENSITY_G_PER_ML: Final[float] = 1.0
EFFECTIVE_ENERGY_KEV: Final[float] = 70.0
#: Upper end of the soft-tissue line ρ = 1 + HU/1000 (the bone line starts here).
SOFT_TISSUE_MAX_HU: Final[float] = 100.0
#: A region whose CT coverage (fraction of its SPECT voxels with CT samples) is below this
#: gets a warning in its method.
MIN_CT_COVERAGE: Final[float] = 0.9


@dataclass(frozen=True)
class DensityCalibration:
    """HU → mass density (g/mL), piecewise linear through ``points`` (HU, g/mL), flat beyond.

    >>> c = DensityCalibration(((-1000.0, 0.0), (0.0, 1.0), (1000.0, 1.5)), "example")
    >>> c.density_g_per_ml(np.array([-500.0, 0.0, 500.0, 2000.0])).tolist()
    [0.5, 1.0, 1.25, 1.5]
    """

    points: tuple[tuple[float, float], ...]
    source: str

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise BadInputError("calibration.points", "needs at least two (HU, density) points")
        hu = [p[0] for p in self.points]
        density = [p[1] for p in self.points]
        if not all(math.isfinite(v) for v in (*hu, *density)):
            raise BadInputError("calibration.points", "not all finite")
        if any(b <= a for a, b in itertools.pairwise(hu)):
            raise BadInputError("calibration.points", "HU values must increase")
        if any(d < 0 for d in density) or any(b < a for a, b in itertools.pairwise(density)):
            raise BadInputError("calibration.points", "densities must be ≥ 0 and not decrease")

    def density_g_per_ml(self, hu: NDArray[Any]) -> NDArray[np.float64]:
        """Density of each CT number (linear interpolation, constant outside the points)."""
        xs = np.array([p[0] for p in self.points])
        ys = np.array([p[1] for p in self.points])
        result: NDArray[np.float64] = np.interp(np.asarray(hu, dtype=np.float64), xs, ys)
        return result


@functools.cache
def default_calibration(effective_energy_kev: float = EFFECTIVE_ENERGY_KEV) -> DensityCalibration:
    """The bilinear calibration of the module docstring (xraylib NIST materials)."""
    import xraylib

    def material(name: str) -> tuple[float, float]:
        data = xraylib.GetCompoundDataNISTByName(name)
        density = float(data["density"])
        mu_over_rho = sum(
            float(fraction) * float(xraylib.CS_Total(int(z), effective_energy_kev))
            for z, fraction in zip(data["Elements"], data["massFractions"], strict=True)
        )
        return density, density * mu_over_rho

    rho_air, _ = material("Air, Dry (near sea level)")
    rho_water, mu_water = material("Water, Liquid")
    rho_bone, mu_bone = material("Bone, Cortical (ICRP)")
    hu_bone = 1000.0 * (mu_bone / mu_water - 1.0)
    return DensityCalibration(
        (
            (-1000.0, rho_air),
            (0.0, rho_water),
            (SOFT_TISSUE_MAX_HU, rho_water * (1.0 + SOFT_TISSUE_MAX_HU / 1000.0)),
            (hu_bone, rho_bone),
        ),
        f"bilinear: air (−1000 HU, {rho_air:.4g} g/mL), water (0 HU, 1 g/mL), soft tissue "
        f"to {SOFT_TISSUE_MAX_HU:g} HU on ρ = 1 + HU/1000, then to cortical bone "
        f"({hu_bone:.0f} HU, {rho_bone:.3g} g/mL; CT number from NIST attenuation at "
        f"{effective_energy_kev:g} keV effective energy, xraylib)",
    )


@dataclass(frozen=True)
class MassEstimate:
    """Mass of a region and how it was obtained."""

    mass_g: float
    volume_ml: float
    density_g_per_ml: float
    method: str
    #: Fraction of the region the CT covers: None without a CT, 0 where it does not reach it.
    ct_coverage: float | None = None


def _ct_density_in_region(
    mask: NDArray[np.bool_], masks: Masks, ct: Volume, calibration: DensityCalibration
) -> tuple[float, float] | None:
    """Mean CT density over the CT voxels whose centres lie in the region, and the coverage.

    Coverage: the fraction of the region's SPECT voxels that hold at least one CT sample.
    """
    grid = masks.grid
    where = np.argwhere(mask)  # (k, j, i)
    corners = np.concatenate(
        [where.min(axis=0)[::-1] - 0.5, where.max(axis=0)[::-1] + 0.5]
    ).reshape(2, 3)
    box = np.array(
        [
            [corners[a][0], corners[b][1], corners[c][2]]
            for a in (0, 1)
            for b in (0, 1)
            for c in (0, 1)
        ]
    )
    ct_index = ct.grid.lps_to_index(grid.index_to_lps(box))
    size = np.array(ct.grid.size_ijk)
    low = np.clip(np.floor(ct_index.min(axis=0)).astype(int), 0, size)
    high = np.clip(np.ceil(ct_index.max(axis=0)).astype(int) + 1, 0, size)
    if np.any(high <= low):
        return None
    to_spect = np.linalg.inv(grid.affine_lps) @ ct.grid.affine_lps
    shape = np.array(grid.size_ijk)
    total = 0.0
    count = 0
    hit = np.zeros(grid.shape, dtype=bool)
    i, j = np.meshgrid(np.arange(low[0], high[0]), np.arange(low[1], high[1]), indexing="xy")
    for k in range(low[2], high[2]):  # one CT slice at a time keeps memory small
        ijk = np.stack([i.ravel(), j.ravel(), np.full(i.size, k)], axis=1).astype(np.float64)
        spect = np.rint(ijk @ to_spect[:3, :3].T + to_spect[:3, 3]).astype(np.int64)
        inside = np.all((spect >= 0) & (spect < shape), axis=1)
        inside[inside] = mask[spect[inside, 2], spect[inside, 1], spect[inside, 0]]
        if not np.any(inside):
            continue
        hu = ct.values[k, ijk[inside, 1].astype(np.int64), ijk[inside, 0].astype(np.int64)]
        total += float(calibration.density_g_per_ml(hu).sum())
        count += int(inside.sum())
        chosen = spect[inside]
        hit[chosen[:, 2], chosen[:, 1], chosen[:, 0]] = True
    if count == 0:
        return None
    return total / count, float(hit.sum()) / float(mask.sum())


def region_masses(
    masks: Masks,
    ct: Volume | None,
    *,
    calibration: DensityCalibration | None = None,
    default_density_g_per_ml: float = DEFAULT_DENSITY_G_PER_ML,
    regions: Sequence[str] | None = None,
) -> dict[str, MassEstimate]:
    """Mass of each region: mean density (CT, or the default) × volume on the SPECT grid.

    ``ct`` must be a CT (``quantity == "ct_number"``) in the masks' frame of
    reference (when both are known). Regions the CT does not reach get the
    default density, and the method says so.
    """
    if not (math.isfinite(default_density_g_per_ml) and 0 < default_density_g_per_ml <= 3.0):
        raise BadInputError(
            "default_density_g_per_ml", f"{default_density_g_per_ml!r} not in (0, 3]"
        )
    if ct is not None:
        if ct.quantity != "ct_number":
            raise BadInputError("ct.quantity", f"{ct.quantity!r} is not a CT (ct_number, HU)")
        ours, theirs = masks.grid.frame_of_reference_uid, ct.grid.frame_of_reference_uid
        if ours is not None and theirs is not None and ours != theirs:
            raise BadInputError(
                "ct.frame_of_reference_uid", f"{theirs} differs from the masks' {ours}"
            )
    curve = calibration or (default_calibration() if ct is not None else None)
    default_method = f"default density {default_density_g_per_ml:g} g/mL (soft tissue ≈ water)"
    wanted: Mapping[str, Any] = (
        masks.regions if regions is None else {n: masks.regions[n] for n in regions}
    )
    result: dict[str, MassEstimate] = {}
    for name, region in wanted.items():
        density, method = default_density_g_per_ml, default_method
        coverage: float | None = None
        if ct is not None and curve is not None:
            found = _ct_density_in_region(region.mask, masks, ct, curve)
            if found is None:
                method = f"{default_method}: the CT does not cover the region"
                coverage = 0.0
            else:
                density, coverage = found
                method = f"CT mean density over the region, HU → density {curve.source}"
                if coverage < MIN_CT_COVERAGE:
                    method += f"; the CT covers only {100 * coverage:.0f} % of the region"
        result[name] = MassEstimate(
            mass_g=density * region.volume_ml,
            volume_ml=region.volume_ml,
            density_g_per_ml=density,
            method=method,
            ct_coverage=coverage,
        )
    return result
