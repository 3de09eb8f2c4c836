"""PyTorch ``torch.save`` zip files -> numpy arrays, without torch and without running pickled code.

A ``.pt`` file is a zip holding ``<archive>/data.pkl`` (the pickled object) and one file per
storage under ``<archive>/data/<key>``. The pickle is read by an unpickler that resolves only
the few globals a state_dict needs; anything else (``os.system``, ``builtins.eval``, ...) is
refused before it can run.
"""

from __future__ import annotations

import collections
import io
import pickle
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from animecli.errors import AnimeError, CheckpointFormatError, UnsafeCheckpointError

# What ``torch.save`` wrote before torch 1.6 (or with _use_new_zipfile_serialization=False):
# a protocol-2 pickle of this magic number.
LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")

_STORAGE_DTYPES = {
    "FloatStorage": np.dtype(np.float32),
    "DoubleStorage": np.dtype(np.float64),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(np.uint16),  # widened to float32 on load
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
    "ComplexFloatStorage": np.dtype(np.complex64),
    "ComplexDoubleStorage": np.dtype(np.complex128),
}


def read_torch_state_dict(path, check_shapes: Optional[Callable[[dict], None]] = None) -> dict[str, np.ndarray]:
    """Read the tensors of a ``torch.save`` zip file as ``{name: array}`` (names and layout as saved).

    A plain state_dict gives its own keys; tensors inside nested dicts/lists (e.g. a training
    checkpoint ``{"model": state_dict, "epoch": 3}``) get dotted names (``model.conv.weight``);
    other plain values are ignored. Raises UnsafeCheckpointError when the pickle asks for
    anything but tensor data, CheckpointFormatError when the file is not a readable zip checkpoint.
    ``check_shapes`` gets ``{name: shape}`` before any tensor data is read or built, and raises to
    refuse the file: a few hundred bytes can describe a tensor of billions of values.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(len(LEGACY_MAGIC))
    if head == LEGACY_MAGIC:
        raise CheckpointFormatError(
            f"{path}: a legacy PyTorch file (saved before torch 1.6 or with "
            "_use_new_zipfile_serialization=False); load it in torch and re-save it with a current "
            "torch.save(state_dict, path)"
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise CheckpointFormatError(f"{path}: not a readable PyTorch zip checkpoint (truncated or corrupt: {err})") from err
    with archive:
        root = _archive_root(archive, path)
        try:
            loader = _StorageLoader(archive, root)
            pickled = archive.read(root + "data.pkl")
            obj = _RestrictedUnpickler(io.BytesIO(pickled), path, loader.load).load()
            if not isinstance(obj, Mapping):
                raise CheckpointFormatError(f"{path}: holds a {type(obj).__name__}, not a state_dict")
            references: dict[str, _TensorRef] = {}
            _collect(obj, "", references)
            if not references:
                raise CheckpointFormatError(f"{path}: holds no tensors")
            if check_shapes is not None:
                check_shapes({name: ref.size for name, ref in references.items()})
            return {name: ref.materialise(loader) for name, ref in references.items()}
        except AnimeError:  # UnsafeCheckpointError, CheckpointFormatError, what check_shapes raises
            raise
        except _Corrupt as err:
            raise CheckpointFormatError(f"{path}: {err}") from err
        except Exception as err:
            raise CheckpointFormatError(f"{path}: corrupt PyTorch checkpoint ({type(err).__name__}: {err})") from err


def _archive_root(archive: zipfile.ZipFile, path: Path) -> str:
    """The ``<archive>/`` folder holding ``data.pkl``; TorchScript archives are refused."""
    names = archive.namelist()
    roots = sorted({n[: -len("data.pkl")] for n in names if n.endswith("/data.pkl") and n.count("/") == 1})
    if len(roots) != 1:
        raise CheckpointFormatError(f"{path}: a zip file but not a PyTorch checkpoint (no single <archive>/data.pkl)")
    root = roots[0]
    if root + "constants.pkl" in names or any(n.startswith(root + "code/") for n in names):
        raise CheckpointFormatError(
            f"{path}: a TorchScript archive (torch.jit.save); save the weights with "
            "torch.save(model.state_dict(), path) instead"
        )
    return root


class _Corrupt(Exception):
    """Raised while unpickling; turned into a CheckpointFormatError naming the file."""


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co. inside the pickle: only carries the dtype."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    """A storage named in the pickle: its dtype, file and element count; the data is read when needed."""

    __slots__ = ("storage_type", "member", "numel")

    def __init__(self, storage_type: _StorageType, member: str, numel: int):
        self.storage_type, self.member, self.numel = storage_type, member, numel


class _TensorRef:
    """What the rebuild functions return while unpickling: a checked view geometry on a storage, turned
    into a numpy array only by ``materialise`` (after the caller has seen the shapes)."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __setstate__(self, state):
        raise _Corrupt("a tensor carries unexpected pickled state")

    def materialise(self, loader: "_StorageLoader") -> np.ndarray:
        """A contiguous copy of this tensor's values."""
        data = loader.read(self.storage)
        if 0 in self.size:
            return np.zeros(self.size, dtype=data.dtype)
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * item for s in self.stride], writeable=False
        )
        return np.array(view, copy=True, order="C")


class _StorageLoader:
    """Maps persistent ids ``('storage', type, key, location, numel)`` to ``_Storage`` records (checked
    against the archive's directory) and reads their data, once each, on demand."""

    def __init__(self, archive: zipfile.ZipFile, root: str):
        self.archive = archive
        self.root = root
        self.swap = False
        if root + "byteorder" in archive.namelist():
            order = archive.read(root + "byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise _Corrupt(f"unknown byte order {order!r}")
            self.swap = order != sys.byteorder
        self.cache: dict[str, np.ndarray] = {}

    def load(self, pid) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise _Corrupt(f"unexpected persistent id {pid!r:.80}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        member = f"{self.root}data/{key}"
        try:
            stored = self.archive.getinfo(member).file_size
        except KeyError as err:
            raise _Corrupt(f"tensor data {member} is missing (truncated or corrupt file)") from err
        itemsize = storage_type.dtype.itemsize
        if type(numel) is not int or stored != numel * itemsize:
            raise _Corrupt(f"tensor data {member} has {stored} bytes, expected {numel} x {itemsize}")
        return _Storage(storage_type, member, numel)

    def read(self, storage: _Storage) -> np.ndarray:
        """The storage's values as a 1-D array (read from the archive once)."""
        if storage.member in self.cache:
            return self.cache[storage.member]
        raw = self.archive.read(storage.member)
        if len(raw) != storage.numel * storage.storage_type.dtype.itemsize:
            raise _Corrupt(f"tensor data {storage.member} has {len(raw)} bytes, expected {storage.numel} x "
                           f"{storage.storage_type.dtype.itemsize}")
        data = np.frombuffer(raw, dtype=storage.storage_type.dtype)
        if self.swap:
            data = data.byteswap()
        if storage.storage_type.name == "BFloat16Storage":
            data = (data.astype(np.uint32) << 16).view(np.float32)
        self.cache[storage.member] = data
        return data


def _strided_copy(storage, storage_offset, size, stride) -> _TensorRef:
    """The tensor ``storage[offset]`` viewed with ``size``/``stride`` (elements), its geometry checked."""
    if not isinstance(storage, _Storage):
        raise _Corrupt("a tensor refers to something that is not a storage")
    size, stride = tuple(size), tuple(stride)
    numbers = (storage_offset, *size, *stride)
    if len(size) != len(stride) or not all(type(n) is int and n >= 0 for n in numbers):
        raise _Corrupt(f"bad tensor geometry: offset {storage_offset}, size {size}, stride {stride}")
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if 0 not in size and last >= storage.numel:
        raise _Corrupt(
            f"a tensor of size {size} (stride {stride}, offset {storage_offset}) reaches past its "
            f"storage of {storage.numel} elements"
        )
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _strided_copy(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _strided_copy(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    if not isinstance(data, _TensorRef):
        raise _Corrupt("a parameter wraps something that is not a tensor")
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None, state=None):
    return _rebuild_parameter(data)


_REBUILDERS = {
    "_rebuild_tensor": _rebuild_tensor,
    "_rebuild_tensor_v2": _rebuild_tensor_v2,
    "_rebuild_parameter": _rebuild_parameter,
    "_rebuild_parameter_with_state": _rebuild_parameter_with_state,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only OrderedDict, torch's tensor rebuild functions and storage types."""

    def __init__(self, file, path: Path, load_storage):
        super().__init__(file)
        self._path = path
        self._load_storage = load_storage

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in _REBUILDERS:
            return _REBUILDERS[name]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeCheckpointError(
            f"refusing to load {self._path}: it asks for {module}.{name}, which is not tensor data"
        )

    def persistent_load(self, pid):
        return self._load_storage(pid)


def _collect(obj, prefix: str, out: dict) -> None:
    """Gather the tensors of nested dicts/lists under dotted names."""
    if isinstance(obj, _TensorRef):
        out[prefix] = obj
        return
    if isinstance(obj, Mapping):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return
    for key, value in items:
        _collect(value, f"{prefix}.{key}" if prefix else str(key), out)
