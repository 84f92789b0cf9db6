"""Images in and out: DICOM NM/CT/PET and NIfTI, geometry, quantification, PET SUV, phantom.

Geometry is DICOM patient coordinates (LPS), as SimpleITK holds it (see
``docs/imaging.md``). The package imports nothing heavy: import the modules
themselves (``lutetia.imaging.volume``, ``lutetia.imaging.dicom``, …).
"""
