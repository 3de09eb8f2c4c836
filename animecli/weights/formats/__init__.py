"""Readers for the weight formats animecli accepts, each giving ``{name: numpy array}``.

Names and layouts are the source's own (OIHW for PyTorch, HWIO for TF1 and Keras);
``animecli.weights.convert`` maps them onto our generator.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from animecli.errors import CheckpointFormatError
from animecli.weights.formats.mindspore_ckpt import looks_like_mindspore_ckpt, read_mindspore_ckpt
from animecli.weights.formats.tf1_checkpoint import DATA_FILE_PATTERN, find_tf1_checkpoint, read_tf1_checkpoint
from animecli.weights.formats.torch_pt import LEGACY_MAGIC, read_torch_state_dict

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048)  # where HDF5 looks for its signature (after a user block)
_HEAD_SIZE = 4096  # enough for every magic number and the first name of a MindSpore checkpoint


def detect_format(path) -> str:
    """``"mindspore" | "torch" | "tf1" | "keras_h5"``, decided by content (TF1 also by its file names).

    Raises InvalidInputError for a missing path, CheckpointFormatError for anything else.
    """
    path = Path(path)
    if path.is_dir():
        find_tf1_checkpoint(path)  # raises when the folder holds no checkpoint
        return "tf1"
    if not path.exists():
        find_tf1_checkpoint(path)  # a prefix, or InvalidInputError
        return "tf1"
    name = path.name
    if name == "checkpoint" or name.endswith(".index") or DATA_FILE_PATTERN.search(name):
        return "tf1"
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_SIZE)
    if head.startswith(_ZIP_MAGIC) and _zip_with_data_pkl(path):
        return "torch"
    if head.startswith(LEGACY_MAGIC):
        return "torch"
    if any(head[offset : offset + len(_HDF5_MAGIC)] == _HDF5_MAGIC for offset in _HDF5_OFFSETS):
        return "keras_h5"
    if looks_like_mindspore_ckpt(head):
        return "mindspore"
    empty = "an empty file, " if not head else ""
    raise CheckpointFormatError(
        f"{path}: {empty}not a recognised checkpoint "
        "(expected a MindSpore .ckpt, a PyTorch .pt, a TF1 checkpoint or a Keras .h5)"
    )


def read_tensors(path, check_torch_shapes: Optional[Callable[[dict], None]] = None) -> tuple[str, dict[str, np.ndarray]]:
    """Detect the format of ``path`` and read it: (format, ``{name: array}`` as the source names them).

    ``check_torch_shapes`` sees a PyTorch file's ``{name: shape}`` before its data is read (see
    ``read_torch_state_dict``).
    """
    fmt = detect_format(path)
    if fmt == "torch":
        return fmt, read_torch_state_dict(path, check_torch_shapes)
    if fmt == "tf1":
        return fmt, read_tf1_checkpoint(path)
    if fmt == "keras_h5":
        from animecli.weights.formats.keras_h5 import read_keras_h5  # h5py: imported on use

        return fmt, read_keras_h5(path)
    return fmt, read_mindspore_ckpt(path)[0]


def _zip_with_data_pkl(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith("/data.pkl") for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return True  # a damaged zip: let the PyTorch reader say what is wrong
