"""The AnimeGANv2 generator in PyTorch, for benchmarks only (animecli itself never imports torch).

Same topology and state_dict names as the PyTorch port (SPEC section 1), so the fixture
``random_generator_bl.pt`` loads into it directly. Run with a Python that has torch installed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _cnl(in_ch, out_ch, kernel_size=3, stride=1, groups=1, bias=False):
    """Reflect pad, VALID conv, GroupNorm(1, C), LeakyReLU(0.2)."""
    if stride == 2:
        pad = nn.ReflectionPad2d((0, 1, 0, 1))
    else:
        pad = nn.ReflectionPad2d((kernel_size - 1) // 2)
    return nn.Sequential(pad, nn.Conv2d(in_ch, out_ch, kernel_size, stride, groups=groups, bias=bias),
                         nn.GroupNorm(1, out_ch), nn.LeakyReLU(0.2, inplace=True))


class _InvertedRes(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        mid = 2 * in_ch
        self.residual = in_ch == out_ch
        self.layers = nn.Sequential(_cnl(in_ch, mid, 1), _cnl(mid, mid, groups=mid, bias=True),
                                    nn.Conv2d(mid, out_ch, 1, bias=False), nn.GroupNorm(1, out_ch))

    def forward(self, x):
        out = self.layers(x)
        return out + x if self.residual else out


class TorchGenerator(nn.Module):
    """AnimeGANv2 generator, ``align_corners=True`` upsampling to the remembered sizes (the port's default)."""

    def __init__(self):
        super().__init__()
        self.block_a = nn.Sequential(_cnl(3, 32, 7), _cnl(32, 64, stride=2), _cnl(64, 64))
        self.block_b = nn.Sequential(_cnl(64, 128, stride=2), _cnl(128, 128))
        self.block_c = nn.Sequential(_cnl(128, 128), _InvertedRes(128, 256), _InvertedRes(256, 256),
                                     _InvertedRes(256, 256), _InvertedRes(256, 256), _cnl(256, 128))
        self.block_d = nn.Sequential(_cnl(128, 128), _cnl(128, 128))
        self.block_e = nn.Sequential(_cnl(128, 64), _cnl(64, 64), _cnl(64, 32, 7))
        self.out_layer = nn.Sequential(nn.Conv2d(32, 3, 1, bias=False), nn.Tanh())

    def forward(self, x):
        out = self.block_a(x)
        half = out.shape[-2:]
        out = self.block_c(self.block_b(out))
        out = self.block_d(F.interpolate(out, half, mode="bilinear", align_corners=True))
        out = self.block_e(F.interpolate(out, x.shape[-2:], mode="bilinear", align_corners=True))
        return self.out_layer(out)


def load_generator(path, channels_last=False):
    """A ``TorchGenerator`` in eval mode with the state_dict at ``path`` (eps 1e-5 as in the port)."""
    net = TorchGenerator()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    net.eval()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net
