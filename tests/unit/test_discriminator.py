"""Discriminator: SPEC section 2 layout, spectral norm with a persistent u, TF's asymmetric zero padding."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest

from animecli import runtime
from animecli.models.discriminator import Discriminator, SpectralNormConv2d


@pytest.fixture(scope="module", autouse=True)
def _configured():
    """MindSpore is used directly below: set the device first, as commands do."""
    runtime.configure("cpu", mode="graph")


def _conv_reference(x, w, stride, pads):
    """Direct NCHW cross-correlation with zero padding ``(top, bottom, left, right)``."""
    top, bottom, left, right = pads
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    out = np.zeros((n, o, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out


def _top_singular(conv):
    matrix = conv.weight.asnumpy().reshape(conv.out_ch, -1).astype(np.float64)
    _, s, vt = np.linalg.svd(matrix)
    return matrix, s, vt


def test_layout_and_parameter_count():
    ms.set_seed(1)
    net = Discriminator(ch=64, n_dis=3)
    trainable = net.trainable_params()
    assert sum(p.size for p in trainable) == 1_128_800
    convs = [c for _, c in net.cells_and_names() if isinstance(c, SpectralNormConv2d)]
    shapes = [c.weight.shape for c in convs]
    assert shapes == [(32, 3, 3, 3), (64, 32, 3, 3), (128, 64, 3, 3), (128, 128, 3, 3),
                      (256, 128, 3, 3), (256, 256, 3, 3), (1, 256, 3, 3)]
    u_params = [p for p in net.get_parameters() if p.name.endswith(".u")]
    assert len(u_params) == 7 and not any(p.requires_grad for p in u_params)
    assert not any(p.name.endswith(".u") for p in trainable)
    assert not any("bias" in p.name and "norm" not in p.name for p in net.get_parameters())  # convs: no bias
    weights = np.concatenate([c.weight.asnumpy().ravel() for c in convs[2:6]])
    assert abs(weights.std() - 0.02) < 0.001 and abs(weights.mean()) < 0.001  # N(0, 0.02)
    logits = net(ms.Tensor(np.zeros((1, 3, 256, 256), np.float32)))
    assert logits.shape == (1, 1, 64, 64)


def test_power_iteration_updates_u_in_place_as_tf_does():
    ms.set_seed(2)
    conv = SpectralNormConv2d(4, 6)
    matrix, _, _ = _top_singular(conv)
    u = conv.u.asnumpy().astype(np.float64)
    v = u @ matrix
    v /= np.linalg.norm(v)
    u_new = v @ matrix.T
    u_new /= np.linalg.norm(u_new)
    conv(ms.Tensor(np.zeros((1, 4, 5, 5), np.float32)))  # a compiled call (GRAPH_MODE)
    np.testing.assert_allclose(conv.u.asnumpy(), u_new, rtol=1e-5, atol=1e-6)


def test_normalised_weight_has_unit_spectral_norm_after_iterations():
    ms.set_seed(3)
    net = Discriminator(ch=16, n_dis=2)
    x = ms.Tensor(np.zeros((1, 3, 16, 16), np.float32))
    for _ in range(30):
        net(x)
    for conv in (net.conv_0, net.blocks[0].conv_s1, net.last_conv):
        normalised = conv.normalized_weight().asnumpy().reshape(conv.out_ch, -1)
        top = np.linalg.svd(normalised.astype(np.float64), compute_uv=False)[0]
        assert top == pytest.approx(1.0, abs=0.02)
        assert np.linalg.svd(conv.weight.asnumpy().reshape(conv.out_ch, -1), compute_uv=False)[0] < 0.9


@pytest.mark.parametrize("stride, pads", [(1, (1, 1, 1, 1)), (2, (1, 0, 1, 0))])
def test_zero_padding_matches_tf(stride, pads):
    ms.set_seed(4)
    conv = SpectralNormConv2d(2, 3, stride=stride)
    matrix, s, vt = _top_singular(conv)
    # start the power iteration at its fixed point: sigma is then exactly the top singular value
    conv.u.set_data(ms.Tensor((matrix @ vt[0] / s[0]).reshape(1, -1).astype(np.float32)))
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 7)).astype(np.float32)
    got = conv(ms.Tensor(x)).asnumpy()
    want = _conv_reference(x.astype(np.float64), conv.weight.asnumpy() / s[0], stride, pads)
    assert got.shape == want.shape == ((1, 3, 7, 7) if stride == 1 else (1, 3, 3, 3))  # TF: (7+1-3)//2+1
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="ch=3"):
        Discriminator(ch=3)
