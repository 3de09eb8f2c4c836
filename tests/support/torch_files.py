"""PyTorch ``torch.save`` zip files written without torch: real layout, hand-picked storages and views."""

from __future__ import annotations

import collections
import contextlib
import io
import pickle
import sys
import types
import zipfile

import numpy as np


def fake_torch_modules():
    """Stand-ins for torch / torch._utils so the stdlib pickler can name torch's globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    for name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "BoolStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    return torch, utils


class Storage:
    def __init__(self, kind: str, key: str, raw: bytes, numel: int):
        self.kind, self.key, self.raw, self.numel = kind, key, raw, numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride))

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (*self.args, False, collections.OrderedDict())


@contextlib.contextmanager
def torch_names():
    torch, utils = fake_torch_modules()
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        yield torch
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def write_zip(path, pickled: bytes, storages=(), byteorder="little", root="archive", extra=()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{root}/data.pkl", pickled)
        if byteorder:
            zf.writestr(f"{root}/byteorder", byteorder)
        for s in storages:
            zf.writestr(f"{root}/data/{s.key}", s.raw)
        zf.writestr(f"{root}/version", "3\n")
        for name in extra:
            zf.writestr(f"{root}/{name}", b"")


def write_torch_file(path, obj, storages, byteorder="little", protocol=2, extra=()):
    """Write ``obj`` (holding Tensor/Storage objects) the way torch.save lays out a zip."""
    with torch_names() as torch:
        buf = io.BytesIO()
        pickler = pickle.Pickler(buf, protocol=protocol, fix_imports=False)
        pickler.persistent_id = lambda o: (
            ("storage", getattr(torch, o.kind), o.key, "cpu", o.numel) if isinstance(o, Storage) else None
        )
        pickler.dump(obj)
    write_zip(path, buf.getvalue(), storages, byteorder, extra=extra)


def storage(kind, key, array, dtype=None):
    array = np.ascontiguousarray(array, dtype=dtype)
    return Storage(kind, key, array.tobytes(), array.size)
