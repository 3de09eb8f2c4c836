"""Mark an MP4's video as cropped (a ``clap`` clean-aperture box), so odd sizes survive yuv420p.

H.264/HEVC in 4:2:0 can only crop an even number of pixels, so a 321x241 video is encoded at 322x242
(the last column and row repeated) and the MP4 says "show the top-left 321x241". ffmpeg (7.1+) turns
``clap`` into its container-cropping side data and writes it again when remuxing, to MP4/MOV (``clap``)
or Matroska/WebM (``PixelCrop``). Players that ignore it show the extra row/column, never a distortion.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import List, Tuple

# Boxes between the file and the video sample entry; the header sizes of the ones with payload first.
_CONTAINERS = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")
_HEADER = {b"stsd": 16}
_VISUAL_SAMPLE_ENTRY_HEADER = 86  # box header + 78 bytes of VisualSampleEntry fields


def _boxes(data: bytearray, start: int, end: int) -> List[Tuple[bytes, int, int]]:
    """(type, offset, size) of the boxes laid end to end in data[start:end] (32-bit sizes only)."""
    found = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size < 8 or offset + size > end:
            raise ValueError(f"unsupported MP4 box {kind!r} of size {size} at {offset}")
        found.append((kind, offset, size))
        offset += size
    return found


def set_clean_aperture(path: Path, width: int, height: int) -> None:
    """Crop the single video track of ``path`` (written by ffmpeg, index at the end) to width x height."""
    data = bytearray(Path(path).read_bytes())
    top = _boxes(data, 0, len(data))
    if not top or top[-1][0] != b"moov":
        raise ValueError(f"{path}: the MP4 index (moov) must be the last box to add cropping in place")
    chain = []  # offsets of every box enclosing the sample entry, outermost first
    kind, offset, size = top[-1]
    for wanted in _CONTAINERS[1:] + (None,):
        chain.append(offset)
        children = _boxes(data, offset + _HEADER.get(kind, 8), offset + size)
        if wanted is None:  # inside stsd: the sample entry
            kind, offset, size = children[0]
            break
        kind, offset, size = next(child for child in children if child[0] == wanted)
    chain.append(offset)
    coded_width, coded_height = struct.unpack(">HH", data[offset + 32:offset + 36])
    clap = struct.pack(">I4s8i", 40, b"clap", width, 1, height, 1, width - coded_width, 2, height - coded_height, 2)
    entry_children = _boxes(data, offset + _VISUAL_SAMPLE_ENTRY_HEADER, offset + size)
    existing = next((child for child in entry_children if child[0] == b"clap"), None)
    if existing:
        data[existing[1]:existing[1] + existing[2]] = clap
        growth = len(clap) - existing[2]
    else:
        data[offset + size:offset + size] = clap
        growth = len(clap)
    for box in chain:
        (box_size,) = struct.unpack(">I", data[box:box + 4])
        data[box:box + 4] = struct.pack(">I", box_size + growth)
    Path(path).write_bytes(bytes(data))
