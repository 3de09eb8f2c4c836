"""Keras HDF5 reader: names and layouts as stored, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from animecli.errors import CheckpointFormatError
from animecli.weights.formats.keras_h5 import read_keras_h5


def test_reads_the_real_vgg19_file_as_stored(shared):
    tensors = read_keras_h5(shared / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert len(tensors) == 32  # 16 convs, kernel + bias each
    kernel = tensors["block1_conv1/block1_conv1_W_1:0"]
    assert kernel.shape == (3, 3, 3, 64) and kernel.dtype == np.float32  # HWIO, untouched
    assert tensors["block5_conv4/block5_conv4_b_1:0"].shape == (512,)


def test_not_hdf5_names_the_file(tmp_path):
    bogus = tmp_path / "weights.h5"
    bogus.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(CheckpointFormatError, match="weights.h5"):
        read_keras_h5(bogus)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(CheckpointFormatError, match="absent.h5: no such file"):
        read_keras_h5(tmp_path / "absent.h5")
