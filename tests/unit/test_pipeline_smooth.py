"""``smooth_folder`` on real, messy folders: goldens, skip/overwrite, bad files, workers."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest

from animecli.errors import InvalidInputError
from animecli.pipelines._batch import OUTPUT_EXISTS
from animecli.pipelines.smooth import resolve_folders, smooth_folder

NAMES = ("chelsea.png", "rocket.png")


@pytest.fixture
def style_dir(fixtures, tmp_path):
    """``Sakura/style`` with the two reference inputs."""
    folder = tmp_path / "Sakura"
    shutil.copytree(fixtures / "smooth" / "style", folder / "style")
    return folder


def _assert_golden(fixtures, folder):
    for name in NAMES:
        produced = cv2.imread(str(folder / name))
        assert np.array_equal(produced, cv2.imread(str(fixtures / "smooth" / "smooth" / name))), name


def test_resolve_folders(style_dir, tmp_path):
    assert resolve_folders(style_dir) == (style_dir / "style", style_dir / "smooth")
    assert resolve_folders(style_dir, tmp_path / "x") == (style_dir / "style", tmp_path / "x")
    assert resolve_folders(style_dir / "style", tmp_path / "y") == (style_dir / "style", tmp_path / "y")


@pytest.mark.parametrize("case", ["missing", "no style subfolder", "output is input", "output is a file"])
def test_resolve_folders_refuses(style_dir, tmp_path, case):
    (tmp_path / "file.png").write_bytes(b"x")
    args = {
        "missing": (tmp_path / "nope", None),
        "no style subfolder": (style_dir / "style", None),
        "output is input": (style_dir, style_dir / "style"),
        "output is a file": (style_dir, tmp_path / "file.png"),
    }[case]
    with pytest.raises(InvalidInputError):
        resolve_folders(*args)


@pytest.mark.parametrize("workers", [1, 2])
def test_writes_the_reference_outputs(fixtures, style_dir, workers):
    source, target = resolve_folders(style_dir)
    result = smooth_folder(source, target, workers=workers)
    assert result.done == [target / name for name in NAMES]
    assert not result.skipped and not result.failed
    _assert_golden(fixtures, target)
    assert sorted(os.listdir(target)) == sorted(NAMES)  # no temp files left behind


def test_skips_existing_outputs_unless_overwrite(fixtures, style_dir):
    source, target = resolve_folders(style_dir)
    target.mkdir()
    (target / "rocket.png").write_bytes(b"stale")
    result = smooth_folder(source, target, workers=1)
    assert result.done == [target / "chelsea.png"]
    assert result.skipped == [(source / "rocket.png", OUTPUT_EXISTS)]
    assert (target / "rocket.png").read_bytes() == b"stale"
    result = smooth_folder(source, target, workers=1, overwrite=True)
    assert len(result.done) == 2
    _assert_golden(fixtures, target)


def test_messy_folder_reports_and_keeps_going(fixtures, tmp_path):
    source, target = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    photo = cv2.imread(str(fixtures / "photos" / "chelsea.png"))
    ok, data = cv2.imencode(".jpg", photo)
    (source / "ロケット ü.jpg").write_bytes(data.tobytes())  # non-ASCII name
    (source / "notes.txt").write_text("not a picture")
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (source / ".DS_Store").write_bytes(b"\0")
    (source / "nested").mkdir()
    result = smooth_folder(source, target, size=0, workers=1)
    assert result.done == [target / "ロケット ü.jpg"]
    assert [path.name for path, _ in result.skipped] == ["nested", "notes.txt"]
    assert [path.name for path, _ in result.failed] == ["broken.png"]
    assert "broken.png" in result.failed[0][1] and "decodable" in result.failed[0][1]
    written = cv2.imdecode(np.fromfile(str(target / "ロケット ü.jpg"), np.uint8), cv2.IMREAD_COLOR)
    assert written.shape == photo.shape  # --size 0 keeps the size
    assert sorted(os.listdir(target)) == ["ロケット ü.jpg"]


def test_parallel_and_serial_runs_agree(fixtures, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for name in ("astronaut.png", "coffee.png", "rocket.jpg"):
        shutil.copy(fixtures / "photos" / name, source / name)
    serial = smooth_folder(source, tmp_path / "serial", size=0, workers=1)
    parallel = smooth_folder(source, tmp_path / "parallel", size=0, workers=3)
    assert len(serial.done) == len(parallel.done) == 3
    for name in ("astronaut.png", "coffee.png", "rocket.jpg"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "parallel" / name).read_bytes()


def test_negative_size_is_refused(style_dir):
    with pytest.raises(InvalidInputError):
        smooth_folder(style_dir / "style", style_dir / "smooth", size=-1)
