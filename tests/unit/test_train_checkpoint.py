"""Training checkpoints: the state round-trips, foreign files and mismatched set-ups are refused."""

from __future__ import annotations

import numpy as np
import pytest

from animecli.errors import CheckpointFormatError, IncompatibleCheckpointError, InvalidInputError
from animecli.training.checkpoint import TrainState, load_state, restore, save_state, state_file
from animecli.training.config import build_config
from animecli.weights.formats.mindspore_ckpt import write_mindspore_ckpt


@pytest.fixture(scope="module")
def params():
    import mindspore as ms

    return {
        "generator.w": ms.Parameter(ms.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), name="w"),
        "g_optimizer.global_step": ms.Parameter(ms.Tensor(np.array([7], np.int32)), name="step"),
    }


def test_state_round_trips_with_parameters(tmp_path, params):
    rng = np.random.default_rng(5)
    state = TrainState(config=build_config("Hayao", epochs=20), epoch=3, step_in_epoch=5, global_step=41,
                       world_size=2, train_seconds=12.5, rng_state=rng.bit_generator.state)
    save_state(tmp_path / "train_state.ckpt", params, state)
    arrays, loaded = load_state(tmp_path / "train_state.ckpt")
    assert loaded == state
    resumed = np.random.default_rng()
    resumed.bit_generator.state = loaded.rng_state
    assert np.array_equal(resumed.uniform(size=4), rng.uniform(size=4))
    assert np.array_equal(arrays["generator.w"], params["generator.w"].asnumpy())
    assert arrays["g_optimizer.global_step"].dtype == np.int32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train_state.ckpt"]  # no temp files


def test_restore_copies_values_in_place(tmp_path, params):
    import mindspore as ms

    target = {"generator.w": ms.Parameter(ms.Tensor(np.zeros((2, 3), np.float32)), name="w2"),
              "g_optimizer.global_step": ms.Parameter(ms.Tensor(np.array([0], np.int32)), name="s2")}
    restore(target, {k: v.asnumpy() for k, v in params.items()}, "test")
    assert np.array_equal(target["generator.w"].asnumpy(), params["generator.w"].asnumpy())
    assert int(target["g_optimizer.global_step"].asnumpy()[0]) == 7


def test_restore_refuses_a_different_set_up(params):
    saved = {"generator.w": np.zeros((3, 2), np.float32), "d_optimizer.beta1_power": np.ones(1, np.float32)}
    with pytest.raises(IncompatibleCheckpointError) as info:
        restore(params, saved, "run/train_state.ckpt")
    assert info.value.missing == ["g_optimizer.global_step"]
    assert info.value.unexpected == ["d_optimizer.beta1_power"]
    assert info.value.mismatched == ["generator.w"]


def test_a_generator_checkpoint_is_not_a_training_state(tmp_path):
    write_mindspore_ckpt(tmp_path / "generator.ckpt", {"w": np.ones(2, np.float32)}, {"arch": "x"})
    with pytest.raises(CheckpointFormatError, match="not an animecli training checkpoint"):
        load_state(tmp_path / "generator.ckpt")


def test_resume_path_is_a_run_folder_or_a_file(tmp_path):
    with pytest.raises(InvalidInputError, match="no train_state.ckpt in this folder"):
        state_file(tmp_path)
    with pytest.raises(InvalidInputError, match="no such training run folder or checkpoint"):
        state_file(tmp_path / "missing")
    (tmp_path / "train_state.ckpt").write_bytes(b"")
    assert state_file(tmp_path) == tmp_path / "train_state.ckpt"
