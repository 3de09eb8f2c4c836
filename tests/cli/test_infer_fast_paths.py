"""``anime infer``'s engine seen from outside: the same bytes whatever the history, stored graphs reused
across runs, nothing in the cwd."""

from __future__ import annotations

import hashlib
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


def test_later_runs_load_stored_graphs_and_build_no_new_kernels(fixtures, tmp_path, bl_weights, monkeypatch):
    """Graphs are exported once per shape; a later run loads them and finds every fused kernel on disk.

    The cache folder's path has a space and brackets: MindSpore refuses such names when exporting a graph
    (every picture failed before)."""
    monkeypatch.setenv("ANIME_HOME", str(tmp_path / "My Cache [v2]"))
    for name, size in (("astronaut.png", (80, 64)), ("chelsea.png", (64, 48))):
        images.write_image(tmp_path / "in" / name, _photo(fixtures, name, size))
    first = run_anime("infer", tmp_path / "in", tmp_path / "first", "--weights", bl_weights, "-q")
    assert first.returncode == 0, first.stderr
    work = tmp_path / "My Cache [v2]" / "mindspore"
    whole = sorted(p.name.split("-")[-2] for p in (work / "graphs").glob("generator-*.mindir"))
    assert whole == ["1x3x48x64", "1x3x64x80"]  # every size on its own graph
    assert sorted(p.suffix for p in (work / "graphs").iterdir()) == [".mindir", ".mindir"]  # nothing else
    assert not any(p.name.startswith(".") for p in (work / "graphs").iterdir())  # no temporary file left
    stored = {p: p.stat().st_size for p in (work / "graphs").glob("*.mindir")}
    kernels = set((work / "akg_kernel_meta").iterdir())
    assert kernels

    # The second run loads astronaut's graph: nothing is exported or built again, and the pixels agree.
    second = run_anime("infer", tmp_path / "in" / "astronaut.png", tmp_path / "second" / "astronaut.png",
                       "--weights", bl_weights, "-q")
    assert second.returncode == 0, second.stderr
    assert {p: p.stat().st_size for p in (work / "graphs").glob("*.mindir")} == stored
    assert set((work / "akg_kernel_meta").iterdir()) == kernels
    assert _digest(tmp_path / "first" / "astronaut.png") == _digest(tmp_path / "second" / "astronaut.png")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow  # a 2.5 MP picture through the tiled executor, three times
def test_outputs_are_the_same_bytes_cold_warm_and_in_another_order(fixtures, tmp_path, bl_weights):
    """Several sizes, some repeated, one above the tiling limit: identical files whatever the history."""
    from animecli.inference.stylizer import runs_tiled

    photos = tmp_path / "photos"
    sizes = {"a.png": (64, 48), "b.png": (64, 48), "c.jpg": (40, 56), "d.png": (72, 72), "e.png": (40, 56),
             "large.png": (1600, 1568)}
    for index, (name, size) in enumerate(sizes.items()):
        images.write_image(photos / name, np.roll(_photo(fixtures, "astronaut.png", size), 9 * index, axis=1))
    assert runs_tiled(1568, 1600) and not runs_tiled(72, 72)
    names = sorted(sizes)
    # The second run is warm (every graph stored) and takes the pictures in the reverse order: either
    # difference alone would change a byte if the output depended on it (the large picture costs ~70 CPU-s
    # a run, so one run checks both).
    runs = {"cold": [photos], "warm-reversed": [photos / name for name in reversed(names)]}
    digests = {}
    for run, inputs in runs.items():
        result = run_anime("infer", *inputs, tmp_path / run, "--weights", bl_weights, "-q")
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in (tmp_path / run).iterdir()) == names
        digests[run] = {name: _digest(tmp_path / run / name) for name in names}
    assert digests["cold"] == digests["warm-reversed"]
    assert digests["cold"]["a.png"] != digests["cold"]["b.png"]  # really different pictures
