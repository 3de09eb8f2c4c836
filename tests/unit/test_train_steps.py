"""Compiled training steps: finite losses, parameters move, the order D-then-G, overfitting one image."""

from __future__ import annotations

import math

import cv2
import mindspore as ms
import numpy as np
import pytest
from mindspore import ops

from animecli import losses, runtime
from animecli.models.discriminator import Discriminator
from animecli.models.generator import Generator
from animecli.models.vgg19 import load_vgg19
from animecli.training.steps import D_KEYS, G_KEYS, LossConfig, TrainSteps


@pytest.fixture(scope="module", autouse=True)
def _configured():
    """MindSpore is used directly below: set the device first, as commands do."""
    runtime.configure("cpu", mode="graph")


@pytest.fixture(scope="module")
def vgg(shared):
    return load_vgg19(shared / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")


def _batch(rng, size, n=2):
    return rng.uniform(-1, 1, (n, 3, size, size)).astype(np.float32)


def _snapshot(steps):
    return {name: p.asnumpy().copy() for name, p in steps.state_parameters().items()}


def test_gan_steps_update_both_networks(vgg):
    ms.set_seed(0)
    steps = TrainSteps(Generator(), Discriminator(), vgg, LossConfig())
    before = _snapshot(steps)
    vgg_before = vgg.block4_conv4.weight.asnumpy().copy()
    rng = np.random.default_rng(0)
    for _ in range(2):
        values = steps.gan_step(*(_batch(rng, 32) for _ in range(4)))
        assert list(values) == list(G_KEYS + D_KEYS)
        assert all(math.isfinite(v) for v in values.values())
    after = _snapshot(steps)
    changed = {name for name in before if not np.array_equal(before[name], after[name])}
    for name in ("generator.block_a.0.1.weight", "generator.out_layer.0.weight",
                 "discriminator.conv_0.weight", "discriminator.last_norm.weight",
                 "discriminator.conv_0.u", "discriminator.logit.u",
                 "g_optimizer.moment1.block_a.0.1.weight", "d_optimizer.moment2.conv_0.weight"):
        assert name in changed, name
    assert not any(name.startswith("init_optimizer.") for name in changed)
    assert int(after["g_optimizer.global_step"][0]) == int(after["d_optimizer.global_step"][0]) == 2
    np.testing.assert_array_equal(vgg.block4_conv4.weight.asnumpy(), vgg_before)  # frozen
    cfg = steps.loss_config
    g_total = (cfg.g_adv * values["g_adv"] + cfg.con * values["g_con"] + cfg.sty * values["g_sty"]
               + cfg.col * values["g_col"] + cfg.tv * values["g_tv"])
    assert values["g_total"] == pytest.approx(g_total, rel=1e-5)
    d_total = cfg.d_adv * (cfg.d_real * values["d_real"] + cfg.d_fake * values["d_fake"]
                           + cfg.d_gray * values["d_gray"] + cfg.d_blur * values["d_blur"])
    assert values["d_total"] == pytest.approx(d_total, rel=1e-5)


def test_state_parameters_are_uniquely_named_and_complete(vgg):
    steps = TrainSteps(Generator(), Discriminator(ch=16, n_dis=2), vgg)
    state = steps.state_parameters()
    g_count = len(list(steps.generator.get_parameters()))
    d_count = len(list(steps.discriminator.get_parameters()))
    # each Adam: two moments per parameter + global_step, learning_rate, beta1_power, beta2_power
    assert len(state) == g_count + d_count + 2 * (2 * g_count + 4) + (2 * len(steps.d_optimizer.parameters) + 4)
    assert len({p.name for p in state.values()}) == len(state)  # MindSpore names unique too
    assert "discriminator.blocks.0.conv_s2.u" in state and "g_optimizer.beta1_power" in state
    assert float(state["init_optimizer.learning_rate"].asnumpy()) == pytest.approx(2e-4)
    assert float(state["d_optimizer.learning_rate"].asnumpy()) == pytest.approx(4e-5)


def test_compiled_gan_step_is_a_d_update_then_a_g_update(vgg):
    """The jit step equals, step by step, the same updates run eagerly in order."""
    ms.set_seed(5)
    cfg = LossConfig(gan_loss="hinge")
    steps = TrainSteps(Generator(), Discriminator(ch=16, n_dis=2), vgg, cfg)
    state = steps.state_parameters()
    start = _snapshot(steps)
    rng = np.random.default_rng(1)
    photo, anime, gray, smooth = (ms.Tensor(_batch(rng, 32)) for _ in range(4))
    compiled = steps.gan_step(photo, anime, gray, smooth)
    result = _snapshot(steps)
    for name, param in state.items():
        param.set_data(ms.Tensor(start[name]))

    g, d = steps.generator, steps.discriminator

    def d_loss():
        logits = d(ops.concat((anime, ops.stop_gradient(g(photo)), gray, smooth)))
        terms = losses.discriminator_terms(logits[:2], logits[2:4], logits[4:6], logits[6:], cfg.gan_loss)
        return losses.discriminator_loss(*terms, cfg.d_adv, cfg.d_real, cfg.d_fake, cfg.d_gray, cfg.d_blur)

    def g_loss():
        fake = g(photo)
        fake_features = vgg(fake)
        return (cfg.g_adv * losses.generator_adversarial_loss(d(fake), cfg.gan_loss)
                + cfg.con * losses.content_loss(vgg(photo), fake_features)
                + cfg.sty * losses.style_loss(vgg(gray), fake_features)
                + cfg.col * losses.color_loss(photo, fake) + cfg.tv * losses.total_variation_loss(fake))

    d_value, d_grads = ms.value_and_grad(d_loss, None, steps.d_optimizer.parameters)()
    steps.d_optimizer(d_grads)
    g_value, g_grads = ms.value_and_grad(g_loss, None, steps.g_optimizer.parameters)()
    steps.g_optimizer(g_grads)
    assert compiled["d_total"] == pytest.approx(float(d_value.asnumpy()), rel=1e-5)
    assert compiled["g_total"] == pytest.approx(float(g_value.asnumpy()), rel=1e-5)
    for name, param in state.items():
        if ".moment1." in name or name.endswith(".u"):  # gradients (moment1 = 0.5 * grad) and u
            want = param.asnumpy()
            assert np.abs(result[name] - want).max() <= 1e-4 * np.abs(want).max(), name


def test_wgan_gp_step_runs(vgg):
    ms.set_seed(6)
    steps = TrainSteps(Generator(), Discriminator(ch=16, n_dis=2), vgg, LossConfig(gan_loss="wgan-gp"), seed=3)
    rng = np.random.default_rng(2)
    state = steps.rng.bit_generator.state["state"]["state"]
    values = steps.gan_step(*(_batch(rng, 32) for _ in range(4)))
    assert all(math.isfinite(v) for v in values.values())
    weighted = steps.loss_config.d_adv * (1.7 * (values["d_real"] + values["d_fake"] + values["d_gray"])
                                          + values["d_blur"])
    assert values["d_total"] > weighted  # the gradient penalty is added
    assert steps.rng.bit_generator.state["state"]["state"] != state  # interpolation weights drawn


@pytest.mark.slow
def test_init_phase_overfits_one_image(vgg, fixtures):
    ms.set_seed(0)
    steps = TrainSteps(Generator(), Discriminator(ch=16, n_dis=2), vgg, LossConfig())
    rgb = cv2.cvtColor(cv2.imread(str(fixtures / "photos" / "chelsea.png")), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (16, 16), interpolation=cv2.INTER_AREA)  # tiny: the step cost is per-op overhead
    photo = ms.Tensor((rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None])
    d_before = steps.discriminator.conv_0.weight.asnumpy().copy()
    history = [steps.init_step(photo) for _ in range(100)]
    assert history[0]["total"] == pytest.approx(steps.loss_config.con * history[0]["con"], rel=1e-6)
    assert history[-1]["con"] < history[0]["con"] / 4
    np.testing.assert_array_equal(steps.discriminator.conv_0.weight.asnumpy(), d_before)
    assert int(steps.init_optimizer.global_step.asnumpy()[0]) == 100
