"""VGG19 conv4_4 (pre-ReLU) against TensorFlow's output with the real Keras weights."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest

from animecli import runtime
from animecli.errors import CheckpointFormatError, IncompatibleCheckpointError
from animecli.models.vgg19 import VGG19_SHAPES, load_vgg19, vgg19_params_from
from animecli.weights.formats.keras_h5 import read_keras_h5
from animecli.weights.formats.mindspore_ckpt import write_mindspore_ckpt

REL_TOL = 1e-4  # shared/README.md: VGG features relative error <= 1e-4


@pytest.fixture(scope="module", autouse=True)
def _configured():
    """MindSpore is used directly below: set the device first, as commands do."""
    runtime.configure("cpu", mode="graph")


@pytest.fixture(scope="module")
def h5_path(shared):
    return shared / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.fixture(scope="module")
def vgg(h5_path):
    return load_vgg19(h5_path)


def _relative_error(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


def test_conv4_4_matches_tensorflow(vgg, fixtures):
    golden = np.load(fixtures / "vgg19" / "golden_vgg19_conv4_4.npz")
    got = vgg(ms.Tensor(golden["input"])).asnumpy()
    want = golden["conv4_4_pre_relu"]
    assert got.shape == want.shape == (1, 512, 32, 32)
    assert _relative_error(got, want) <= REL_TOL
    assert (want < 0).any() and (got < 0).any()  # really before the ReLU


def test_frozen_and_named(vgg):
    params = list(vgg.get_parameters())
    assert {p.name for p in params} == set(VGG19_SHAPES)
    assert not any(p.requires_grad for p in params)
    assert sum(p.size for p in params) == 10_585_152


def test_converted_checkpoint_loads_the_same(vgg, h5_path, tmp_path, fixtures):
    ckpt = tmp_path / "vgg19.ckpt"
    write_mindspore_ckpt(ckpt, {p.name: p.asnumpy() for p in vgg.get_parameters()}, {"network": "vgg19"})
    again = load_vgg19(ckpt)
    golden = np.load(fixtures / "vgg19" / "golden_vgg19_conv4_4.npz")
    x = ms.Tensor(golden["input"][:, :, :64, :64])
    np.testing.assert_array_equal(again(x).asnumpy(), vgg(x).asnumpy())


def test_incomplete_weights_are_refused(h5_path):
    tensors = read_keras_h5(h5_path)
    del tensors["block4_conv4/block4_conv4_W_1:0"]
    tensors["block1_conv1/block1_conv1_b_1:0"] = np.zeros(32, np.float32)
    with pytest.raises(IncompatibleCheckpointError) as info:
        vgg19_params_from(tensors, source="vgg.h5")
    assert info.value.missing == ["block4_conv4.weight"]
    assert info.value.mismatched == ["block1_conv1.bias (32,) != (64,)"]
    assert str(info.value).startswith("vgg.h5: not VGG19 weights")


def test_other_files_are_refused(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(CheckpointFormatError, match="junk.bin"):
        load_vgg19(junk)
