"""The training loop's control flow (checkpoint schedule, NaN stop, Ctrl-C, step limit, bad images) with
scripted losses in place of the compiled steps, so these cases run in seconds; the real steps are
exercised end to end in tests/integration/test_train_run.py."""

from __future__ import annotations

import math
import os
import signal

import pytest

from animecli.errors import InvalidInputError, TrainingDivergedError
from animecli.training.checkpoint import TrainState, load_state
from animecli.training.config import build_config
from animecli.training.data import find_dataset, load_val_photos
from animecli.training.trainer import Trainer, phases
from tests.support.train_data import make_dataset


class ScriptedSteps:
    """Returns the next scripted loss dict on every step; ``on_step(n)`` runs before step n returns."""

    def __init__(self, losses, on_step=None):
        self.losses = list(losses)
        self.on_step = on_step
        self.calls = []

    def init_step(self, photo):
        self.calls.append(("init", tuple(photo.shape)))
        return self._next()

    def gan_step(self, photo, anime, anime_gray, smooth_gray):
        self.calls.append(("gan", tuple(smooth_gray.shape)))
        return self._next()

    def _next(self):
        if self.on_step:
            self.on_step(len(self.calls))
        return self.losses[len(self.calls) - 1]


@pytest.fixture(scope="module")
def generator():
    from animecli.models.generator import Generator

    return Generator()


def _trainer(tmp_path, generator, losses, on_step=None, photos=4, **overrides):
    data = make_dataset(tmp_path / "dataset", photos=photos, style_images=4, val=1, size=32)
    settings = dict(img_size=32, epochs=3, init_epochs=1, batch_size=4, save_interval=1)
    settings.update(overrides)
    config = build_config("Sakura", data_dir=str(data), **settings)
    params = {f"generator.{name}": p for name, p in generator.parameters_and_names()}
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    steps = ScriptedSteps(losses, on_step)
    trainer = Trainer(steps=steps, generator=generator, state_params=params,
                      files=find_dataset(data, "Sakura", 4), run_dir=run_dir, state=TrainState(config=config),
                      val_photos=load_val_photos(data / "val", 32))
    return trainer, steps, run_dir


def test_phases_are_data():
    schedule = phases(build_config("Hayao", epochs=5, init_epochs=2))
    assert [(p.name, p.first_epoch, p.end_epoch) for p in schedule] == [("init", 0, 2), ("gan", 2, 5)]
    assert [p.name for p in phases(build_config("Hayao", epochs=5, init_epochs=0))] == ["gan"]


def test_phases_checkpoints_and_snapshots(tmp_path, generator):
    trainer, steps, run_dir = _trainer(tmp_path, generator, [{"con": 1.0}] + [{"g_total": 2.0}] * 2,
                                       save_interval=2)
    result = trainer.run()
    assert result.outcome == "finished" and result.steps_run == 3
    assert [c[0] for c in steps.calls] == ["init", "gan", "gan"]
    assert steps.calls[0][1] == (4, 3, 32, 32)
    assert sorted(p.name for p in run_dir.glob("generator*.ckpt")) == [
        "generator.ckpt", "generator_e002.ckpt", "generator_e003.ckpt"]  # every 2 epochs and at the end
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "epoch002_step0000002.png", "epoch003_step0000003.png"]
    _, state = load_state(run_dir / "train_state.ckpt")
    assert (state.epoch, state.step_in_epoch, state.global_step) == (3, 0, 3)


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, generator):
    trainer, _, run_dir = _trainer(tmp_path, generator, [{"con": 1.0}, {"g_total": 3.0, "d_total": math.nan}])
    with pytest.raises(TrainingDivergedError) as info:
        trainer.run()
    message = str(info.value)
    assert "loss d_total=nan at epoch 2, step 2: training diverged" in message
    assert f"the last good checkpoint is {run_dir / 'train_state.ckpt'}" in message
    _, state = load_state(run_dir / "train_state.ckpt")
    assert state.global_step == 1  # the state saved after epoch 1, not the diverged one
    assert len((run_dir / "log.jsonl").read_text().splitlines()) == 1


def test_inf_on_the_first_step_says_nothing_was_saved(tmp_path, generator):
    trainer, _, run_dir = _trainer(tmp_path, generator, [{"con": math.inf}])
    with pytest.raises(TrainingDivergedError, match="no checkpoint was saved yet"):
        trainer.run()
    assert not (run_dir / "train_state.ckpt").exists()


def test_ctrl_c_saves_after_the_current_step(tmp_path, generator):
    def interrupt(call):
        if call == 2:
            os.kill(os.getpid(), signal.SIGINT)

    previous = signal.getsignal(signal.SIGINT)
    trainer, steps, run_dir = _trainer(tmp_path, generator, [{"con": 1.0}] * 6, on_step=interrupt, photos=8,
                                       epochs=3, init_epochs=3)
    result = trainer.run()
    assert result.outcome == "interrupted" and len(steps.calls) == 2
    _, state = load_state(run_dir / "train_state.ckpt")
    assert (state.epoch, state.step_in_epoch, state.global_step) == (0, 2, 2)
    assert signal.getsignal(signal.SIGINT) == previous  # handler restored


def test_stop_after_saves_a_resumable_state(tmp_path, generator):
    trainer, _, run_dir = _trainer(tmp_path, generator, [{"con": 1.0}] * 6, photos=8)
    trainer.stop_after = 3
    result = trainer.run()
    assert result.outcome == "stopped" and result.steps_run == 3
    _, state = load_state(run_dir / "train_state.ckpt")
    assert (state.epoch, state.step_in_epoch, state.global_step) == (1, 1, 3)


def test_an_unreadable_training_image_is_named(tmp_path, generator):
    trainer, _, run_dir = _trainer(tmp_path, generator, [{"con": 1.0}] * 3)
    broken = tmp_path / "dataset" / "train_photo" / "001.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)  # the header passes, the pixels do not
    with pytest.raises(InvalidInputError) as info:
        trainer.run()
    assert str(info.value).startswith(f"{broken}: cannot read this training image")
    assert f"--resume {run_dir}" in info.value.hint
    _, state = load_state(run_dir / "train_state.ckpt")
    assert state.global_step == 0
