"""Radionuclide data (ICRP Publication 107) and radioactive decay.

Half-lives and emission spectra come from the ``icrp107-database`` package,
a machine-readable copy of ICRP Publication 107 (Eckerman & Endo, Ann ICRP
2008;38(3), doi:10.1016/j.icrp.2008.10.004). ``radioactivedecay`` carries the
same ICRP-107 half-lives; the tests check that the two agree and that decay
computed here matches its inventory calculation. The data are read on first
use, never at import.
"""

from lutetia.nuclides.data import Emission, NuclideData, nuclide
from lutetia.nuclides.decay import (
    activity_at,
    decay_constant_per_h,
    decay_factor,
    elapsed_h,
    require_aware,
)

__all__ = [
    "Emission",
    "NuclideData",
    "activity_at",
    "decay_constant_per_h",
    "decay_factor",
    "elapsed_h",
    "nuclide",
    "require_aware",
]
