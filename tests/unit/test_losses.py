"""Losses against TensorFlow's values (real VGG19) and small hand-computed cases."""

from __future__ import annotations

import json
import math

import mindspore as ms
import numpy as np
import pytest

from animecli import losses, runtime
from animecli.models.vgg19 import load_vgg19

REL_TOL = 1e-4  # shared/README.md: loss values relative error <= 1e-4


@pytest.fixture(scope="module", autouse=True)
def _configured():
    """MindSpore is used directly below: set the device first, as commands do."""
    runtime.configure("cpu", mode="graph")


@pytest.fixture(scope="module")
def golden(shared, fixtures):
    vgg = load_vgg19(shared / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    images = {k: ms.Tensor(v) for k, v in np.load(fixtures / "losses" / "golden_losses_inputs.npz").items()}
    features = {k: vgg(v) for k, v in images.items()}
    values = json.loads((fixtures / "losses" / "golden_losses.json").read_text())
    return images, features, values


def _close(value, want):
    got = float(value.asnumpy())
    assert abs(got - want) <= REL_TOL * abs(want), (got, want)


def test_content_loss(golden):
    _, f, want = golden
    _close(losses.content_loss(f["real"], f["fake"]), want["content_l1_conv4_4"])


def test_gram_style_loss(golden):
    _, f, want = golden
    _close(losses.style_loss(f["anime_gray"], f["fake"]), want["gram_style_l1"])


def test_color_loss(golden):
    images, _, want = golden
    _close(losses.color_loss(images["real"], images["fake"]), want["color_yuv"])


def test_total_variation_loss(golden):
    images, _, want = golden
    _close(losses.total_variation_loss(images["fake"]), want["total_variation"])


def test_gram_is_per_sample_matrix():
    features = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    got = losses.gram(ms.Tensor(features)).asnumpy()
    flat = features.reshape(2, 3, 4)
    want = np.einsum("bci,bdi->bcd", flat, flat) / 12.0
    assert got.shape == (2, 3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_style_batch_is_cut_to_the_generated_batch():
    fake = np.ones((1, 2, 2, 2), np.float32)
    style = np.stack([np.ones((2, 2, 2), np.float32), 5 * np.ones((2, 2, 2), np.float32)])
    # gram of all-ones features is 4/8 = 0.5 everywhere, so the first style sample gives 0
    assert float(losses.style_loss(ms.Tensor(style), ms.Tensor(fake)).asnumpy()) == 0.0


def test_huber_is_quadratic_then_linear():
    a = ms.Tensor(np.array([0.0, 0.0, 0.0], np.float32))
    b = ms.Tensor(np.array([0.5, 2.0, -3.0], np.float32))
    # 0.5*0.25, 2-0.5, 3-0.5
    assert float(losses.huber(a, b).asnumpy()) == pytest.approx((0.125 + 1.5 + 2.5) / 3, rel=1e-6)


LOGITS = np.array([0.0, 1.0, -1.0, 2.0], np.float32)
LOG2 = math.log(2.0)


def _softplus(x):
    return math.log1p(math.exp(x))


@pytest.mark.parametrize(
    "gan_loss, want",
    [
        ("lsgan", (1 + 0 + 4 + 1) / 4),
        ("hinge", -(0 + 1 - 1 + 2) / 4),
        ("wgan-gp", -0.5),
        ("gan", (LOG2 + _softplus(-1) + _softplus(1) + _softplus(-2)) / 4),
    ],
)
def test_generator_adversarial_loss(gan_loss, want):
    got = float(losses.generator_adversarial_loss(ms.Tensor(LOGITS), gan_loss).asnumpy())
    assert got == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize(
    "gan_loss, want",
    [
        # real = mean((x-1)^2) = 1.5; the fake-like terms mean(x^2) = 1.5
        ("lsgan", (1.5, 1.5, 1.5, 1.5)),
        # relu(1-x) = [1,0,2,0]; relu(1+x) = [1,2,0,3]
        ("hinge", (0.75, 1.5, 1.5, 1.5)),
        ("wgan-gp", (-0.5, 0.5, 0.5, 0.5)),
        ("gan", ((LOG2 + _softplus(-1) + _softplus(1) + _softplus(-2)) / 4,)
         + ((LOG2 + _softplus(1) + _softplus(-1) + _softplus(2)) / 4,) * 3),
    ],
)
def test_discriminator_terms(gan_loss, want):
    x = ms.Tensor(LOGITS)
    got = [float(t.asnumpy()) for t in losses.discriminator_terms(x, x, x, x, gan_loss)]
    assert got == pytest.approx(list(want), rel=1e-6)


def test_discriminator_terms_keep_their_roles():
    real = ms.Tensor(np.array([1.0, 1.0], np.float32))  # perfect real: lsgan term 0
    fake = ms.Tensor(np.array([2.0, 0.0], np.float32))
    gray = ms.Tensor(np.array([3.0, 3.0], np.float32))
    blur = ms.Tensor(np.array([0.0, -4.0], np.float32))
    got = [float(t.asnumpy()) for t in losses.discriminator_terms(real, fake, gray, blur, "lsgan")]
    assert got == [0.0, 2.0, 9.0, 8.0]


def test_discriminator_loss_weights_each_term():
    total = losses.discriminator_loss(1.0, 2.0, 3.0, 4.0, d_adv=300.0, w_real=1.2, w_fake=1.2,
                                      w_gray=1.2, w_blur=0.8)
    assert total == pytest.approx(300.0 * (1.2 + 2.4 + 3.6 + 3.2))


def test_gradient_penalty():
    grads = np.zeros((2, 1, 2, 2), np.float32)
    grads[0, 0, 0, 0] = 3.0  # norm 3 -> (3-1)^2 = 4
    grads[1, 0] = 0.5  # norm sqrt(4*0.25) = 1 -> 0
    assert float(losses.gradient_penalty(ms.Tensor(grads)).asnumpy()) == pytest.approx(10.0 * 4 / 2)


def test_unknown_gan_loss_is_refused():
    with pytest.raises(ValueError, match="bce"):
        losses.generator_adversarial_loss(ms.Tensor(LOGITS), "bce")
    with pytest.raises(ValueError, match="bce"):
        losses.discriminator_terms(*(ms.Tensor(LOGITS),) * 4, gan_loss="bce")
