"""``anime infer`` with the fast paths on: nothing lands in the cwd, and cached graphs never get mixed up."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from animecli import images
from tests.conftest import run_anime


@pytest.fixture
def bl_weights(fixtures):
    return fixtures / "generator" / "random_generator_bl.pt"


def _photo(fixtures, name, size):
    rgb = images.read_image(fixtures / "photos" / name)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def test_cwd_stays_empty_with_a_cold_cache_and_mixed_sizes(fixtures, tmp_path, bl_weights, monkeypatch):
    """Fused-kernel compilation (whole-picture and tiled graphs) with relative paths, in an empty cwd."""
    monkeypatch.setenv("ANIME_HOME", str(tmp_path / "fresh-home"))  # cold kernel cache: the compiler starts
    workdir = tmp_path / "cwd"
    (workdir / "photos").mkdir(parents=True)
    for name, size in (("astronaut.png", (64, 48)), ("chelsea.png", (56, 40)), ("rocket.jpg", (40, 56))):
        images.write_image(workdir / "photos" / name, _photo(fixtures, name, size))

    run = run_anime("infer", "photos", "out", "--weights", bl_weights, "-q", cwd=workdir)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert sorted(p.name for p in workdir.iterdir()) == ["out", "photos"]
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["astronaut.png", "chelsea.png", "rocket.jpg"]
    assert images.read_image(workdir / "out" / "rocket.jpg").shape == (56, 40, 3)


def test_cached_graphs_are_reused_only_for_their_own_shape(fixtures, tmp_path, bl_weights):
    """Each process's first graph is kept on disk under its shape; later processes load only their own."""
    for name, size in (("astronaut.png", (80, 64)), ("chelsea.png", (64, 48))):
        images.write_image(tmp_path / "in" / name, _photo(fixtures, name, size))
    first = run_anime("infer", tmp_path / "in", tmp_path / "first", "--weights", bl_weights, "-q")
    assert first.returncode == 0, first.stderr
    graphs = Path(os.environ["ANIME_HOME"]) / "mindspore" / "graphs"
    assert [p.name.split("-")[1] for p in graphs.iterdir()] == ["64x80"]  # astronaut ran first (whole graph)

    # The second run loads that graph; the third starts with another shape and must not.
    for order, name in (("second", "astronaut.png"), ("third", "chelsea.png")):
        run = run_anime("infer", tmp_path / "in" / name, tmp_path / order / name, "--weights", bl_weights, "-q")
        assert run.returncode == 0, run.stderr
    assert sorted(p.name.split("-")[1] for p in graphs.iterdir()) == ["48x64", "64x80"]
    for folder in graphs.iterdir():
        assert sorted(p.name for p in folder.glob("rank_*/graph_cache/*.mindir")) == ["compile_cache_0.mindir"]

    astronaut = [images.read_image(tmp_path / run / "astronaut.png") for run in ("first", "second")]
    assert np.array_equal(*astronaut)
    # chelsea ran tiled in the first run (a second shape) and on its own graph in the third.
    tiled, whole = (images.read_image(tmp_path / run / "chelsea.png").astype(int) for run in ("first", "third"))
    assert np.abs(tiled - whole).max() <= 1 and (tiled == whole).mean() > 0.99
