"""The export-only layers compute what the inference layers compute."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

from animecli import runtime
from animecli.models.export_graph import interpolation_matrix
from animecli.models.layers import SliceReflectionPad2d


@pytest.fixture(scope="module", autouse=True)
def _configured():
    """MindSpore is used in this process below: set the device first, as commands do (a later module's
    ``runtime.configure`` fails once MindSpore's runtime started without it)."""
    runtime.configure("cpu", mode="graph")


@pytest.mark.parametrize("mode, align, half_pixel", [
    ("tf", False, False), ("align", True, False), ("half-pixel", False, True),
])
@pytest.mark.parametrize("in_size, out_size", [((7, 5), (14, 10)), ((25, 39), (50, 79))])
def test_matrix_resize_equals_resize_bilinear_v2(mode, align, half_pixel, in_size, out_size):
    x = np.random.default_rng(0).uniform(-1, 1, (1, 4, *in_size)).astype(np.float32)
    expected = ops.ResizeBilinearV2(align_corners=align, half_pixel_centers=half_pixel)(ms.Tensor(x), out_size)
    rows = interpolation_matrix(in_size[0], out_size[0], mode)
    columns = interpolation_matrix(in_size[1], out_size[1], mode)
    got = rows @ x @ columns.T
    # float32 rounding of the weights (MindSpore computes them in float32): measured <= 4.1e-6; a wrong
    # coordinate rule is off by ~1e-1
    assert np.abs(got - expected.asnumpy()).max() <= 1e-5


@pytest.mark.parametrize("padding", [(1, 1, 1, 1), (0, 1, 0, 1), (3, 3, 3, 3)])
def test_slice_reflection_pad_is_reflection_pad(padding):
    x = ms.Tensor(np.random.default_rng(1).normal(size=(1, 2, 9, 11)).astype(np.float32))
    expected = nn.ReflectionPad2d(padding)(x).asnumpy()
    assert np.array_equal(SliceReflectionPad2d(padding)(x).asnumpy(), expected)
