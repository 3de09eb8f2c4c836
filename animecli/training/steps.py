"""Compiled AnimeGANv2 training steps (SPEC sections 4 and 5).

``TrainSteps`` owns the three Adam optimizers (init, generator, discriminator) and two jit-compiled
steps: ``init_step`` (generator only, content loss) and ``gan_step`` (one D update, then one G update).
Each graph is compiled on its first call for a given input shape and reused afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from animecli import losses

ADAM_BETAS = (0.5, 0.999)
INIT_KEYS = ("con", "total")
G_KEYS = ("g_adv", "g_con", "g_sty", "g_col", "g_tv", "g_total")
D_KEYS = ("d_real", "d_fake", "d_gray", "d_blur", "d_total")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and the adversarial loss kind. Defaults: TF's code defaults (= the Shinkai preset)."""

    g_adv: float = 300.0
    d_adv: float = 300.0
    con: float = 1.2
    sty: float = 2.0
    col: float = 10.0
    tv: float = 1.0
    d_real: float = 1.7
    d_fake: float = 1.7
    d_gray: float = 1.7
    d_blur: float = 1.0
    gan_loss: str = "lsgan"

    def __post_init__(self):
        if self.gan_loss not in losses.GAN_LOSSES:
            raise ValueError(f"unknown gan loss {self.gan_loss!r}; choose one of {', '.join(losses.GAN_LOSSES)}")


def _adam(params, learning_rate: float, prefix: str) -> nn.Adam:
    """Adam(beta1 0.5, beta2 0.999) whose own state (moments, beta powers, step, lr) is named ``prefix.*``."""
    optimizer = nn.Adam(params, learning_rate=learning_rate, beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1])
    network_ids = {id(p) for p in params}
    for param in optimizer.get_parameters():
        if id(param) not in network_ids:
            param.name = f"{prefix}.{param.name}"
    return optimizer


class TrainSteps:
    """The generator/discriminator updates of AnimeGANv2, compiled once.

    ``vgg`` is the frozen ``VGG19Features``. ``distributed=True`` all-reduces (averages) gradients over
    the workers of an initialised ``mindspore.communication`` group (data-parallel training).
    ``seed`` seeds ``rng``, the numpy generator of the wgan-gp interpolation weights (save its state to resume).
    Checkpointable state: ``generator``, ``discriminator`` (its spectral-norm ``u`` vectors included) and
    the optimizers ``init_optimizer``, ``g_optimizer``, ``d_optimizer``; ``state_parameters()`` lists it all.
    """

    def __init__(self, generator: nn.Cell, discriminator: nn.Cell, vgg: nn.Cell,
                 loss_config: LossConfig = LossConfig(), init_lr: float = 2e-4, lr_g: float = 2e-5,
                 lr_d: float = 4e-5, distributed: bool = False, seed: int = 0):
        self.generator = generator
        self.discriminator = discriminator
        self.vgg = vgg
        self.loss_config = loss_config
        self.rng = np.random.default_rng(seed)
        g_params = generator.trainable_params()
        d_params = discriminator.trainable_params()
        self.init_optimizer = _adam(g_params, init_lr, "init_optimizer")
        self.g_optimizer = _adam(g_params, lr_g, "g_optimizer")
        self.d_optimizer = _adam(d_params, lr_d, "d_optimizer")
        self._init_step = _build_init_step(generator, vgg, self.init_optimizer, loss_config, distributed)
        self._gan_step = _build_gan_step(generator, discriminator, vgg, self.g_optimizer, self.d_optimizer,
                                         loss_config, distributed)

    def init_step(self, photo) -> dict[str, float]:
        """One init-phase update of the generator on ``con * content``: ``{"con", "total"}``."""
        return _as_floats(INIT_KEYS, self._init_step(_tensor(photo)))

    def gan_step(self, photo, anime, anime_gray, smooth_gray) -> dict[str, float]:
        """One D update then one G update; unweighted terms and weighted totals of both losses.

        Keys: ``g_adv g_con g_sty g_col g_tv g_total d_real d_fake d_gray d_blur d_total`` (with wgan-gp,
        ``d_total`` includes the gradient penalty).
        """
        photo = _tensor(photo)
        alpha = np.zeros((photo.shape[0], 1, 1, 1), np.float32)
        if self.loss_config.gan_loss == "wgan-gp":
            alpha = self.rng.uniform(size=alpha.shape).astype(np.float32)
        values = self._gan_step(photo, _tensor(anime), _tensor(anime_gray), _tensor(smooth_gray), _tensor(alpha))
        return _as_floats(G_KEYS + D_KEYS, values)

    def state_parameters(self) -> dict[str, ms.Parameter]:
        """Every parameter a checkpoint must hold to resume: networks (with ``u``) and optimizer states.

        Names are unique: network parameters keep their names under ``generator.`` / ``discriminator.``;
        optimizer state is ``init_optimizer.*``, ``g_optimizer.*``, ``d_optimizer.*``.
        """
        state = {}
        for prefix, cell in (("generator", self.generator), ("discriminator", self.discriminator)):
            for param in cell.get_parameters():
                state[f"{prefix}.{param.name}"] = param
        for optimizer in (self.init_optimizer, self.g_optimizer, self.d_optimizer):
            network_ids = {id(p) for p in optimizer.parameters}
            for param in optimizer.get_parameters():
                if id(param) not in network_ids:
                    state[param.name] = param
        return state


def _tensor(x):
    return x if isinstance(x, ms.Tensor) else ms.Tensor(np.ascontiguousarray(x, np.float32))


def _as_floats(keys, values) -> dict[str, float]:
    numbers = values.asnumpy()
    return {key: float(value) for key, value in zip(keys, numbers)}


def _reducer(optimizer, distributed: bool):
    if not distributed:
        return None
    return nn.DistributedGradReducer(optimizer.parameters, mean=True)


def _build_init_step(generator, vgg, optimizer, cfg: LossConfig, distributed: bool):
    reducer = _reducer(optimizer, distributed)

    def forward(photo, photo_features):
        con = losses.content_loss(photo_features, vgg(generator(photo)))
        return cfg.con * con, con

    grad_fn = ms.value_and_grad(forward, None, optimizer.parameters, has_aux=True)

    @ms.jit
    def step(photo):
        photo_features = vgg(photo)
        (total, con), grads = grad_fn(photo, photo_features)
        if reducer is not None:
            grads = reducer(grads)
        optimizer(grads)
        return ops.stack((con, total))

    return step


def _build_gan_step(generator, discriminator, vgg, g_optimizer, d_optimizer, cfg: LossConfig, distributed: bool):
    g_reducer = _reducer(g_optimizer, distributed)
    d_reducer = _reducer(d_optimizer, distributed)

    def d_input_grad_of(images):
        return discriminator(images).sum()

    d_input_grad = ms.grad(d_input_grad_of)

    def d_forward(photo, anime, anime_gray, smooth_gray, alpha):
        fake = ops.stop_gradient(generator(photo))
        # one discriminator call (one power iteration) for all four batches; layer norm is per sample
        logits = discriminator(ops.concat((anime, fake, anime_gray, smooth_gray), axis=0))
        a, f, g = anime.shape[0], fake.shape[0], anime_gray.shape[0]
        real, fake_term, gray, blur = losses.discriminator_terms(
            logits[:a], logits[a:a + f], logits[a + f:a + f + g], logits[a + f + g:], cfg.gan_loss
        )
        total = losses.discriminator_loss(real, fake_term, gray, blur, cfg.d_adv, cfg.d_real, cfg.d_fake,
                                          cfg.d_gray, cfg.d_blur)
        if cfg.gan_loss == "wgan-gp":  # TF: the penalty is added unweighted, between anime and fake
            total = total + losses.gradient_penalty(d_input_grad(anime + alpha * (fake - anime)))
        return total, ops.stack((real, fake_term, gray, blur))

    def g_forward(photo, photo_features, gray_features):
        fake = generator(photo)
        fake_features = vgg(fake)
        adv = losses.generator_adversarial_loss(discriminator(fake), cfg.gan_loss)
        con = losses.content_loss(photo_features, fake_features)
        sty = losses.style_loss(gray_features, fake_features)
        col = losses.color_loss(photo, fake)
        tv = losses.total_variation_loss(fake)
        total = cfg.g_adv * adv + cfg.con * con + cfg.sty * sty + cfg.col * col + cfg.tv * tv
        return total, ops.stack((adv, con, sty, col, tv))

    d_grad_fn = ms.value_and_grad(d_forward, None, d_optimizer.parameters, has_aux=True)
    g_grad_fn = ms.value_and_grad(g_forward, None, g_optimizer.parameters, has_aux=True)

    @ms.jit
    def step(photo, anime, anime_gray, smooth_gray, alpha):
        (d_total, d_terms), d_grads = d_grad_fn(photo, anime, anime_gray, smooth_gray, alpha)
        if d_reducer is not None:
            d_grads = d_reducer(d_grads)
        d_total = ops.depend(d_total, d_optimizer(d_grads))
        features = vgg(ops.concat((photo, anime_gray), axis=0))  # constants of the G loss, one batched call
        photo_features, gray_features = features[:photo.shape[0]], features[photo.shape[0]:]
        (g_total, g_terms), g_grads = g_grad_fn(ops.depend(photo, d_total), photo_features, gray_features)
        if g_reducer is not None:
            g_grads = g_reducer(g_grads)
        g_optimizer(g_grads)
        return ops.concat((g_terms, g_total.reshape(1), d_terms, d_total.reshape(1)))

    return step
