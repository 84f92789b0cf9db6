"""The clinic: a Django web application over a real database, where each patient's course lives.

Adapters only: every decision, number and document comes from the pure packages
through :mod:`lutetia.services`; this package stores, shows, signs and audits.
Nothing is imported here; ``lutetia.clinic.settings`` configures Django.
"""
