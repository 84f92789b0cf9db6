"""ICRP-107 nuclear decay data, read lazily from ``icrp107-database``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final, Literal

from lutetia.errors import BadInputError

EmissionKind = Literal["beta-", "IE", "auger", "gamma", "X"]

#: Emissions whose energy is absorbed within a few millimetres of tissue
#: (β particles, internal-conversion and Auger electrons).
NON_PENETRATING: Final[tuple[EmissionKind, ...]] = ("beta-", "IE", "auger")
#: Photon emissions (γ rays and X rays).
PENETRATING: Final[tuple[EmissionKind, ...]] = ("gamma", "X")

SOURCE: Final[str] = (
    "ICRP Publication 107, Nuclear Decay Data for Dosimetric Calculations "
    "(Ann ICRP 2008;38(3), doi:10.1016/j.icrp.2008.10.004), via the icrp107-database package"
)

_HOURS_PER: Final[dict[str, float]] = {
    "us": 1 / 3.6e9,
    "ms": 1 / 3.6e6,
    "s": 1 / 3600,
    "m": 1 / 60,
    "h": 1.0,
    "d": 24.0,
    "y": 24 * 365.25,
}


@dataclass(frozen=True)
class Emission:
    """One emission line: for β⁻ the mean energy of the branch."""

    kind: EmissionKind
    energy_mev: float
    yield_per_decay: float


@dataclass(frozen=True)
class NuclideData:
    """A radionuclide's half-life and emissions, as ICRP-107 gives them."""

    name: str
    half_life_h: float
    emissions: tuple[Emission, ...]
    source: str = SOURCE

    def energy_per_decay_mev(self, kinds: tuple[EmissionKind, ...]) -> float:
        """Mean energy emitted per decay by the given kinds, Σ Eᵢ·Yᵢ (MeV)."""
        return sum(e.energy_mev * e.yield_per_decay for e in self.emissions if e.kind in kinds)

    @property
    def non_penetrating_mev(self) -> float:
        """Energy per decay carried by electrons (β⁻, IE, Auger), MeV."""
        return self.energy_per_decay_mev(NON_PENETRATING)

    @property
    def penetrating_mev(self) -> float:
        """Energy per decay carried by photons (γ, X), MeV."""
        return self.energy_per_decay_mev(PENETRATING)

    @property
    def mean_beta_mev(self) -> float:
        """Mean β⁻ energy per β⁻ decay: Σ Eᵢ·Yᵢ / Σ Yᵢ over the β⁻ branches (MeV)."""
        betas = [e for e in self.emissions if e.kind == "beta-"]
        total_yield = sum(e.yield_per_decay for e in betas)
        return sum(e.energy_mev * e.yield_per_decay for e in betas) / total_yield

    def lines(self, kind: EmissionKind, min_yield: float = 0.0) -> tuple[Emission, ...]:
        """Emissions of one kind with a yield of at least ``min_yield``, by energy."""
        selected = [e for e in self.emissions if e.kind == kind and e.yield_per_decay >= min_yield]
        return tuple(sorted(selected, key=lambda e: e.energy_mev))


@functools.cache
def nuclide(name: str = "Lu-177") -> NuclideData:
    """ICRP-107 data for ``name`` (spelled like ``Lu-177``)."""
    from icrp107_database import get_icrp107_spectrum

    emissions: list[Emission] = []
    half_life_h: float | None = None
    kinds: tuple[EmissionKind, ...] = (*NON_PENETRATING, *PENETRATING)
    for kind in kinds:
        try:
            spectrum = get_icrp107_spectrum(name, kind)
        except Exception as error:
            raise BadInputError("nuclide", f"{name!r} is not in ICRP-107") from error
        half_life_h = float(spectrum["half_life"]) * _HOURS_PER[str(spectrum["time_unit"])]
        emissions.extend(
            Emission(kind, float(energy), float(weight))
            for energy, weight in zip(spectrum["energies"], spectrum["weights"], strict=True)
        )
    assert half_life_h is not None
    return NuclideData(name=name, half_life_h=half_life_h, emissions=tuple(emissions))
