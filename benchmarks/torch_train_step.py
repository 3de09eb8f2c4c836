"""The AnimeGANv2 training step in PyTorch, for benchmarks only (animecli itself never imports torch).

The same work as ``animecli.training.steps.TrainSteps``: the generator of ``torch_generator.py``, the
spectral-norm discriminator (SPEC section 2: one power iteration per call, persistent ``u``), VGG19 to
conv4_4 before its ReLU with the Keras weights, frozen; the same loss terms; the D update on the
generator's detached output (one D call for the four batches); photo and style VGG features without
gradients (one batched call); Adam(0.5, 0.999). Run with a Python that has torch and h5py installed.
"""

from __future__ import annotations

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torch_generator import TorchGenerator

_VGG_LAYERS = (
    ("block1_conv1", False), ("block1_conv2", True), ("block2_conv1", False), ("block2_conv2", True),
    ("block3_conv1", False), ("block3_conv2", False), ("block3_conv3", False), ("block3_conv4", True),
    ("block4_conv1", False), ("block4_conv2", False), ("block4_conv3", False), ("block4_conv4", False),
)
_YUV = torch.tensor([[0.299, 0.587, 0.114], [-0.14714119, -0.28886916, 0.43601035],
                     [0.61497538, -0.51496512, -0.10001026]])


class TorchVGG19(nn.Module):
    """Frozen VGG19 features: NCHW RGB in [-1, 1] -> conv4_4 pre-ReLU, Caffe input convention."""

    def __init__(self, h5_path):
        super().__init__()
        self.convs = nn.ModuleList()
        self.pool_after = []
        with h5py.File(h5_path, "r") as h5:
            for name, pool in _VGG_LAYERS:
                kernel = np.asarray(h5[name][f"{name}_W_1:0"]).transpose(3, 2, 0, 1)
                conv = nn.Conv2d(kernel.shape[1], kernel.shape[0], 3, padding=1)
                conv.weight.data = torch.from_numpy(np.ascontiguousarray(kernel))
                conv.bias.data = torch.from_numpy(np.asarray(h5[name][f"{name}_b_1:0"]))
                self.convs.append(conv)
                self.pool_after.append(pool)
        self.register_buffer("mean", torch.tensor([103.939, 116.779, 123.68]).reshape(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, x):
        x = (x + 1.0) * 127.5
        x = x.flip(1) - self.mean
        last = len(self.convs) - 1
        for i, (conv, pool) in enumerate(zip(self.convs, self.pool_after)):
            x = conv(x)
            if i == last:
                return x
            x = F.relu(x)
            if pool:
                x = F.max_pool2d(x, 2)


class SpectralNormConv(nn.Module):
    """Bias-free 3x3 conv, zero padding (stride 2: 1 top/left, 0 bottom/right), weight / sigma."""

    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3) * 0.02)
        self.register_buffer("u", torch.randn(1, out_ch))
        self.stride = stride
        self.pad = (1, 1, 1, 1) if stride == 1 else (1, 0, 1, 0)

    def forward(self, x):
        matrix = self.weight.reshape(self.weight.shape[0], -1)
        with torch.no_grad():
            v = F.normalize(self.u @ matrix, dim=1, eps=1e-6)
        wv = v @ matrix.T
        with torch.no_grad():
            u = F.normalize(wv, dim=1, eps=1e-6)
            self.u.copy_(u)
        sigma = (wv * u).sum()
        return F.conv2d(F.pad(x, self.pad), self.weight / sigma, stride=self.stride)


class TorchDiscriminator(nn.Module):
    """ch=64, n_dis=3: the 1,128,800-parameter patch discriminator of SPEC section 2."""

    def __init__(self, ch=64):
        super().__init__()
        c = ch // 2
        self.convs = nn.ModuleList([
            SpectralNormConv(3, c), SpectralNormConv(c, 2 * c, 2), SpectralNormConv(2 * c, 4 * c),
            SpectralNormConv(4 * c, 4 * c, 2), SpectralNormConv(4 * c, 8 * c), SpectralNormConv(8 * c, 8 * c),
            SpectralNormConv(8 * c, 1),
        ])
        self.norms = nn.ModuleDict({"2": nn.GroupNorm(1, 4 * c, eps=1e-12), "4": nn.GroupNorm(1, 8 * c, eps=1e-12),
                                    "5": nn.GroupNorm(1, 8 * c, eps=1e-12)})

    def forward(self, x):
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i == last:
                return x
            if str(i) in self.norms:
                x = self.norms[str(i)](x)
            x = F.leaky_relu(x, 0.2)


def _gram(features):
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def _yuv(images):
    return torch.einsum("kc,nchw->nkhw", _YUV, (images + 1.0) / 2.0)


def _color(photo, fake):
    p, f = _yuv(photo), _yuv(fake)
    return (F.l1_loss(p[:, 0], f[:, 0]) + F.smooth_l1_loss(p[:, 1], f[:, 1]) + F.smooth_l1_loss(p[:, 2], f[:, 2]))


def _tv(images):
    dh = images[:, :, :-1, :] - images[:, :, 1:, :]
    dw = images[:, :, :, :-1] - images[:, :, :, 1:]
    return 0.5 * (dh * dh).mean() + 0.5 * (dw * dw).mean()


class TorchTrainSteps:
    """init_step and gan_step (lsgan, Shinkai weights) of the same shape of work as ``TrainSteps``."""

    G_ADV, D_ADV, CON, STY, COL, TV = 300.0, 300.0, 1.2, 2.0, 10.0, 1.0
    D_REAL, D_FAKE, D_GRAY, D_BLUR = 1.7, 1.7, 1.7, 1.0

    def __init__(self, vgg_path):
        torch.manual_seed(0)
        self.generator = TorchGenerator()
        self.discriminator = TorchDiscriminator()
        self.vgg = TorchVGG19(vgg_path)
        betas = (0.5, 0.999)
        self.init_opt = torch.optim.Adam(self.generator.parameters(), lr=2e-4, betas=betas)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=2e-5, betas=betas)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=4e-5, betas=betas)

    def init_step(self, photo):
        with torch.no_grad():
            photo_features = self.vgg(photo)
        con = F.l1_loss(self.vgg(self.generator(photo)), photo_features)
        self.init_opt.zero_grad(set_to_none=True)
        (self.CON * con).backward()
        self.init_opt.step()
        return float(con.detach())

    def gan_step(self, photo, anime, gray, smooth):
        d = self.discriminator
        d.requires_grad_(True)
        with torch.no_grad():
            fake = self.generator(photo)
        logits = d(torch.cat((anime, fake, gray, smooth)))
        real_l, fake_l, gray_l, blur_l = logits.split([anime.shape[0], fake.shape[0], gray.shape[0],
                                                        smooth.shape[0]])
        d_loss = self.D_ADV * (self.D_REAL * ((real_l - 1) ** 2).mean() + self.D_FAKE * (fake_l ** 2).mean()
                               + self.D_GRAY * (gray_l ** 2).mean() + self.D_BLUR * (blur_l ** 2).mean())
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()

        d.requires_grad_(False)  # the G update differentiates through D, not for D's weights
        with torch.no_grad():
            features = self.vgg(torch.cat((photo, gray)))
        photo_features, gray_features = features[:photo.shape[0]], features[photo.shape[0]:]
        fake = self.generator(photo)
        fake_features = self.vgg(fake)
        adv = ((d(fake) - 1) ** 2).mean()
        con = F.l1_loss(fake_features, photo_features)
        sty = F.l1_loss(_gram(fake_features), _gram(gray_features[:fake.shape[0]]))
        g_loss = (self.G_ADV * adv + self.CON * con + self.STY * sty + self.COL * _color(photo, fake)
                  + self.TV * _tv(fake))
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        return float(g_loss.detach()), float(d_loss.detach())


def step_gflop(steps: TorchTrainSteps, kind: str, batches) -> float:
    """GFLOP of one step (forward and backward; FlopCounterMode counts convolutions and matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        steps.init_step(batches[0]) if kind == "init" else steps.gan_step(*batches)
    return counter.get_total_flops() / 1e9
