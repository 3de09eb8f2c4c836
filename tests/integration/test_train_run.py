"""``anime train`` end to end on a tiny synthetic set (CPU, 64x64, 2 steps per epoch).

One run of 1 init + 1 GAN epoch is shared by the tests of its outputs; the resume test repeats it as
3 steps + resume + 1 step and asks for bit-identical parameters: the data order and crops are a function
of (seed, epoch) only and every parameter and optimizer state is restored, so nothing may differ.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

from animecli.training.checkpoint import load_state
from animecli.training.config import TrainConfig
from tests.support.train_data import VGG_H5, make_dataset
from tests.support.cli import child_env, run_anime, run_msrun
from tests.integration.weights_server import H5

pytestmark = pytest.mark.slow


def _train_args(shared, data, out, *extra):
    return ("train", "--style", "Sakura", "--data-dir", data, "--img-size", "64", "--epochs", "2",
            "--init-epochs", "1", "--batch-size", "4", "--vgg", shared / VGG_H5, "--out", out, "--device", "cpu",
            *extra)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    make_dataset(root / "dataset")
    return root


@pytest.fixture(scope="module")
def straight(workspace, shared):
    """1 init epoch + 1 GAN epoch in one go, given relative paths (``--data-dir dataset --out runs`` in the
    workspace); also returns what the workspace holds right after it."""
    result = run_anime(*_train_args(shared, "dataset", "runs", "--name", "straight"), cwd=workspace)
    assert result.returncode == 0, result.stderr
    return workspace / "runs" / "Sakura" / "straight", result, sorted(p.name for p in workspace.iterdir())


def _log(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_run_folder_holds_everything(straight, workspace):
    run_dir, result, _ = straight
    assert workspace / result.stdout.strip() == run_dir  # printed as given: relative to the cwd
    assert "finished at epoch 2/2, step 4" in result.stderr
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["config.json", "generator.ckpt", "generator_e002.ckpt", "log.jsonl", "loss_curves.png",
                     "samples", "train_state.ckpt"]
    config = TrainConfig.from_json((run_dir / "config.json").read_text())
    assert (config.style, config.preset, config.epochs, config.img_size) == ("Sakura", "Shinkai", 2, 64)
    _, state = load_state(run_dir / "train_state.ckpt")
    assert (state.epoch, state.step_in_epoch, state.global_step) == (2, 0, 4)
    assert state.config == config


def test_every_loss_of_every_step_is_logged_and_finite(straight):
    records = _log(straight[0])
    assert [(r["step"], r["epoch"], r["phase"]) for r in records] == [
        (1, 1, "init"), (2, 1, "init"), (3, 2, "gan"), (4, 2, "gan")]
    assert set(records[0]) >= {"con", "total"}
    assert set(records[2]) >= {"g_adv", "g_con", "g_sty", "g_col", "g_tv", "g_total",
                               "d_real", "d_fake", "d_gray", "d_blur", "d_total"}
    for record in records:
        values = [v for k, v in record.items() if k not in ("step", "epoch", "phase", "time")]
        assert values and all(math.isfinite(v) for v in values)


def test_sample_grid_and_loss_plot(straight):
    run_dir = straight[0]
    samples = sorted((run_dir / "samples").iterdir())
    assert [p.name for p in samples] == ["epoch002_step0000004.png"]
    grid = cv2.imread(str(samples[0]))
    assert grid.shape == (24 + 2 * 72, 3 * 72, 3)  # caption + 3 val photos over their stylisations
    plot = cv2.imread(str(run_dir / "loss_curves.png"))
    assert plot is not None and plot.shape[1] == 3 * 420 and plot.shape[0] >= 5 * 220


def test_generator_checkpoint_works_for_infer(straight, workspace):
    run_dir = straight[0]
    out = workspace / "stylized"
    result = run_anime("infer", "--weights", run_dir / "generator.ckpt", workspace / "dataset" / "val", out,
                       cwd=workspace)
    assert result.returncode == 0, result.stderr
    for source in sorted((workspace / "dataset" / "val").iterdir()):
        picture = cv2.imread(str(out / source.name))
        assert picture.shape == cv2.imread(str(source)).shape
    from animecli.weights.resolve import load_generator_weights

    loaded = load_generator_weights(style=str(run_dir))  # --style accepts the run folder
    assert (loaded.meta.upsample, loaded.meta.eps) == ("tf", 1e-12)
    assert len(loaded.params) == 77


def test_resume_continues_exactly(straight, workspace, shared, server, mirror):
    """Also: the resumed run reads the --vgg file it started with; nothing is downloaded (a 127.0.0.1 mirror
    of the registry's vgg19 stands ready and must see no request)."""
    args = _train_args(shared, workspace / "dataset", workspace / "runs", "--name", "split")
    first = run_anime(*args, "--stop-after", "3", cwd=workspace)
    assert first.returncode == 0, first.stderr
    run_dir = workspace / "runs" / "Sakura" / "split"
    assert "stopped at epoch 2/2, step 3" in first.stderr  # log.jsonl puts step 3 in epoch 2
    assert f"continue with: anime train --resume {run_dir}" in first.stderr
    _, state = load_state(run_dir / "train_state.ckpt")
    assert (state.epoch, state.step_in_epoch, state.global_step) == (1, 1, 3)  # inside the GAN epoch

    second = run_anime("train", "--resume", run_dir, "--device", "cpu", cwd=workspace)  # ANIME_REGISTRY: mirror
    assert second.returncode == 0, second.stderr
    assert server.requests(H5) == []
    assert "finished at epoch 2/2, step 4 (1 steps" in second.stderr

    expected, expected_state = load_state(straight[0] / "train_state.ckpt")
    got, got_state = load_state(run_dir / "train_state.ckpt")
    assert (got_state.epoch, got_state.global_step) == (expected_state.epoch, expected_state.global_step)
    assert sorted(got) == sorted(expected)
    different = [name for name in expected if not np.array_equal(expected[name], got[name])]
    assert different == []

    def losses(records):
        return [{k: v for k, v in r.items() if k != "time"} for r in records]

    assert losses(_log(run_dir)) == losses(_log(straight[0]))


def test_resume_keeps_the_runs_settings(straight, workspace):
    run_dir = straight[0]
    result = run_anime("train", "--resume", run_dir, "--lr-g", "1e-3", "--wcon", "9", "--dry-run", cwd=workspace)
    assert result.returncode == 1
    assert "cannot change --lr-g (the run uses 2e-05), --con (the run uses 1.2)" in result.stderr
    finished = run_anime("train", "--resume", run_dir, "--dry-run", cwd=workspace)
    assert finished.returncode == 1 and "already trained 2 of 2 epochs" in finished.stderr
    longer = run_anime("train", "--resume", run_dir, "--epochs", "3", "--dry-run", cwd=workspace)
    assert longer.returncode == 0, longer.stderr
    plan = json.loads(longer.stdout)
    assert plan["config"]["epochs"] == 3 and plan["resume"]["global_step"] == 4


def test_a_new_run_never_overwrites_one(straight, workspace, shared):
    result = run_anime(*_train_args(shared, workspace / "dataset", workspace / "runs", "--name", "straight"),
                       cwd=workspace)
    assert result.returncode == 1
    assert "already holds a training run" in result.stderr and "--resume" in result.stderr


def test_relative_paths_and_a_clean_cwd_with_operator_fusion(straight):
    """Both phases compile fused kernels while the data threads read files given by relative paths: the
    shared run leaves nothing in its cwd but the dataset and the runs folder (its log and outputs are
    checked above)."""
    assert straight[2] == ["dataset", "runs"]


_INITIAL_WEIGHTS = """
import sys, numpy as np, mindspore as ms
from animecli.models.discriminator import Discriminator
from animecli.models.generator import Generator
ms.set_seed(0)  # as build_steps: seed, then generator, then discriminator
arrays = {f"generator.{n}": p.asnumpy() for n, p in Generator().parameters_and_names()}
arrays.update({f"discriminator.{n}": p.asnumpy() for n, p in Discriminator().parameters_and_names()})
np.savez(sys.argv[1], **arrays)
"""


def test_two_msrun_workers_match_one_process(straight, workspace, shared):
    """2 workers x batch 2 on loopback vs 1 process x batch 4: the same global batches, so with gradients
    averaged over the workers both runs follow the same trajectory up to summation order. Measured: the
    mean |difference| of the weights is 0.13% of how far training moved them (47% when the all-reduce is
    left out, since rank 0 then learns from half the data); the bound is 2%."""
    logs = workspace / "msrun_logs"
    env = child_env({"GLOG_v": "3"})
    args = _train_args(shared, workspace / "dataset", workspace / "runs", "--name", "dist", "--batch-size", "2",
                       "--distributed")
    done = run_msrun(*args, log_dir=logs, cwd=workspace, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = workspace / "runs" / "Sakura" / "dist"
    assert "finished at epoch 2/2, step 4" in (logs / "worker_0.log").read_text()
    assert "finished at" not in (logs / "worker_1.log").read_text()  # only rank 0 reports and writes
    _, state = load_state(run_dir / "train_state.ckpt")
    assert (state.global_step, state.world_size) == (4, 2)
    assert len(_log(run_dir)) == 4

    initial_file = workspace / "initial.npz"
    made = subprocess.run([sys.executable, "-c", _INITIAL_WEIGHTS, str(initial_file)], env=env,
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    initial = dict(np.load(initial_file))
    single, _ = load_state(straight[0] / "train_state.ckpt")
    dist, _ = load_state(run_dir / "train_state.ckpt")
    names = [n for n in initial if not n.endswith(".u")]  # u vectors follow the weights, not the data
    moved = np.mean([np.abs(single[n] - initial[n]).mean() for n in names])
    apart = np.mean([np.abs(single[n] - dist[n]).mean() for n in names])
    assert moved > 0 and apart / moved < 0.02


def test_the_wgan_gp_loss_trains(workspace, shared):
    """Operator fusion cannot compile its gradient penalty (MindSpore 2.8): the run must still work."""
    result = run_anime(*_train_args(shared, "dataset", "runs", "--name", "wgan", "--gan-loss", "wgan-gp",
                                    "--init-epochs", "0", "--epochs", "1"), cwd=workspace)
    assert result.returncode == 0, result.stderr[-2000:]
    gan_steps = [entry for entry in _log(workspace / "runs" / "Sakura" / "wgan") if entry.get("phase") == "gan"]
    assert gan_steps and all(math.isfinite(entry["d_total"]) for entry in gan_steps)
