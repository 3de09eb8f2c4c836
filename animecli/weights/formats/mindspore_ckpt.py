"""MindSpore ``.ckpt`` files: written with ``mindspore.save_checkpoint``, read back without MindSpore.

A ``.ckpt`` is a protobuf ``Checkpoint { repeated Value value = 1; }`` with
``Value { string tag = 1; TensorProto tensor = 2; }`` and
``TensorProto { repeated int64 dims = 1; string tensor_type = 2; bytes tensor_content = 3; }``;
large tensors are split over consecutive values with the same tag, and ``crc_check=True`` appends
``b"crc_num"`` plus a 10-byte big-endian CRC-32 of everything before it.

Reading parses that directly rather than calling ``mindspore.load_checkpoint``, which needs a
file name ending in "ckpt", logs its errors to stderr and costs the MindSpore import.
Our metadata travels as a JSON string entry under ``META_KEY`` (``append_dict``).
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np

from animecli.errors import CheckpointFormatError, InvalidInputError
from animecli.files import atomic_path
from animecli.weights.formats._protobuf import CorruptData, fields, int64, packed_varints, varint

META_KEY = "__animecli_meta__"
_CRC_MARK = b"crc_num"
_CRC_TRAILER = len(_CRC_MARK) + 10

_DTYPES = {
    "Float16": np.dtype("<f2"),
    "Float32": np.dtype("<f4"),
    "Float64": np.dtype("<f8"),
    "Int8": np.dtype("i1"),
    "Int16": np.dtype("<i2"),
    "Int32": np.dtype("<i4"),
    "Int64": np.dtype("<i8"),
    "UInt8": np.dtype("u1"),
    "UInt16": np.dtype("<u2"),
    "UInt32": np.dtype("<u4"),
    "UInt64": np.dtype("<u8"),
    "Bool": np.dtype("?"),
    "BFloat16": np.dtype("<u2"),  # widened to float32 on load
}
_WRITABLE = {dtype.newbyteorder("=") for dtype in _DTYPES.values()}


def write_mindspore_ckpt(path, tensors: dict, metadata: dict) -> None:
    """Write ``tensors`` and ``metadata`` (JSON-able values) to ``path`` atomically, with a CRC.

    The file is complete or absent: it is written beside ``path`` and then renamed into place.
    """
    import mindspore as ms

    path = Path(path)
    if META_KEY in tensors:
        raise ValueError(f"{META_KEY!r} is reserved for the metadata")
    arrays = {}
    for name, value in tensors.items():
        array = np.asarray(value, order="C")
        if array.dtype.newbyteorder("=") not in _WRITABLE:
            raise TypeError(f"{name}: a MindSpore checkpoint cannot hold {array.dtype} data")
        if array.size == 0:  # mindspore.load_checkpoint silently drops them
            raise ValueError(f"{name}: a MindSpore checkpoint cannot hold an empty array")
        arrays[name] = array.astype(array.dtype.newbyteorder("="), copy=False)
    meta_text = json.dumps(dict(metadata), sort_keys=True)
    with atomic_path(path, suffix=".ckpt") as staged:  # also gives the mode open() would (MindSpore leaves files read-only)
        ms.save_checkpoint(arrays, str(staged), append_dict={META_KEY: meta_text}, crc_check=True)


def read_mindspore_ckpt(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a MindSpore ``.ckpt``: (``{name: array}``, our metadata or ``{}``).

    Other string entries are left out; the CRC is checked when the file carries one.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = bytearray(os.fstat(fh.fileno()).st_size)
            fh.readinto(data)
    except FileNotFoundError as err:
        raise InvalidInputError(f"{path}: no such file") from err
    body = memoryview(data)
    if len(body) >= _CRC_TRAILER and body[-_CRC_TRAILER:-10] == _CRC_MARK:
        stored = int.from_bytes(body[-10:], "big")
        body = body[:-_CRC_TRAILER]
        if zlib.crc32(body) != stored:
            raise CheckpointFormatError(f"{path}: checksum mismatch (the MindSpore checkpoint is corrupt)")
    try:
        entries = _parse_values(body)
    except (CorruptData, UnicodeDecodeError) as err:
        raise CheckpointFormatError(f"{path}: not a readable MindSpore checkpoint (truncated or corrupt: {err})") from err
    if not entries:
        raise CheckpointFormatError(f"{path}: not a MindSpore checkpoint (no entries)")
    tensors, metadata = {}, {}
    for name, (dims, kind, pieces) in entries.items():
        if kind == "str":
            if name == META_KEY:
                metadata = _parse_metadata(path, bytes().join(pieces).decode("utf-32-le", "replace"))
            continue
        tensors[name] = _to_array(path, name, dims, kind, pieces)
    return tensors, metadata


def looks_like_mindspore_ckpt(head: bytes) -> bool:
    """Cheap content check: the file starts with a ``Value`` whose ``tag`` is a readable name."""
    try:
        key, pos = varint(head, 0)
        _size, pos = varint(head, pos)
        tag_key, pos = varint(head, pos)
        length, pos = varint(head, pos)
        name = head[pos : pos + length]
        if key != 0x0A or tag_key != 0x0A or length == 0 or len(name) != length:
            return False
        name.decode("utf-8")
    except (CorruptData, UnicodeDecodeError):
        return False
    after = pos + length
    return after >= len(head) or head[after] in (0x12, 0x1A)  # then the tensor (or a map tensor)


def _parse_values(body) -> dict[str, tuple[list, str, list]]:
    """``{tag: (dims, tensor_type, [content pieces])}`` in file order; split tensors joined up."""
    entries: dict[str, tuple[list, str, list]] = {}
    last = None
    for field, wire, value in fields(body):
        if field != 1 or wire != 2:
            raise CorruptData(f"unexpected field {field} at the top level")
        tag, tensor = None, None
        for sub, sub_wire, sub_value in fields(value):
            if sub == 1 and sub_wire == 2:
                tag = bytes(sub_value).decode("utf-8")
            elif sub == 2 and sub_wire == 2:
                tensor = sub_value
            elif sub == 3:
                raise CorruptData("holds a MapParameter, which is not supported")
        if tag is None or tensor is None:
            raise CorruptData("an entry without a name or a tensor")
        dims, kind, content = _parse_tensor(tensor)
        if tag == last:
            entries[tag][2].append(content)
        elif tag in entries:
            raise CorruptData(f"{tag} appears twice")
        else:
            entries[tag] = (dims, kind, [content])
        last = tag
    return entries


def _parse_tensor(buf) -> tuple[list, str, memoryview]:
    dims, kind, content = [], None, buf[0:0]
    for field, wire, value in fields(buf):
        if field == 1 and wire == 0:
            dims.append(int64(value))
        elif field == 1 and wire == 2:
            dims.extend(int64(v) for v in packed_varints(value))
        elif field == 2 and wire == 2:
            kind = bytes(value).decode("utf-8")
        elif field == 3 and wire == 2:
            content = value
    if kind is None:
        raise CorruptData("a tensor without a type")
    return dims, kind, content


def _to_array(path: Path, name: str, dims: list, kind: str, pieces: list) -> np.ndarray:
    dtype = _DTYPES.get(kind)
    if dtype is None:
        raise CheckpointFormatError(f"{path}: {name} has the unsupported type {kind}")
    if dims == [0]:  # how MindSpore stores a scalar
        dims = []
    raw = pieces[0] if len(pieces) == 1 else bytearray().join(pieces)
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if any(d < 0 for d in dims) or len(raw) != expected:
        raise CheckpointFormatError(f"{path}: {name} holds {len(raw)} bytes, its shape {dims} needs {expected}")
    array = np.frombuffer(raw, dtype=dtype).reshape(dims)
    if kind == "BFloat16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _parse_metadata(path: Path, text: str) -> dict:
    try:
        metadata = json.loads(text)
    except ValueError as err:
        raise CheckpointFormatError(f"{path}: its animecli metadata is not valid JSON") from err
    if not isinstance(metadata, dict):
        raise CheckpointFormatError(f"{path}: its animecli metadata is not a JSON object")
    return metadata
