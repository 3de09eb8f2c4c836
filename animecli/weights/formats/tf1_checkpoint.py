"""TF1 Saver (V2 bundle) checkpoints -> numpy arrays, without TensorFlow.

A checkpoint ``PREFIX`` is ``PREFIX.index``, a LevelDB-style sorted table that maps each tensor
name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size, crc32c), plus the shard files
``PREFIX.data-0000K-of-0000N`` holding the raw tensor bytes. The empty key holds the
``BundleHeaderProto`` (number of shards, byte order).
"""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from animecli.errors import CheckpointFormatError, InvalidInputError
from animecli.weights.formats._crc32c import crc32c, masked
from animecli.weights.formats._protobuf import CorruptData, fields, int64, varint

TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the 8-byte magic
_TRAILER_SIZE = 5  # compression type byte + masked crc32c of the block
DATA_FILE_PATTERN = re.compile(r"\.data-\d{5}-of-\d{5}$")

# tensorflow/core/framework/types.proto -> numpy (bfloat16 is widened to float32)
_DTYPES = {
    1: np.dtype(np.float32),
    2: np.dtype(np.float64),
    3: np.dtype(np.int32),
    4: np.dtype(np.uint8),
    5: np.dtype(np.int16),
    6: np.dtype(np.int8),
    8: np.dtype(np.complex64),
    9: np.dtype(np.int64),
    10: np.dtype(np.bool_),
    14: np.dtype(np.uint16),  # DT_BFLOAT16
    17: np.dtype(np.uint16),
    18: np.dtype(np.complex128),
    19: np.dtype(np.float16),
    22: np.dtype(np.uint32),
    23: np.dtype(np.uint64),
}
_DT_BFLOAT16 = 14
# Entries that are not numeric arrays (e.g. TF2's object graph, a DT_STRING): left out.
_NON_NUMERIC = {7: "string", 20: "resource", 21: "variant"}


@dataclass
class BundleEntry:
    """Where one tensor lives: decoded ``BundleEntryProto``."""

    dtype: int = 0
    shape: tuple = ()
    shard_id: int = 0
    offset: int = 0
    size: int = 0
    crc32c: int | None = None
    sliced: bool = False


def find_tf1_checkpoint(path) -> Path:
    """The checkpoint prefix for a prefix, its ``.index``, a ``.data-*`` file, or a folder.

    A folder is resolved through its ``checkpoint`` file (``model_checkpoint_path``, relative to
    the folder or absolute) or, without one, its only ``*.index`` file.
    """
    path = Path(path)
    if path.is_dir() or (path.name == "checkpoint" and path.is_file()):
        return _prefix_in_folder(path if path.is_dir() else path.parent)
    if path.name.endswith(".index") and path.is_file():
        return path.with_name(path.name[: -len(".index")])
    if DATA_FILE_PATTERN.search(path.name) and path.is_file():
        return path.with_name(DATA_FILE_PATTERN.sub("", path.name))
    if _index_of(path).is_file():
        return path
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file, folder or TF1 checkpoint prefix")
    raise CheckpointFormatError(f"{path}: not a TF1 checkpoint (expected PREFIX.index, PREFIX.data-*-of-* or a folder)")


def read_tf1_checkpoint(path) -> dict[str, np.ndarray]:
    """Every numeric tensor of a TF1 checkpoint, under its TF name and in its stored layout (HWIO)."""
    prefix = find_tf1_checkpoint(path)
    index_path = _index_of(prefix)
    try:
        (num_shards, big_endian), entries = _read_index(index_path.read_bytes())
    except CorruptData as err:
        raise CheckpointFormatError(f"{index_path}: corrupt checkpoint index ({err})") from err
    tensors: dict[str, np.ndarray] = {}
    with contextlib.ExitStack() as stack:
        shards: dict[int, tuple] = {}
        for name, entry in entries.items():
            if entry.dtype in _NON_NUMERIC:
                continue
            if entry.sliced:
                raise CheckpointFormatError(f"{index_path}: {name} is a partitioned variable, which is not supported")
            if entry.dtype not in _DTYPES:
                raise CheckpointFormatError(f"{index_path}: {name} has an unsupported dtype (TF enum {entry.dtype})")
            if not 0 <= entry.shard_id < num_shards:
                raise CheckpointFormatError(f"{index_path}: {name} is in shard {entry.shard_id} of {num_shards}")
            if entry.shard_id not in shards:
                shards[entry.shard_id] = _open_shard(stack, prefix, entry.shard_id, num_shards, index_path)
            tensors[name] = _read_tensor(name, entry, *shards[entry.shard_id], big_endian)
    return tensors


def _index_of(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".index")


def _prefix_in_folder(folder: Path) -> Path:
    state = folder / "checkpoint"
    if state.is_file():
        text = state.read_text(encoding="utf-8", errors="replace")
        match = re.search(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"', text, re.M)
        if not match:
            raise CheckpointFormatError(f"{state}: no model_checkpoint_path in this checkpoint state file")
        named = Path(codecs.escape_decode(match.group(1).encode("utf-8"))[0].decode("utf-8"))
        candidates = [named if named.is_absolute() else folder / named, folder / named.name]
        for prefix in candidates:
            if _index_of(prefix).is_file():
                return prefix
        raise CheckpointFormatError(f"{state} names {named}, but {_index_of(candidates[0])} does not exist")
    indexes = sorted(folder.glob("*.index"))
    if len(indexes) == 1:
        return indexes[0].with_name(indexes[0].name[: -len(".index")])
    if not indexes:
        raise CheckpointFormatError(f"{folder}: no TF1 checkpoint in this folder (no 'checkpoint' file, no *.index)")
    names = ", ".join(p.name for p in indexes)
    raise CheckpointFormatError(f"{folder}: several checkpoints ({names}) and no 'checkpoint' file; pass one prefix")


def _open_shard(stack, prefix: Path, shard: int, num_shards: int, index_path: Path):
    data_path = prefix.with_name(f"{prefix.name}.data-{shard:05d}-of-{num_shards:05d}")
    try:
        handle = stack.enter_context(open(data_path, "rb"))
    except FileNotFoundError as err:
        raise CheckpointFormatError(f"{index_path}: its tensor data file {data_path} is missing") from err
    handle.seek(0, 2)
    return data_path, handle, handle.tell()


def _read_tensor(name, entry: BundleEntry, data_path: Path, handle, file_size: int, big_endian: bool) -> np.ndarray:
    dtype = _DTYPES[entry.dtype]
    if any(d < 0 for d in entry.shape):
        raise CheckpointFormatError(f"{data_path}: {name} has an unknown shape {entry.shape}")
    expected = int(np.prod(entry.shape, dtype=np.int64)) * dtype.itemsize
    if entry.size != expected:
        raise CheckpointFormatError(
            f"{data_path}: {name} is stored with {entry.size} bytes, its shape {list(entry.shape)} needs {expected}"
        )
    end = entry.offset + entry.size
    if end > file_size:
        raise CheckpointFormatError(
            f"{data_path}: truncated: {name} needs bytes up to {end} but the file has {file_size}"
        )
    buffer = bytearray(entry.size)
    handle.seek(entry.offset)
    handle.readinto(buffer)
    if entry.crc32c is not None and masked(crc32c(buffer)) != entry.crc32c:
        raise CheckpointFormatError(f"{data_path}: checksum mismatch for {name} (corrupt file)")
    array = np.frombuffer(buffer, dtype=dtype.newbyteorder(">" if big_endian else "<")).reshape(entry.shape)
    if entry.dtype == _DT_BFLOAT16:
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(dtype, copy=False) if big_endian else array


# ---- the index table ------------------------------------------------------------------------

def _read_index(data: bytes) -> tuple[tuple[int, bool], dict[str, BundleEntry]]:
    """Decode an index file: ``((num_shards, big_endian), {name: BundleEntry})``."""
    if len(data) < _FOOTER_SIZE:
        raise CorruptData(f"only {len(data)} bytes")
    footer = data[-_FOOTER_SIZE:]
    if int.from_bytes(footer[-8:], "little") != TABLE_MAGIC:
        raise CorruptData("bad magic number: not a table file")
    _metaindex, pos = _block_handle(footer, 0)
    index_handle, _ = _block_handle(footer, pos)
    header, entries = None, {}
    for _separator, handle_bytes in _block_entries(_read_block(data, index_handle)):
        block_handle, _ = _block_handle(handle_bytes, 0)
        for key, value in _block_entries(_read_block(data, block_handle)):
            if key == b"":
                header = _decode_header(value)
            else:
                entries[key.decode("utf-8", "replace")] = _decode_entry(value)
    if header is None:
        raise CorruptData("no bundle header: not a TF1 V2 checkpoint index")
    return header, entries


def _block_handle(buf: bytes, pos: int) -> tuple[tuple[int, int], int]:
    offset, pos = varint(buf, pos)
    size, pos = varint(buf, pos)
    return (offset, size), pos


def _read_block(data: bytes, handle: tuple[int, int]) -> bytes:
    offset, size = handle
    end = offset + size
    if end + _TRAILER_SIZE > len(data) - _FOOTER_SIZE:
        raise CorruptData(f"block at {offset} (+{size}) runs past the end of the file")
    contents, kind = data[offset:end], data[end]
    stored_crc = int.from_bytes(data[end + 1 : end + _TRAILER_SIZE], "little")
    if masked(crc32c(data[offset : end + 1])) != stored_crc:
        raise CorruptData(f"checksum mismatch in the block at {offset}")
    if kind != 0:
        raise CorruptData(f"block at {offset} is compressed (type {kind}); only uncompressed indexes are supported")
    return contents


def _block_entries(block: bytes):
    """Yield (key, value) of a block: prefix-compressed keys, then the restart array."""
    if len(block) < 4:
        raise CorruptData("block too short")
    restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise CorruptData("bad restart count")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        value_size, pos = varint(block, pos)
        if shared > len(key) or pos + unshared + value_size > limit:
            raise CorruptData("bad block entry")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_size]
        pos += value_size


# ---- protobuf values ------------------------------------------------------------------------

def _decode_entry(buf: bytes) -> BundleEntry:
    entry = BundleEntry()
    for field, wire, value in fields(buf):
        if field == 1 and wire == 0:
            entry.dtype = value
        elif field == 2 and wire == 2:
            entry.shape = _decode_shape(value)
        elif field == 3 and wire == 0:
            entry.shard_id = value
        elif field == 4 and wire == 0:
            entry.offset = int64(value)
        elif field == 5 and wire == 0:
            entry.size = int64(value)
        elif field == 6 and wire == 5:
            entry.crc32c = int.from_bytes(value, "little")
        elif field == 7:
            entry.sliced = True
    return entry


def _decode_shape(buf: bytes) -> tuple:
    dims = []
    for field, wire, value in fields(buf):
        if field == 2 and wire == 2:  # Dim {int64 size = 1; string name = 2}
            size = 0
            for sub, sub_wire, sub_value in fields(value):
                if sub == 1 and sub_wire == 0:
                    size = int64(sub_value)
            dims.append(size)
        elif field == 3 and wire == 0 and value:  # unknown_rank
            return (-1,)
    return tuple(dims)


def _decode_header(buf: bytes) -> tuple[int, bool]:
    num_shards, endianness = 1, 0
    for field, wire, value in fields(buf):
        if field == 1 and wire == 0:
            num_shards = value
        elif field == 2 and wire == 0:
            endianness = value
    if num_shards < 1:
        raise CorruptData(f"bad shard count {num_shards}")
    return num_shards, endianness == 1
