"""Training configuration: presets (SPEC section 4), schedule defaults (section 5), overrides, JSON."""

from __future__ import annotations

import pytest

from animecli.errors import InvalidInputError
from animecli.training.config import PRESETS, TrainConfig, build_config, preset_for


@pytest.mark.parametrize("style, preset, con, sty, col, tv, blur", [
    ("Hayao", "Hayao", 1.5, 2.5, 15, 1, 0.8),
    ("paprika", "Paprika", 2.0, 0.6, 50, 0.1, 0.005),
    ("SHINKAI", "Shinkai", 1.2, 2.0, 10, 1, 1.0),
    ("Sakura", "Shinkai", 1.2, 2.0, 10, 1, 1.0),  # unknown styles start from Shinkai's row
])
def test_presets_follow_the_tf_table(style, preset, con, sty, col, tv, blur):
    name, weights = preset_for(style)
    assert name == preset
    assert (weights.con, weights.sty, weights.col, weights.tv, weights.blur) == (con, sty, col, tv, blur)
    assert weights.adv_g == weights.adv_d == 300


def test_d_term_weights_per_style():
    assert (PRESETS["Hayao"].real, PRESETS["Hayao"].fake, PRESETS["Hayao"].gray) == (1.2, 1.2, 1.2)
    assert (PRESETS["Paprika"].real, PRESETS["Paprika"].gray) == (1.0, 1.0)
    assert (PRESETS["Shinkai"].real, PRESETS["Shinkai"].fake) == (1.7, 1.7)


def test_schedule_defaults():
    cfg = build_config("Sakura")
    assert (cfg.img_size, cfg.batch_size, cfg.epochs, cfg.init_epochs) == (256, 4, 101, 10)
    assert (cfg.lr_g, cfg.lr_d, cfg.init_lr) == (2e-5, 4e-5, 2e-4)
    assert (cfg.gan_loss, cfg.ch, cfg.n_dis, cfg.upsample, cfg.eps) == ("lsgan", 64, 3, "tf", 1e-12)
    assert cfg.style == "Sakura" and cfg.preset == "Shinkai"


def test_overrides_change_only_what_is_given():
    cfg = build_config("Hayao", con=3.0, blur=0.1, batch_size=12, lr_g=1e-4, seed=7, gan_loss=None)
    assert cfg.weights.con == 3.0 and cfg.weights.blur == 0.1
    assert cfg.weights.sty == PRESETS["Hayao"].sty
    assert (cfg.batch_size, cfg.lr_g, cfg.seed, cfg.gan_loss) == (12, 1e-4, 7, "lsgan")


def test_json_round_trip():
    cfg = build_config("Paprika", tv=0.5, img_size=128, val_dir="photos/val")
    again = TrainConfig.from_json(cfg.to_json())
    assert again == cfg


def test_config_is_frozen():
    cfg = build_config("Hayao")
    with pytest.raises(AttributeError):
        cfg.epochs = 3


@pytest.mark.parametrize("overrides, words", [
    ({"img_size": 30}, "--img-size"),
    ({"img_size": 66}, "--img-size"),
    ({"init_epochs": 5, "epochs": 3}, "--init-epochs"),
    ({"gan_loss": "bce"}, "--gan-loss"),
    ({"lr_d": 0}, "--lr-d"),
    ({"batch_size": 0}, "--batch-size"),
    ({"ch": 3}, "--ch"),
    ({"tv": -1}, "tv"),
    ({"learning_rate": 1}, "unknown training options: learning_rate"),
])
def test_invalid_settings_are_refused(overrides, words):
    with pytest.raises(InvalidInputError, match=words):
        build_config("Hayao", **overrides)


def test_unknown_keys_in_saved_json_are_refused():
    data = build_config("Hayao").to_dict()
    data["surprise"] = 1
    with pytest.raises(InvalidInputError, match="surprise"):
        TrainConfig.from_dict(data)
