"""The one sanitiser for data-derived text the command line prints (server replies, pack text, file names).

An escape sequence in a dataset server's reason phrase or in a pack title must not drive the terminal
(clear it, retitle it, fake output). Control characters are shown escaped (ESC as `\\x1b`), never
emitted. Torch-, Textual- and cards-free, so every command can use it without start-up cost.
"""

from __future__ import annotations

_KEPT = {"\n", "\t"}
# Bidirectional overrides and isolates reorder what follows them: shown escaped too.
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _table() -> dict[int, str]:
    controls = [*range(0x20), 0x7F, *range(0x80, 0xA0)]  # C0, DEL and C1 (0x9B alone opens a CSI)
    table = {code: _escape(code) for code in controls if chr(code) not in _KEPT}
    table.update({code: _escape(code) for code in _BIDI})
    return table


_TABLE = _table()


def printable(text: object, one_line: bool = False) -> str:
    """`text` safe to print: control characters escaped; with `one_line`, newlines and tabs too."""
    shown = str(text).translate(_TABLE)
    return shown.replace("\n", "\\n").replace("\t", "\\t") if one_line else shown
