"""Just enough protocol-buffers wire format to read checkpoint metadata without generated code."""

from __future__ import annotations


class CorruptData(Exception):
    """A malformed binary structure; readers turn it into a CheckpointFormatError naming the file."""


def varint(buf, pos: int) -> tuple[int, int]:
    """Decode the varint at ``pos``: (value, position after it)."""
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise CorruptData("bad varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def int64(value: int) -> int:
    """Reinterpret a decoded varint as a signed 64-bit integer."""
    return value - (1 << 64) if value >= 1 << 63 else value


def fields(buf):
    """Yield (field number, wire type, value) of a message: an int for varints, a slice otherwise."""
    pos = 0
    while pos < len(buf):
        tag, pos = varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire in (1, 2, 5):
            if wire == 2:
                size, pos = varint(buf, pos)
            else:
                size = 8 if wire == 1 else 4
            if pos + size > len(buf):
                raise CorruptData("truncated protobuf field")
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise CorruptData(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def packed_varints(buf) -> list[int]:
    """The values of a packed repeated varint field."""
    values, pos = [], 0
    while pos < len(buf):
        value, pos = varint(buf, pos)
        values.append(value)
    return values
