"""Building blocks of the AnimeGANv2 generator (SPEC section 1), named like the PyTorch port's modules."""

from __future__ import annotations

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import initializer


class LayerNorm(nn.Cell):
    """Per-sample normalisation over (C, H, W) with a per-channel affine: ``GroupNorm(1, C)`` semantics.

    Parameters are named ``weight`` (gamma) and ``bias`` (beta) like PyTorch's GroupNorm.
    """

    def __init__(self, channels: int, eps: float = 1e-12):
        super().__init__()
        self.eps = eps
        self.weight = Parameter(initializer("ones", (channels,), ms.float32), name="weight")
        self.bias = Parameter(initializer("zeros", (channels,), ms.float32), name="bias")

    def construct(self, x):
        mean = x.mean(axis=(1, 2, 3), keep_dims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=(1, 2, 3), keep_dims=True)
        scale = ops.rsqrt(var + self.eps)
        gamma = self.weight.reshape(1, -1, 1, 1)
        beta = self.bias.reshape(1, -1, 1, 1)
        return centred * scale * gamma + beta


def _reflect_pad(kernel_size: int, stride: int) -> nn.Cell:
    """Explicit reflect padding of the TF original: symmetric, or 0 top/left + 1 bottom/right at stride 2."""
    total = kernel_size - stride
    if total % 2 == 0:
        before = after = total // 2
    else:
        before = total // 2
        after = total - before
    return nn.ReflectionPad2d((before, after, before, after))


class ConvNormLReLU(nn.SequentialCell):
    """Reflect pad -> VALID conv (no bias unless ``bias``) -> layer norm -> LeakyReLU(0.2).

    Children: ``0`` pad, ``1`` conv (``1.weight``, ``1.bias``), ``2`` norm (``2.weight``, ``2.bias``), ``3`` act.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, bias: bool = False, eps: float = 1e-12):
        super().__init__([
            _reflect_pad(kernel_size, stride),
            nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, pad_mode="valid", group=groups,
                      has_bias=bias),
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
            nn.Conv2d(bottleneck, out_ch, 1, pad_mode="valid", has_bias=False),
            LayerNorm(out_ch, eps),
        ])

    def construct(self, x):
        out = self.layers(x)
        if self.use_residual:
            out = out + x
        return out
