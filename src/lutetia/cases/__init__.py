"""The case (``lutetia.case/1``) and assessment (``lutetia.assessment/1``) models."""
