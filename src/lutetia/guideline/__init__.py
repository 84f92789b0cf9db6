"""The guideline as an auditable rule catalogue, and the engines that apply it."""
