"""``anime train --init-from``: fine-tuning starts from the given generator and keeps its settings."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from animecli import images
from tests.support.cli import run_anime
from tests.support.train_data import VGG_H5, make_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("init_from")
    make_dataset(root / "dataset", photos=4, style_images=4, val=1)  # batch 4: one step per epoch
    return root


@pytest.fixture(scope="module")
def tf_source(shared):
    return shared / "fixtures" / "generator" / "random_generator_tf"


@pytest.fixture(scope="module")
def fine_tuned(workspace, shared, tf_source):
    """One GAN step at lr 2e-5 from the shared random TF generator."""
    result = run_anime("train", "--style", "Sakura", "--data-dir", workspace / "dataset", "--img-size", "64",
                       "--epochs", "1", "--batch-size", "4", "--lr-g", "2e-5", "--init-from", tf_source,
                       "--vgg", shared / VGG_H5, "--out", workspace / "runs", "--name", "tuned", "--device", "cpu",
                       cwd=workspace)
    assert result.returncode == 0, result.stderr
    return workspace / "runs" / "Sakura" / "tuned"


def _correlation(a, b):
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


def test_one_gan_step_from_the_tf_generator_keeps_its_output(fine_tuned, workspace, fixtures, tf_source):
    log = [json.loads(line) for line in (fine_tuned / "log.jsonl").read_text().splitlines()]
    assert [entry.get("phase") for entry in log if "phase" in entry] == ["gan"]  # no init phase, one step
    photo = workspace / "photo.png"
    rgb = images.read_image(fixtures / "photos" / "astronaut.png")
    images.write_image(photo, cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA))
    tuned = run_anime("infer", "--style", fine_tuned, photo, workspace / "tuned.png", cwd=workspace)
    source = run_anime("infer", "--weights", tf_source, photo, workspace / "source.png", cwd=workspace)
    assert tuned.returncode == 0 and source.returncode == 0, tuned.stderr + source.stderr
    correlation = _correlation(images.read_image(workspace / "tuned.png"), images.read_image(workspace / "source.png"))
    # Issue 17 asked for >= 0.99; that is not reachable here: Adam's first step moves every parameter by
    # exactly lr (measured: all 77 tensors change by 2.00e-5 at most), which for this random generator
    # gives 0.9854 on this photo (0.973-0.985 on the other fixture photos, 128 and 256 px). A generator
    # that does not start from the source (seed 0) gives -0.013.
    assert correlation >= 0.98, correlation


def test_generator_checkpoints_record_the_source_settings(fine_tuned):
    from animecli.weights.resolve import load_generator_weights

    loaded = load_generator_weights(style=str(fine_tuned))  # what `anime infer --style RUN` loads
    assert (loaded.meta.upsample, loaded.meta.eps) == ("tf", 1e-12)
    config = json.loads((fine_tuned / "config.json").read_text())
    assert config["init_from"].endswith("random_generator_tf") and config["init_epochs"] == 0


def test_dry_run_shows_the_source_and_carries_its_mode_and_eps(workspace, fixtures):
    bl = fixtures / "generator" / "random_generator_bl.pt"  # PyTorch weights: align mode, eps 1e-5
    result = run_anime("train", "--style", "Sakura", "--data-dir", workspace / "dataset", "--init-from", bl,
                       "--dry-run", cwd=workspace)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["init_from"]["source"] == str(bl)
    assert (plan["config"]["upsample"], plan["config"]["eps"], plan["config"]["init_epochs"]) == ("align", 1e-5, 0)
    explicit = run_anime("train", "--style", "Sakura", "--data-dir", workspace / "dataset", "--init-from", bl,
                         "--init-epochs", "2", "--dry-run", cwd=workspace)
    assert json.loads(explicit.stdout)["config"]["init_epochs"] == 2


def test_init_from_cannot_be_combined_with_resume(fine_tuned, workspace, tf_source):
    result = run_anime("train", "--resume", fine_tuned, "--init-from", tf_source, "--dry-run", cwd=workspace)
    assert result.returncode == 1 and "--init-from starts a new run" in result.stderr
