"""Anki in and out: read `.apkg`/`.colpkg` packages and Anki's CSV, write `.apkg` (genanki) and CSV.

UI-free and torch-free like the rest of `cards`. Packages are untrusted input: sizes are capped, member
names are never used as paths, and a corrupt or foreign file gives one `AnkiError` line.
"""

from __future__ import annotations


class AnkiError(Exception):
    """An Anki file cannot be read or written; the message says which file and why."""
