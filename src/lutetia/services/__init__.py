"""Use cases that read and write through adapters and call the pure packages.

The command line (and, later, the clinic) call these; they hold no rules of
their own. Nothing is imported here: each use case imports what it needs.
"""
