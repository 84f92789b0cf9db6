"""Clinical calculators: CTCAE v5.0 grading, kidney function, PSA kinetics.

Pure functions over values in canonical units (see :mod:`lutetia.units`).
"""
