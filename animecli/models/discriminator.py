"""The AnimeGANv2 discriminator (SPEC section 2): spectral-normalised convs, layer norm, LeakyReLU(0.2).

For ``ch=64, n_dis=3``: conv3 3->32 | [conv3 s2 32->64 | conv3 64->128, LN] | [conv3 s2 128->128 |
conv3 128->256, LN] | conv3 256->256, LN | conv3 256->1 (raw patch logits, H/4 x W/4).
"""

from __future__ import annotations

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import Normal, initializer

from animecli.models.layers import LayerNorm, ForwardGradConv

_NORMALIZE_EPS = 1e-12  # TF's l2_normalize


def _l2_normalize(x):
    return x * ops.rsqrt(ops.maximum((x * x).sum(), _NORMALIZE_EPS))


class SpectralNormConv2d(nn.Cell):
    """Bias-free 3x3 conv with zero padding whose kernel is divided by its largest singular value.

    ``weight`` (OIHW, N(0, 0.02) init) is the trainable kernel; ``u`` (1, out) is the persistent,
    non-trainable power-iteration vector. Each call runs one power iteration on ``weight`` viewed as
    (out, in*k*k), stores the new ``u`` in place, and convolves with ``weight / sigma``.
    Padding: 1 on every side at stride 1; 1 top/left and 0 bottom/right at stride 2 (TF's layout).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, kernel_size: int = 3):
        super().__init__()
        self.out_ch = out_ch
        self.weight = Parameter(
            initializer(Normal(sigma=0.02), (out_ch, in_ch, kernel_size, kernel_size), ms.float32), name="weight"
        )
        self.u = Parameter(initializer(Normal(sigma=1.0), (1, out_ch), ms.float32), name="u", requires_grad=False)
        total = kernel_size - stride
        before = (total + 1) // 2 if total % 2 else total // 2
        after = total - before
        self.conv = ops.Conv2D(out_ch, kernel_size, pad_mode="pad", pad=(before, after, before, after),
                               stride=stride)
        if stride == 1:  # gradients as forward convolutions: less memory (models.layers.ForwardGradConv)
            self.conv = ForwardGradConv(self.conv, in_ch, (kernel_size, kernel_size), before)

    def normalized_weight(self):
        """``weight / sigma`` after one power iteration (updates ``u``)."""
        matrix = self.weight.reshape(self.out_ch, -1)
        v = ops.stop_gradient(_l2_normalize(ops.matmul(self.u, matrix)))
        wv = ops.matmul(v, matrix.T)
        u = ops.stop_gradient(_l2_normalize(wv))
        sigma = (wv * u).sum()
        u = ops.depend(u, ops.assign(self.u, u))
        return ops.depend(self.weight / sigma, u)

    def construct(self, x):
        return self.conv(x, self.normalized_weight())


class _DownBlock(nn.Cell):
    """conv3 s2 -> LReLU -> conv3 (x2 channels) -> layer norm -> LReLU."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int, eps: float):
        super().__init__()
        self.conv_s2 = SpectralNormConv2d(in_ch, mid_ch, stride=2)
        self.conv_s1 = SpectralNormConv2d(mid_ch, out_ch)
        self.norm = LayerNorm(out_ch, eps)
        self.act = nn.LeakyReLU(0.2)

    def construct(self, x):
        x = self.act(self.conv_s2(x))
        return self.act(self.norm(self.conv_s1(x)))


class Discriminator(nn.Cell):
    """Patch discriminator: NCHW images in [-1, 1] -> (N, 1, H/2^(n_dis-1), W/2^(n_dis-1)) logits.

    ``eps`` is the layer-norm epsilon (TF: 1e-12). Every call runs one spectral-norm power iteration.
    """

    def __init__(self, ch: int = 64, n_dis: int = 3, eps: float = 1e-12):
        super().__init__()
        if ch < 2 or ch % 2 or n_dis < 1:
            raise ValueError(f"discriminator needs an even ch >= 2 and n_dis >= 1 (got ch={ch}, n_dis={n_dis})")
        channel = ch // 2
        self.conv_0 = SpectralNormConv2d(3, channel)
        blocks = []
        in_ch = channel
        for _ in range(1, n_dis):
            blocks.append(_DownBlock(in_ch, channel * 2, channel * 4, eps))
            in_ch = channel * 4
            channel *= 2
        self.blocks = nn.CellList(blocks)
        self.last_conv = SpectralNormConv2d(in_ch, channel * 2)
        self.last_norm = LayerNorm(channel * 2, eps)
        self.logit = SpectralNormConv2d(channel * 2, 1)
        self.act = nn.LeakyReLU(0.2)

    def construct(self, x):
        x = self.act(self.conv_0(x))
        for block in self.blocks:
            x = block(x)
        x = self.act(self.last_norm(self.last_conv(x)))
        return self.logit(x)
