"""``anime smooth`` end to end, as a user runs it (real subprocesses, real files)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np

from tests.support.cli import run_anime


def _dataset(fixtures, tmp_path):
    style = tmp_path / "dataset" / "Sakura"
    shutil.copytree(fixtures / "smooth" / "style", style / "style")
    return style


def test_style_folder_gets_the_reference_smooth_folder(fixtures, tmp_path):
    style = _dataset(fixtures, tmp_path)
    result = run_anime("smooth", style, "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("chelsea.png", "rocket.png"):
        produced = cv2.imread(str(style / "smooth" / name))
        assert np.array_equal(produced, cv2.imread(str(fixtures / "smooth" / "smooth" / name))), name
    assert "anime smooth" in result.stderr and "failed" in result.stderr  # the summary table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # nothing else in the cwd

    again = run_anime("smooth", style, "-q", cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == ""


def test_plain_folder_with_output_size_zero_and_bad_files(fixtures, tmp_path):
    source, out = tmp_path / "pictures", tmp_path / "out"
    source.mkdir()
    shutil.copy(fixtures / "photos" / "coffee.png", source / "coffee.png")
    (source / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (source / "list.csv").write_text("a,b")
    result = run_anime("smooth", source, "--output", out, "--size", "0", "--workers", "1")
    assert result.returncode == 1
    assert "broken.jpg: not a decodable image" in result.stderr
    assert "list.csv: not an image file" in result.stderr
    assert cv2.imread(str(out / "coffee.png")).shape == cv2.imread(str(source / "coffee.png")).shape
    assert sorted(p.name for p in out.iterdir()) == ["coffee.png"]


def test_overwrite_replaces_existing_outputs(fixtures, tmp_path):
    style = _dataset(fixtures, tmp_path)
    (style / "smooth").mkdir()
    (style / "smooth" / "chelsea.png").write_bytes(b"stale")
    skipped = run_anime("smooth", style, "-j", "1")
    assert skipped.returncode == 0 and "output exists" in skipped.stderr
    assert (style / "smooth" / "chelsea.png").read_bytes() == b"stale"
    redone = run_anime("smooth", style, "-j", "1", "--overwrite", "--quiet")
    assert redone.returncode == 0, redone.stderr
    expected = cv2.imread(str(fixtures / "smooth" / "smooth" / "chelsea.png"))
    assert np.array_equal(cv2.imread(str(style / "smooth" / "chelsea.png")), expected)


def test_folder_without_style_needs_output(tmp_path):
    result = run_anime("smooth", tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "no style/ subfolder" in result.stderr
    assert "--output" in result.stderr
