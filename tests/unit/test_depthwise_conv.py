"""DepthwiseConv2d: nn.Conv2d's parameters, forward and gradients, with its own weight gradient."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from animecli import runtime
from animecli.models.layers import DepthwiseConv2d


@pytest.fixture(scope="module", autouse=True)
def _configured():
    runtime.configure("cpu", mode="graph")


def _value_and_grads(net, x, dout):
    def loss(images):
        return (net(images) * dout).sum()

    _, (d_input, d_params) = ms.jit(ms.value_and_grad(loss, 0, net.trainable_params()))(x)
    return net(x).asnumpy(), d_input.asnumpy(), [g.asnumpy() for g in d_params]


@pytest.mark.parametrize("batch", [1, 3])
def test_same_output_and_gradients_as_a_grouped_conv2d(batch):
    channels = 8
    rng = np.random.default_rng(batch)
    ours = DepthwiseConv2d(channels, 3, has_bias=True)
    reference = nn.Conv2d(channels, channels, 3, pad_mode="valid", group=channels, has_bias=True)
    assert [p.name for p in ours.trainable_params()] == [p.name for p in reference.trainable_params()]
    for mine, theirs in zip(ours.trainable_params(), reference.trainable_params()):
        mine.set_data(ms.Tensor(rng.standard_normal(theirs.shape).astype(np.float32)))
        theirs.set_data(mine.data.copy())
    x = ms.Tensor(rng.standard_normal((batch, channels, 13, 11)).astype(np.float32))
    dout = ms.Tensor(rng.standard_normal((batch, channels, 11, 9)).astype(np.float32))
    out, d_input, (d_weight, d_bias) = _value_and_grads(ours, x, dout)
    want_out, want_input, (want_weight, want_bias) = _value_and_grads(reference, x, dout)
    np.testing.assert_array_equal(out, want_out)
    np.testing.assert_array_equal(d_input, want_input)
    np.testing.assert_allclose(d_weight, want_weight, rtol=0, atol=1e-5 * np.abs(want_weight).max())
    np.testing.assert_allclose(d_bias, want_bias, rtol=1e-6)
    # the weight gradient is dW[c, 0, i, j] = sum over n, h, w of x[n, c, h+i, w+j] * dout[n, c, h, w]
    xs, ds = x.asnumpy(), dout.asnumpy()
    direct = np.array([[(xs[:, c, i:i + 11, j:j + 9] * ds[:, c]).sum() for i in range(3) for j in range(3)]
                       for c in range(channels)]).reshape(channels, 1, 3, 3)
    np.testing.assert_allclose(d_weight, direct, rtol=0, atol=1e-5 * np.abs(direct).max())
