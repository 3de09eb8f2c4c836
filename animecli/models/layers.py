"""Building blocks of the AnimeGANv2 generator (SPEC section 1), named like the PyTorch port's modules."""

from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import initializer
from mindspore.ops import operations as P


class LayerNorm(nn.Cell):
    """Per-sample normalisation over (C, H, W) with a per-channel affine: ``GroupNorm(1, C)`` semantics.

    Parameters are named ``weight`` (gamma) and ``bias`` (beta) like PyTorch's GroupNorm. Written for
    speed on CPU: the sums are matrix products against a ones vector (multi-threaded, unlike the reduce
    kernels), the variance is the centred two-pass one, and gamma / 1/std fold into one multiply-add.
    """

    def __init__(self, channels: int, eps: float = 1e-12):
        super().__init__()
        self.eps = eps
        self.inverse_sqrt = ops.rsqrt  # export_friendly_padding swaps in 1/sqrt (ONNX export has no Rsqrt)
        self.weight = Parameter(initializer("ones", (channels,), ms.float32), name="weight")
        self.bias = Parameter(initializer("zeros", (channels,), ms.float32), name="bias")

    def construct(self, x):
        n, c, h, w = x.shape
        count = c * h * w
        ones = ops.ones((h * w, 1), x.dtype)
        mean = ops.matmul(x.reshape(n * c, h * w), ones).reshape(n, c).sum(axis=1, keepdims=True) / count
        centred = x - mean.reshape(n, 1, 1, 1)
        squares = (centred * centred).reshape(n * c, h * w)
        var = ops.matmul(squares, ones).reshape(n, c).sum(axis=1, keepdims=True) / count
        scale = self.weight.reshape(1, c) * self.inverse_sqrt(var + self.eps)
        return centred * scale.reshape(n, c, 1, 1) + self.bias.reshape(1, c, 1, 1)


def _reflect_pad(kernel_size: int, stride: int) -> nn.Cell:
    """Explicit reflect padding of the TF original: symmetric, or 0 top/left + 1 bottom/right at stride 2."""
    total = kernel_size - stride
    if total % 2 == 0:
        before = after = total // 2
    else:
        before = total // 2
        after = total - before
    return nn.ReflectionPad2d((before, after, before, after))


class SliceReflectionPad2d(nn.Cell):
    """Reflect padding written as slices and a concatenation: the same numbers as ``nn.ReflectionPad2d``.

    For export: MindSpore 2.8's ONNX exporter refuses MirrorPad ("Exporting MirrorPad operator is not yet
    supported"), and Slice/Concat are plain ONNX operators. The whole-picture network keeps
    ``nn.ReflectionPad2d``; the tiled executor pads the columns of its upsampled bands with this one.
    """

    def __init__(self, padding: tuple):
        super().__init__()
        self.left, self.right, self.top, self.bottom = padding

    def construct(self, x):
        x = self._pad_axis(x, 2, self.top, self.bottom)
        return self._pad_axis(x, 3, self.left, self.right)

    @staticmethod
    def _pad_axis(x, axis, before, after):
        if before == 0 and after == 0:
            return x
        size = x.shape[axis]
        pieces = [_take(x, axis, i) for i in range(before, 0, -1)]  # rows before..1, mirrored
        pieces.append(x)
        pieces += [_take(x, axis, size - 2 - i) for i in range(after)]  # rows size-2, size-3, ...
        return ops.concat(pieces, axis)


def _take(x, axis, index):
    """The single row (axis 2) or column (axis 3) ``index`` of an NCHW tensor, keeping the axis."""
    if axis == 2:
        return x[:, :, index:index + 1, :]
    return x[:, :, :, index:index + 1]


def _reciprocal_sqrt(x):
    return 1.0 / ops.sqrt(x)


def export_friendly(network: nn.Cell) -> nn.Cell:
    """Rewrite ``network`` in place with operators MindSpore 2.8's ONNX exporter accepts.

    ``nn.ReflectionPad2d`` (MirrorPad) becomes ``SliceReflectionPad2d`` (identical numbers) and the layer
    norms' Rsqrt becomes 1/Sqrt (within float rounding).
    """
    for _, cell in network.cells_and_names():
        if isinstance(cell, LayerNorm):
            cell.inverse_sqrt = _reciprocal_sqrt
        if isinstance(cell, nn.SequentialCell):
            for index, child in enumerate(cell.cell_list):
                if isinstance(child, nn.ReflectionPad2d):
                    (top, bottom), (left, right) = child.padding  # stored as ((top, bottom), (left, right))
                    cell[index] = SliceReflectionPad2d((left, right, top, bottom))
    return network


class ForwardGradConv(nn.Cell):
    """``conv(x, weight)`` of a stride-1, ungrouped convolution whose two gradients are forward convolutions.

    ``conv`` is the forward ``Conv2D`` primitive (VALID, or symmetric zero padding ``padding``). The input
    gradient is the full correlation of ``dout`` with the flipped, transposed kernel; the weight gradient
    is the correlation of the (padded) input with ``dout``, batch and channels swapped:
    ``dW[o, i, a, b] = sum(n, h, w) x[n, i, h+a, w+b] * dout[n, o, h, w]``. Same numbers up to float rounding.

    Why: on CPU, MindSpore's Conv2DBackpropInput / Conv2DBackpropFilter kernels each keep an im2col-sized
    workspace of their own for the whole step (~150 MB each for a 3x3 64->64 convolution at 256x256);
    forward convolutions do not. Six such convolutions at 256x256, input and weight gradients: 2,181 MB
    peak -> 714 MB (``benchmarks/bench_conv_grad_memory.py``); the GAN step at 256x256, batch 1: 4.9 GB
    -> 2.5 GB (docs/performance.md, "Training memory"). Where the weight gradient is not asked for (the frozen
    VGG19), graph compilation drops its convolution.
    """

    def __init__(self, conv, in_channels: int, kernel_size: tuple, padding: int = 0):
        super().__init__()
        self.conv = conv
        rows, cols = kernel_size[0] - 1 - padding, kernel_size[1] - 1 - padding  # the full correlation's padding
        self.input_conv = P.Conv2D(in_channels, kernel_size, pad_mode="pad", pad=(rows, rows, cols, cols))
        self.pad = P.Pad(((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else None

    def construct(self, x, weight):
        return self.conv(x, weight)

    def bprop(self, x, weight, out, dout):
        input_grad = self.input_conv(dout, ops.flip(weight, (2, 3)).transpose(1, 0, 2, 3))
        padded = x if self.pad is None else self.pad(x)
        # a primitive, not ops.conv2d: MindSpore 2.8 cannot differentiate ops.conv2d inside a bprop again,
        # and the wgan-gp penalty differentiates the discriminator's input gradient
        correlate = P.Conv2D(out_channel=dout.shape[1], kernel_size=(dout.shape[2], dout.shape[3]))
        weight_grad = correlate(padded.transpose(1, 0, 2, 3), dout.transpose(1, 0, 2, 3))
        return input_grad, weight_grad.transpose(1, 0, 2, 3)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` at stride 1, ungrouped, ``pad_mode`` "valid" or "pad" (symmetric): same parameters,
    same forward (the same primitive), gradients computed as forward convolutions (``ForwardGradConv``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pad_mode: str = "valid",
                 padding: int = 0, has_bias: bool = False):
        super().__init__(in_channels, out_channels, kernel_size, pad_mode=pad_mode, padding=padding,
                         has_bias=has_bias)
        self.forward_grad = ForwardGradConv(self.conv2d, in_channels, (kernel_size, kernel_size),
                                             padding if pad_mode == "pad" else 0)

    def construct(self, x):
        output = self.forward_grad(x, self.weight)
        if self.has_bias:
            output = self.bias_add(output, self.bias)
        return output


class _DepthwiseConv(nn.Cell):
    """``conv2d(x, weight)`` of a VALID, stride-1 depthwise convolution with a cheap weight gradient.

    MindSpore's CPU Conv2DBackpropFilter for depthwise kernels is pathological: 13.0 s of a 53 s GAN step
    at 256/1 (4 calls, ~0.1 GFLOP of work; CPU, loaded machine); alone, 0.04-12 s a call at 512x64x64.
    Here it is a forward grouped convolution (0.08-0.18 s there); the input gradient stays MindSpore's own.
    """

    def __init__(self, conv2d, channels: int, kernel_size: int):
        super().__init__()
        self.conv2d = conv2d
        self.kernel_size = kernel_size
        self.input_grad = P.Conv2DBackpropInput(out_channel=channels, kernel_size=kernel_size, group=channels)

    def construct(self, x, weight):
        return self.conv2d(x, weight)

    def bprop(self, x, weight, out, dout):
        n, c = x.shape[0], x.shape[1]
        # dW[c, i, j] = sum over (n, h, w) of x[n, c, h+i, w+j] * dout[n, c, h, w]: a grouped convolution
        # of x with dout as the kernel (the batch summed inside each group)
        samples = x.transpose(1, 0, 2, 3).reshape(1, c * n, x.shape[2], x.shape[3])
        weight_grad = ops.conv2d(samples, dout.transpose(1, 0, 2, 3), groups=c)
        return self.input_grad(dout, weight, x.shape), weight_grad.reshape(weight.shape)


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(channels, channels, k, pad_mode="valid", group=channels)``: same parameters, same forward,
    a cheaper weight gradient (``_DepthwiseConv``)."""

    def __init__(self, channels: int, kernel_size: int, has_bias: bool):
        super().__init__(channels, channels, kernel_size, pad_mode="valid", group=channels, has_bias=has_bias)
        self.depthwise = _DepthwiseConv(self.conv2d, channels, kernel_size)

    def construct(self, x):
        output = self.depthwise(x, self.weight)
        if self.has_bias:
            output = self.bias_add(output, self.bias)
        return output


class RowTapConv2d(nn.Cell):
    """A stride-1, VALID, bias-free k x k convolution computed as a 1 x k convolution to ``k * out``
    channels (one per kernel row) followed by a grouped k x 1 convolution that adds the row taps up.

    Same result as ``nn.Conv2d`` up to float rounding, and the same parameter (``weight``, OIHW). On CPU,
    MindSpore lowers convolutions to im2col + GEMM; this cuts the im2col matrix k times (measured gain:
    docs/performance.md, "Single mechanisms"). The summing kernel is a constant, not a parameter.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.out_ch = out_ch
        self.weight = Parameter(initializer("he_uniform", (out_ch, in_ch, kernel_size, kernel_size), ms.float32),
                                name="weight")
        taps = np.zeros((out_ch, kernel_size, kernel_size, 1), np.float32)
        for row in range(kernel_size):
            taps[:, row, row, 0] = 1.0
        self.taps = ms.Tensor(taps)
        self.rows = ForwardGradConv(P.Conv2D(out_ch * kernel_size, (1, kernel_size)), in_ch, (1, kernel_size))

    def construct(self, x):
        k = self.kernel_size
        rows = self.weight.transpose(0, 2, 1, 3).reshape(self.out_ch * k, -1, 1, k)  # channel = (out, row)
        return ops.conv2d(self.rows(x, rows), self.taps, groups=self.out_ch)


class ConvNormLReLU(nn.SequentialCell):
    """Reflect pad -> VALID conv (no bias unless ``bias``) -> layer norm -> LeakyReLU(0.2).

    Children: ``0`` pad, ``1`` conv (``1.weight``, ``1.bias``), ``2`` norm (``2.weight``, ``2.bias``), ``3`` act.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, bias: bool = False, eps: float = 1e-12):
        if kernel_size == 7 and in_ch > 3 and stride == 1 and groups == 1 and not bias:
            conv = RowTapConv2d(in_ch, out_ch, kernel_size)
        elif groups == in_ch == out_ch > 1 and stride == 1:
            conv = DepthwiseConv2d(in_ch, kernel_size, has_bias=bias)
        elif groups == 1 and stride == 1:
            conv = Conv2d(in_ch, out_ch, kernel_size, has_bias=bias)
        else:
            conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, pad_mode="valid", group=groups,
                             has_bias=bias)
        super().__init__([
            _reflect_pad(kernel_size, stride),
            conv,
            LayerNorm(out_ch, eps),
            nn.LeakyReLU(0.2),
        ])


class InvertedResBlock(nn.Cell):
    """MobileNetV2-style block (expansion 2): 1x1 expand, 3x3 depthwise (with bias), 1x1 project, norm.

    The input is added back only when ``in_ch == out_ch`` (no activation after the add).
    """

    def __init__(self, in_ch: int, out_ch: int, expansion: int = 2, eps: float = 1e-12):
        super().__init__()
        bottleneck = in_ch * expansion
        self.use_residual = in_ch == out_ch
        self.layers = nn.SequentialCell([
            ConvNormLReLU(in_ch, bottleneck, kernel_size=1, eps=eps),
            ConvNormLReLU(bottleneck, bottleneck, groups=bottleneck, bias=True, eps=eps),
            Conv2d(bottleneck, out_ch, 1),
            LayerNorm(out_ch, eps),
        ])

    def construct(self, x):
        out = self.layers(x)
        if self.use_residual:
            out = out + x
        return out
