"""Lab errors whose message already says what went wrong and what to do (torch-free)."""

from __future__ import annotations


class LabError(ValueError):
    """A lab id, preset or parameter value that cannot be used; the message says what would work."""
