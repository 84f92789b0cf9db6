"""Dosimetry: kinetics (fits, TIA), absorbed dose, single-time-point methods, BED, planning.

Pure functions over values; scipy, xraylib and matplotlib are imported when
used. The equations and their references are in docs/dosimetry.md.
"""
