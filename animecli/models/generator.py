"""The AnimeGANv2 generator (SPEC section 1): 77 tensors, 2,143,552 parameters.

Parameter names are stable (our checkpoints depend on them) and equal to the PyTorch port's state_dict
keys, e.g. ``block_a.0.1.weight`` (conv), ``block_a.0.2.weight`` / ``.bias`` (norm gamma / beta),
``block_c.1.layers.1.1.bias`` (depthwise bias), ``out_layer.0.weight``. Layout OIHW.
"""

from __future__ import annotations

from mindspore import nn, ops

from animecli.models import UPSAMPLE_MODES
from animecli.models.layers import Conv2d, ConvNormLReLU, InvertedResBlock


class Generator(nn.Cell):
    """AnimeGANv2 generator: NCHW float32 in [-1, 1] -> tanh output in [-1, 1].

    ``upsample`` decides compatibility with a set of weights:
      - ``tf``: TF1 legacy bilinear (no align, no half-pixel) to exactly 2H x 2W (TF weights);
      - ``align``: bilinear, align_corners, to the remembered sizes (PyTorch port's default), any input size;
      - ``half-pixel``: bilinear x2 with half-pixel centres (the port's align_corners=False path).
    ``eps`` is the layer-norm epsilon: 1e-12 in TF, 1e-5 in the PyTorch port.
    """

    def __init__(self, upsample: str = "tf", eps: float = 1e-12):
        super().__init__()
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"unknown upsample mode {upsample!r}; choose one of {', '.join(UPSAMPLE_MODES)}")
        self.upsample_mode = upsample
        self.block_a = nn.SequentialCell([
            ConvNormLReLU(3, 32, kernel_size=7, eps=eps),
            ConvNormLReLU(32, 64, stride=2, eps=eps),
            ConvNormLReLU(64, 64, eps=eps),
        ])
        self.block_b = nn.SequentialCell([
            ConvNormLReLU(64, 128, stride=2, eps=eps),
            ConvNormLReLU(128, 128, eps=eps),
        ])
        self.block_c = nn.SequentialCell([
            ConvNormLReLU(128, 128, eps=eps),
            InvertedResBlock(128, 256, eps=eps),
            InvertedResBlock(256, 256, eps=eps),
            InvertedResBlock(256, 256, eps=eps),
            InvertedResBlock(256, 256, eps=eps),
            ConvNormLReLU(256, 128, eps=eps),
        ])
        self.block_d = nn.SequentialCell([
            ConvNormLReLU(128, 128, eps=eps),
            ConvNormLReLU(128, 128, eps=eps),
        ])
        self.block_e = nn.SequentialCell([
            ConvNormLReLU(128, 64, eps=eps),
            ConvNormLReLU(64, 64, eps=eps),
            ConvNormLReLU(64, 32, kernel_size=7, eps=eps),
        ])
        self.out_layer = nn.SequentialCell([
            Conv2d(32, 3, 1),
            nn.Tanh(),
        ])
        align = upsample == "align"
        self.resize = ops.ResizeBilinearV2(align_corners=align, half_pixel_centers=upsample == "half-pixel")

    def construct(self, x):
        out = self.block_a(x)
        half_size = out.shape[2:]
        out = self.block_c(self.block_b(out))
        out = self.resize(out, self._target_size(out, half_size))
        out = self.block_d(out)
        out = self.resize(out, self._target_size(out, x.shape[2:]))
        out = self.block_e(out)
        return self.out_layer(out)

    def _target_size(self, x, remembered):
        if self.upsample_mode == "align":
            return (remembered[0], remembered[1])
        return (x.shape[2] * 2, x.shape[3] * 2)


def load_generator_params(network: Generator, weights) -> None:
    """Set ``network``'s parameters in place (optimizers keep them) to ``weights`` (``GeneratorWeights``)."""
    import mindspore as ms

    from animecli.errors import IncompatibleCheckpointError

    parameters = {name: ms.Parameter(ms.Tensor(array), name=name) for name, array in weights.params.items()}
    not_loaded, unused = ms.load_param_into_net(network, parameters, strict_load=True)
    if not_loaded or unused:
        raise IncompatibleCheckpointError(f"{weights.meta.source}: generator weights did not load fully",
                                          missing=not_loaded, unexpected=unused)
