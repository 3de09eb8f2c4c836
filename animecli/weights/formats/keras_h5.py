"""Read a Keras HDF5 weights file (e.g. the official VGG19 ``*_notop.h5``) into numpy arrays.

h5py (a dependency: every ``anime train`` reads the VGG19 .h5) is imported only when a file is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from animecli.errors import CheckpointFormatError


def read_keras_h5(path) -> dict[str, np.ndarray]:
    """Every dataset of the file as ``{"layer/dataset": array}``, named and laid out as stored.

    Keras names weights ``<layer>/<layer>_W_1:0`` (kernels, HWIO) and ``<layer>/<layer>_b_1:0``.
    Raises ``CheckpointFormatError`` for a missing, non-HDF5 or unreadable file.
    """
    import h5py

    path = Path(path)
    tensors: dict[str, np.ndarray] = {}

    def collect(name, obj):
        if isinstance(obj, h5py.Dataset):
            tensors[name] = np.asarray(obj[()])

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(collect)
    except FileNotFoundError as err:
        raise CheckpointFormatError(f"{path}: no such file") from err
    except OSError as err:  # h5py raises OSError for non-HDF5 or truncated files
        raise CheckpointFormatError(f"{path}: not a readable HDF5 (Keras .h5) file ({err})") from err
    if not tensors:
        raise CheckpointFormatError(f"{path}: the HDF5 file holds no weights")
    return tensors
