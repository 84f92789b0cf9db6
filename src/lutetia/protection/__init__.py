"""Radiation protection: activity bookkeeping, clearance, release and restrictions.

Pure functions of values and timezone-aware datetimes; heavy libraries
(numpy) are imported when first needed.
"""
