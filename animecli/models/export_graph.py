"""The generator for one fixed input size with ONNX-exportable upsampling.

MindSpore 2.8's ONNX exporter cannot export ResizeBilinearV2 ("Got null pointer ... not support for
exporting onnx"), whatever form the size takes. A bilinear resize is linear in each axis, so at a fixed
size it is ``R_h @ x @ R_w^T`` with constant interpolation matrices: two MatMuls, which every ONNX
runtime runs. The matrices reproduce ResizeBilinearV2's three coordinate rules (tf legacy, align_corners,
half-pixel centres).
"""

from __future__ import annotations

from typing import List, Tuple

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from animecli.models.generator import Generator


def interpolation_matrix(in_size: int, out_size: int, mode: str) -> np.ndarray:
    """(out_size, in_size) float32 matrix of 1-D bilinear weights under ``mode``'s coordinate rule."""
    if mode == "align":
        scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        source = np.arange(out_size) * scale
    elif mode == "half-pixel":
        source = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0.0)
    else:  # tf: TF1 legacy resize (no align, no half-pixel)
        source = np.arange(out_size) * (in_size / out_size)
    lower = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    upper = np.minimum(lower + 1, in_size - 1)
    fraction = source - lower
    matrix = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lower), 1.0 - fraction)
    np.add.at(matrix, (rows, upper), fraction)
    return matrix.astype(np.float32)


def resize_plan(mode: str, height: int, width: int) -> List[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """The generator's two resizes at input (height, width): [((in_h, in_w), (out_h, out_w)), ...]."""
    half = (height // 2, width // 2)  # after block_a's stride-2 convolution (3x3, reflect pad 0/1)
    quarter = (half[0] // 2, half[1] // 2)  # after block_b's
    first_out = half if mode == "align" else (quarter[0] * 2, quarter[1] * 2)
    second_out = (height, width) if mode == "align" else (first_out[0] * 2, first_out[1] * 2)
    return [(quarter, first_out), (first_out, second_out)]


class MatrixResize(nn.Cell):
    """Bilinear resize of NCHW tensors of one fixed size, as ``R_h @ x @ R_w^T``."""

    def __init__(self, in_size: Tuple[int, int], out_size: Tuple[int, int], mode: str):
        super().__init__()
        self.rows = ms.Tensor(interpolation_matrix(in_size[0], out_size[0], mode))
        self.columns_t = ms.Tensor(interpolation_matrix(in_size[1], out_size[1], mode).T.copy())

    def construct(self, x):
        return ops.matmul(self.rows, ops.matmul(x, self.columns_t))


class FixedSizeGenerator(nn.Cell):
    """``Generator``'s blocks and weights with ``MatrixResize`` upsampling for ``size`` (H, W) inputs."""

    def __init__(self, generator: Generator, size: Tuple[int, int]):
        super().__init__(auto_prefix=False)  # keep the generator's parameter names
        self.generator = generator
        (first, second) = resize_plan(generator.upsample_mode, *size)
        self.upsample_first = MatrixResize(*first, generator.upsample_mode)
        self.upsample_second = MatrixResize(*second, generator.upsample_mode)

    def construct(self, x):
        g = self.generator
        out = g.block_c(g.block_b(g.block_a(x)))
        out = g.block_d(self.upsample_first(out))
        return g.out_layer(g.block_e(self.upsample_second(out)))


def exportable_generator(generator: Generator, size: Tuple[int, int]) -> FixedSizeGenerator:
    """Wrap ``generator`` (already ``export_friendly``) for ONNX export at ``size``."""
    network = FixedSizeGenerator(generator, size)
    network.set_train(False)
    return network
