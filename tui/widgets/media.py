"""Media in card Markdown (images and sounds an Anki import copied next to the pack).

The terminal cannot draw an image, so `![name](media/name.png)` shows as the text `[image: name.png]`,
and the study screen's `o` key opens the card's media files in the system viewer.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# ![alt](target) and [sound: name](target); a target may be wrapped in <> (names with spaces).
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\((<[^>\n]+>|[^)\s]+)\)")
_LINK = re.compile(r"(?<!!)\[(?:sound|image): [^\]\n]+\]\((<[^>\n]+>|[^)\s]+)\)")


def _target(raw: str) -> str:
    return raw[1:-1] if raw.startswith("<") else raw


def show_media(markdown: str) -> str:
    """Card Markdown with each image as the literal text `[image: name]` (escaped brackets)."""
    return _IMAGE.sub(lambda match: f"\\[image: {Path(_target(match.group(2))).name}\\]", markdown)


def media_files(markdown: str, pack_file: Path) -> list[Path]:
    """The existing files the card's images and sounds point to, inside the pack's folder only."""
    folder = pack_file.parent.resolve()
    found = []
    for pattern, group in ((_IMAGE, 2), (_LINK, 1)):
        for match in pattern.finditer(markdown):
            target = _target(match.group(group))
            if "://" in target:
                continue
            path = (folder / target).resolve()
            if path.is_file() and path.is_relative_to(folder) and path not in found:
                found.append(path)
    return found


def open_in_viewer(path: Path) -> None:
    """Hand the file to the system's viewer without waiting for it (and without a shell)."""
    if sys.platform == "win32":
        os.startfile(path)  # noqa: S606
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    subprocess.Popen(  # noqa: S603
        [opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
