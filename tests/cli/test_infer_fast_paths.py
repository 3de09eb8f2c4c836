"""``anime infer`` with the fast paths on: nothing lands in the cwd, and stored graphs are reused across runs."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from animecli import images
from tests.support.cli import run_anime


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


def test_later_runs_load_stored_graphs_and_build_no_new_kernels(fixtures, tmp_path, bl_weights):
    """Graphs are exported once per shape; a later run loads them and finds every fused kernel on disk."""
    for name, size in (("astronaut.png", (80, 64)), ("chelsea.png", (64, 48))):
        images.write_image(tmp_path / "in" / name, _photo(fixtures, name, size))
    # One process: a second size runs on the tile graphs at first (with helpers, every size compiles).
    first = run_anime("infer", tmp_path / "in", tmp_path / "first", "--weights", bl_weights, "-q", "-j", "1")
    assert first.returncode == 0, first.stderr
    work = Path(os.environ["ANIME_HOME"]) / "mindspore"
    whole = sorted(p.name.split("-")[-2] for p in (work / "graphs").glob("generator-*.mindir"))
    assert whole == ["1x3x64x80"]  # astronaut ran first (whole graph), chelsea on the tile graphs
    assert list((work / "graphs").glob("tile-*.mindir"))
    assert [p.read_bytes() for p in (work / "graphs").glob("*.seen")] == [b"."]  # chelsea, once
    stored = {p: p.stat().st_mtime_ns for p in (work / "graphs").glob("*.mindir")}
    kernels = set((work / "akg_kernel_meta").iterdir())
    assert kernels

    # The second run loads astronaut's graph: nothing is exported or built again, and the pixels agree.
    second = run_anime("infer", tmp_path / "in" / "astronaut.png", tmp_path / "second" / "astronaut.png",
                       "--weights", bl_weights, "-q")
    assert second.returncode == 0, second.stderr
    assert {p: p.stat().st_mtime_ns for p in (work / "graphs").glob("*.mindir")} == stored
    assert set((work / "akg_kernel_meta").iterdir()) == kernels
    astronaut = [images.read_image(tmp_path / run / "astronaut.png") for run in ("first", "second")]
    assert np.array_equal(*astronaut)

    # The third starts with chelsea's shape: its own graph, exported now.
    third = run_anime("infer", tmp_path / "in" / "chelsea.png", tmp_path / "third" / "chelsea.png",
                      "--weights", bl_weights, "-q")
    assert third.returncode == 0, third.stderr
    whole = sorted(p.name.split("-")[-2] for p in (work / "graphs").glob("generator-*.mindir"))
    assert whole == ["1x3x48x64", "1x3x64x80"]
    assert not list((work / "graphs").glob("*.seen"))  # chelsea's count from the first run went with its export
    # chelsea ran tiled in the first run and on its own graph in the third.
    tiled, whole = (images.read_image(tmp_path / run / "chelsea.png").astype(int) for run in ("first", "third"))
    assert np.abs(tiled - whole).max() <= 1 and (tiled == whole).mean() > 0.99
