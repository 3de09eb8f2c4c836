"""VGG19 up to conv4_4 before its ReLU, the perceptual network of the AnimeGANv2 losses (SPEC section 3).

Weights are the Keras/Caffe ones (``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``). Parameters are
named ``<keras layer>.weight`` (OIHW) and ``<keras layer>.bias``, e.g. ``block4_conv4.weight``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mindspore import Tensor, nn, ops

from animecli.errors import IncompatibleCheckpointError
from animecli.models.layers import Conv2d
from animecli.weights.formats import read_tensors

# (layer name, in channels, out channels); a 2x2 max-pool follows the layers marked True.
_LAYERS = (
    ("block1_conv1", 3, 64, False), ("block1_conv2", 64, 64, True),
    ("block2_conv1", 64, 128, False), ("block2_conv2", 128, 128, True),
    ("block3_conv1", 128, 256, False), ("block3_conv2", 256, 256, False),
    ("block3_conv3", 256, 256, False), ("block3_conv4", 256, 256, True),
    ("block4_conv1", 256, 512, False), ("block4_conv2", 512, 512, False),
    ("block4_conv3", 512, 512, False), ("block4_conv4", 512, 512, False),
)
# Caffe's ImageNet means, BGR order, on the 0..255 scale.
BGR_MEAN = (103.939, 116.779, 123.68)

VGG19_SHAPES: dict[str, tuple] = {}
for _name, _cin, _cout, _ in _LAYERS:
    VGG19_SHAPES[f"{_name}.weight"] = (_cout, _cin, 3, 3)
    VGG19_SHAPES[f"{_name}.bias"] = (_cout,)


class VGG19Features(nn.Cell):
    """Frozen VGG19 features: NCHW RGB in [-1, 1] -> conv4_4 pre-ReLU (N, 512, H/8, W/8).

    The input is brought to Caffe's convention inside: ``(x+1)/2*255``, RGB -> BGR, minus ``BGR_MEAN``.
    Convolutions have biases and SAME zero padding; 2x2 max-pools (stride 2) follow conv1_2, conv2_2, conv3_4.
    """

    def __init__(self):
        super().__init__()
        for name, cin, cout, _ in _LAYERS:
            setattr(self, name, Conv2d(cin, cout, 3, pad_mode="pad", padding=1, has_bias=True))
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.mean = Tensor(np.array(BGR_MEAN, np.float32).reshape(1, 3, 1, 1))
        for param in self.get_parameters():
            param.requires_grad = False

    def construct(self, x):
        x = (x + 1.0) * 127.5
        x = ops.concat((x[:, 2:3], x[:, 1:2], x[:, 0:1]), axis=1) - self.mean
        x = self.relu(self.block1_conv1(x))
        x = self.pool(self.relu(self.block1_conv2(x)))
        x = self.relu(self.block2_conv1(x))
        x = self.pool(self.relu(self.block2_conv2(x)))
        x = self.relu(self.block3_conv1(x))
        x = self.relu(self.block3_conv2(x))
        x = self.relu(self.block3_conv3(x))
        x = self.pool(self.relu(self.block3_conv4(x)))
        x = self.relu(self.block4_conv1(x))
        x = self.relu(self.block4_conv2(x))
        x = self.relu(self.block4_conv3(x))
        return self.block4_conv4(x)


def vgg19_params_from(tensors: dict, source: str = "weights") -> dict[str, np.ndarray]:
    """Our VGG19 parameters from Keras-named HWIO tensors or from our own names (OIHW).

    Tensors of the layers after conv4_4 (block5 of the Keras file) are ignored; every parameter up to
    conv4_4 must be present with the right shape, else ``IncompatibleCheckpointError``.
    """
    params, missing, mismatched = {}, [], []
    for target, shape in VGG19_SHAPES.items():
        layer, kind = target.split(".")
        keras = f"{layer}/{layer}_{'W' if kind == 'weight' else 'b'}_1:0"
        if target in tensors:
            value = np.asarray(tensors[target], np.float32)
        elif keras in tensors:
            value = np.asarray(tensors[keras], np.float32)
            if kind == "weight" and value.ndim == 4:
                value = value.transpose(3, 2, 0, 1)  # HWIO -> OIHW
        else:
            missing.append(target)
            continue
        if value.shape != shape:
            mismatched.append(f"{target} {value.shape} != {shape}")
            continue
        params[target] = np.ascontiguousarray(value)
    if missing or mismatched:
        raise IncompatibleCheckpointError(
            f"{source}: not VGG19 weights", missing=missing, mismatched=mismatched
        )
    return params


def load_vgg19(path) -> VGG19Features:
    """A frozen ``VGG19Features`` with weights from the Keras ``.h5`` or a MindSpore ``.ckpt`` with our names.

    Raises ``CheckpointFormatError`` for an unreadable file, ``IncompatibleCheckpointError`` for other weights.
    """
    path = Path(path)
    _, tensors = read_tensors(path)
    params = vgg19_params_from(tensors, source=str(path))
    net = VGG19Features()
    for param in net.get_parameters():
        param.set_data(Tensor(params[param.name]))
    return net
