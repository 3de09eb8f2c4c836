"""The AnimeGANv2 losses (SPEC section 4), as MindSpore functions usable inside compiled graphs.

Images are NCHW float32 in [-1, 1]; features are VGG19 conv4_4 pre-ReLU maps; logits are the raw
discriminator outputs. Every function returns a scalar tensor (the discriminator loss: its terms too).
"""

from __future__ import annotations

from mindspore import ops

GAN_LOSSES = ("lsgan", "hinge", "gan", "wgan-gp")

# RGB -> YUV rows (TF's tf.image.rgb_to_yuv), applied to images scaled to [0, 1].
_YUV = (
    (0.299, 0.587, 0.114),
    (-0.14714119, -0.28886916, 0.43601035),
    (0.61497538, -0.51496512, -0.10001026),
)


def l1(a, b):
    """Mean absolute difference over all elements."""
    return ops.abs(a - b).mean()


def huber(a, b, delta: float = 1.0):
    """Mean Huber loss (quadratic below ``delta``, linear above): TF's ``huber_loss``, SmoothL1 with beta 1."""
    diff = ops.abs(a - b)
    quadratic = ops.minimum(diff, delta)
    return (0.5 * quadratic * quadratic + delta * (diff - quadratic)).mean()


def content_loss(features_photo, features_fake):
    """L1 between the VGG features of the photo and of its stylisation."""
    return l1(features_photo, features_fake)


def gram(features):
    """Per-sample Gram matrix ``F^T F / (H*W*C)`` of NCHW features: (N, C, C)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return ops.bmm(flat, flat.transpose(0, 2, 1)) / (c * h * w)


def style_loss(features_style, features_fake):
    """L1 between Gram matrices; the style batch is cut to the generated batch's size."""
    return l1(gram(features_style[: features_fake.shape[0]]), gram(features_fake))


def _yuv_channel(rgb01, row):
    return rgb01[:, 0] * row[0] + rgb01[:, 1] * row[1] + rgb01[:, 2] * row[2]


def color_loss(photo, fake):
    """``L1(Y) + Huber(U) + Huber(V)`` between photo and stylisation, both brought to [0, 1] first."""
    photo01 = (photo + 1.0) / 2.0
    fake01 = (fake + 1.0) / 2.0
    y_row, u_row, v_row = _YUV
    return (
        l1(_yuv_channel(photo01, y_row), _yuv_channel(fake01, y_row))
        + huber(_yuv_channel(photo01, u_row), _yuv_channel(fake01, u_row))
        + huber(_yuv_channel(photo01, v_row), _yuv_channel(fake01, v_row))
    )


def total_variation_loss(images):
    """``sum(dh^2)/(2*numel(dh)) + sum(dw^2)/(2*numel(dw))`` over neighbouring rows and columns."""
    dh = images[:, :, :-1, :] - images[:, :, 1:, :]
    dw = images[:, :, :, :-1] - images[:, :, :, 1:]
    return 0.5 * (dh * dh).mean() + 0.5 * (dw * dw).mean()


def _softplus(x):
    """``log(1 + exp(x))`` computed stably."""
    return ops.relu(x) + ops.log1p(ops.exp(-ops.abs(x)))


def _bce_ones(logits):
    """Sigmoid cross-entropy of logits against label 1, mean."""
    return _softplus(-logits).mean()


def _bce_zeros(logits):
    """Sigmoid cross-entropy of logits against label 0, mean."""
    return _softplus(logits).mean()


def generator_adversarial_loss(fake_logits, gan_loss: str = "lsgan"):
    """The generator's adversarial term on ``D(G(photo))``.

    lsgan ``mean((D-1)^2)``; hinge and wgan-gp ``-mean(D)``; gan: cross-entropy against ones.
    """
    if gan_loss == "lsgan":
        return ((fake_logits - 1.0) ** 2).mean()
    if gan_loss in ("hinge", "wgan-gp"):
        return -fake_logits.mean()
    if gan_loss == "gan":
        return _bce_ones(fake_logits)
    raise ValueError(f"unknown gan loss {gan_loss!r}; choose one of {', '.join(GAN_LOSSES)}")


def discriminator_terms(real_logits, fake_logits, gray_logits, blur_logits, gan_loss: str = "lsgan"):
    """The four unweighted D terms ``(real, fake, gray, blur)``: anime is real, the other three are fake.

    lsgan: ``mean((real-1)^2)`` and ``mean(x^2)``; hinge: ``mean(relu(1-real))`` and ``mean(relu(1+x))``;
    gan: cross-entropy with 1 / 0; wgan-gp: ``-mean(real)`` and ``mean(x)`` (the gradient penalty is
    added by the training step).
    """
    if gan_loss == "lsgan":
        return (
            ((real_logits - 1.0) ** 2).mean(),
            (fake_logits**2).mean(),
            (gray_logits**2).mean(),
            (blur_logits**2).mean(),
        )
    if gan_loss == "hinge":
        return (
            ops.relu(1.0 - real_logits).mean(),
            ops.relu(1.0 + fake_logits).mean(),
            ops.relu(1.0 + gray_logits).mean(),
            ops.relu(1.0 + blur_logits).mean(),
        )
    if gan_loss == "gan":
        return (
            _bce_ones(real_logits),
            _bce_zeros(fake_logits),
            _bce_zeros(gray_logits),
            _bce_zeros(blur_logits),
        )
    if gan_loss == "wgan-gp":
        return (-real_logits.mean(), fake_logits.mean(), gray_logits.mean(), blur_logits.mean())
    raise ValueError(f"unknown gan loss {gan_loss!r}; choose one of {', '.join(GAN_LOSSES)}")


def gradient_penalty(input_grads, weight: float = 10.0):
    """WGAN-GP penalty ``weight * mean((||dD/dx|| - 1)^2)`` from D's per-sample input gradients (NCHW)."""
    norms = ops.sqrt((input_grads * input_grads).reshape(input_grads.shape[0], -1).sum(axis=1))
    return weight * ((norms - 1.0) ** 2).mean()


def discriminator_loss(real, fake, gray, blur, d_adv: float, w_real: float, w_fake: float,
                       w_gray: float, w_blur: float):
    """``d_adv * (w_real*real + w_fake*fake + w_gray*gray + w_blur*blur)`` from the four terms."""
    return d_adv * (w_real * real + w_fake * fake + w_gray * gray + w_blur * blur)
