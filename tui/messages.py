"""Messages the app posts to its screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from cards.pack import Pack


class PackReloaded(Message):
    """A pack file was saved: `pack` is its new version, or None when it no longer checks (the last
    good version stays loaded and its problems are in the app's library)."""

    def __init__(self, pack_id: str | None, pack: Pack | None) -> None:
        super().__init__()
        self.pack_id = pack_id  # the id of the pack loaded from that file (None: it never loaded)
        self.pack = pack
