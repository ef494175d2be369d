"""The few protobuf messages of an Anki package, read by hand.

Modern packages wrap a handful of small protobuf messages (the media map, note type and template
configs). cardlab needs five fields of them (media name and member, note type kind, question and answer
formats); a 60-line reader of the wire format
(varints and length-delimited fields) does that without the protobuf runtime and Anki's generated
schema modules, which would be a large dependency for a few fields.
"""

from __future__ import annotations

from collections import defaultdict

from cards.anki import AnkiError

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise AnkiError("malformed protobuf: a number runs past the end")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def fields(data: bytes) -> dict[int, list[int | bytes]]:
    """Every field of one message: field number -> its values in order (ints, or bytes for
    length-delimited fields: strings, bytes and nested messages). Unknown fields are kept, never fatal."""
    found: dict[int, list[int | bytes]] = defaultdict(list)
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == VARINT:
            value, position = _varint(data, position)
        elif wire == LENGTH:
            size, position = _varint(data, position)
            if position + size > len(data):
                raise AnkiError("malformed protobuf: a field runs past the end")
            value, position = data[position : position + size], position + size
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            value, position = int.from_bytes(data[position : position + width], "little"), position + width
        else:
            raise AnkiError(f"malformed protobuf: unsupported wire type {wire}")
        found[number].append(value)
    return found


def first_int(message: dict[int, list[int | bytes]], number: int, default: int = 0) -> int:
    values = message.get(number)
    return values[0] if values and isinstance(values[0], int) else default


def first_text(message: dict[int, list[int | bytes]], number: int, default: str = "") -> str:
    values = message.get(number)
    if not values or not isinstance(values[0], bytes):
        return default
    return values[0].decode("utf-8", errors="replace")
