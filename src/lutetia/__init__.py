"""Lutetia: software for 177Lu-PSMA radioligand therapy (RLT) programmes.

Lutetia follows the EANM/SNMMI procedure guideline for 177Lu-PSMA radioligand
therapy (2023). The pure core (``units``, ``nuclides``, ``clinical``,
``guideline``) takes values and returns values; the command line in
``lutetia.cli`` is the imperative shell around it. Nothing heavy is imported
here.
"""

__version__ = "0.1.0"

GUIDELINE = "EANM/SNMMI 177Lu-PSMA-RLT procedure guideline (2023)"
