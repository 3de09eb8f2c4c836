"""``anime brightness`` end to end, as a user runs it (real subprocesses, real files)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np

from tests.support.cli import run_anime


def test_single_pair_gives_the_reference_picture(fixtures, tmp_path):
    folder = fixtures / "brightness"
    result = run_anime("brightness", folder / "source.png", folder / "target.png", tmp_path / "out.png", "-q")
    assert result.returncode == 0 and result.stderr == ""
    assert np.array_equal(cv2.imread(str(tmp_path / "out.png")), cv2.imread(str(folder / "adjusted.png")))


def test_folders_report_one_sided_stems_and_black_targets(fixtures, tmp_path):
    folder = fixtures / "brightness"
    sources, targets = tmp_path / "photos", tmp_path / "styled"
    sources.mkdir(), targets.mkdir()
    shutil.copy(folder / "source.png", sources / "a.png")
    shutil.copy(folder / "target.png", targets / "a.jpg")
    shutil.copy(folder / "source.png", sources / "lonely.png")
    cv2.imwrite(str(sources / "night.png"), np.full((4, 4, 3), 40, np.uint8))
    cv2.imwrite(str(targets / "night.png"), np.zeros((4, 4, 3), np.uint8))
    result = run_anime("brightness", sources, targets, tmp_path / "out", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "night.png: all black" in result.stderr
    assert "no target named lonely.*" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "night.png"]


def test_missing_input_is_a_one_line_error(tmp_path):
    result = run_anime("brightness", tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'a.png'}: no such file or folder"
