"""``match_brightness_paths``: single files, folders matched by stem, bad inputs."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from animecli import images
from animecli.errors import InvalidInputError
from animecli.pipelines._batch import OUTPUT_EXISTS
from animecli.pipelines.brightness import match_brightness_paths


class Recorder:
    """A Reporter that keeps warnings."""

    def __init__(self):
        self.warnings = []

    def start(self, description, total, unit="items"):
        pass

    def advance(self, amount=1):
        pass

    def warn(self, message):
        self.warnings.append(message)

    def stop(self):
        pass


@pytest.fixture
def pair(fixtures):
    folder = fixtures / "brightness"
    return folder / "source.png", folder / "target.png", cv2.imread(str(folder / "adjusted.png"))


def test_single_file_is_the_reference_picture(pair, tmp_path):
    source, target, expected = pair
    result = match_brightness_paths(source, target, tmp_path / "sub" / "adjusted.png")
    assert result.done == [tmp_path / "sub" / "adjusted.png"] and not result.failed
    assert np.array_equal(cv2.imread(str(tmp_path / "sub" / "adjusted.png")), expected)


def test_single_file_into_a_folder_keeps_the_target_name(pair, tmp_path):
    source, target, expected = pair
    result = match_brightness_paths(source, target, tmp_path)
    assert result.done == [tmp_path / "target.png"]


def test_existing_output_is_skipped_unless_overwrite(pair, tmp_path):
    source, target, expected = pair
    output = tmp_path / "out.png"
    output.write_bytes(b"old")
    result = match_brightness_paths(source, target, output)
    assert result.skipped == [(target, OUTPUT_EXISTS)] and output.read_bytes() == b"old"
    match_brightness_paths(source, target, output, overwrite=True)
    assert np.array_equal(cv2.imread(str(output)), expected)


def test_folders_are_matched_by_stem(pair, tmp_path):
    source, target, expected = pair
    sources, targets, out = tmp_path / "src", tmp_path / "tgt", tmp_path / "out"
    sources.mkdir(), targets.mkdir()
    shutil.copy(source, sources / "a.png")
    shutil.copy(target, targets / "a.png")
    images.write_image(sources / "b.jpg", np.full((8, 8, 3), 120, np.uint8))
    images.write_image(targets / "b.png", np.zeros((6, 6, 3), np.uint8))  # all black
    shutil.copy(source, sources / "only_source.png")
    shutil.copy(target, targets / "only_target.png")
    shutil.copy(source, sources / "twice.png")
    shutil.copy(target, sources / "twice.jpg")
    shutil.copy(target, targets / "twice.png")
    (targets / "readme.txt").write_text("x")
    reporter = Recorder()
    result = match_brightness_paths(sources, targets, out, workers=2, reporter=reporter)
    assert result.done == [out / "a.png", out / "b.png"]
    assert np.array_equal(cv2.imread(str(out / "a.png")), expected)
    assert not cv2.imread(str(out / "b.png")).any()
    assert result.skipped == [
        (sources / "only_source.png", f"no target named only_source.* in {targets}"),
        (targets / "only_target.png", f"no source named only_target.* in {sources}"),
        (targets / "readme.txt", "not an image file (by its suffix)"),
    ]
    assert [path.name for path, _ in result.failed] == ["twice.png"]
    assert "ambiguous" in result.failed[0][1]
    assert reporter.warnings == result.warnings and len(reporter.warnings) == 1
    assert "b.png: all black" in reporter.warnings[0]


def test_unreadable_target_fails_that_pair_only(pair, tmp_path):
    source, target, _ = pair
    sources, targets = tmp_path / "src", tmp_path / "tgt"
    sources.mkdir(), targets.mkdir()
    for stem in ("good", "bad"):
        shutil.copy(source, sources / f"{stem}.png")
    shutil.copy(target, targets / "good.png")
    (targets / "bad.png").write_bytes(b"")
    result = match_brightness_paths(sources, targets, tmp_path / "out", workers=1)
    assert result.done == [tmp_path / "out" / "good.png"]
    assert result.failed == [(targets / "bad.png", f"{targets / 'bad.png'}: empty file")]


@pytest.mark.parametrize("case", ["missing", "file and folder", "output is the target", "output folder is an input",
                                  "unknown output suffix"])
def test_refuses_bad_arguments(pair, tmp_path, case):
    source, target, _ = pair
    folder = tmp_path / "folder"
    folder.mkdir()
    args = {
        "missing": (tmp_path / "nope.png", target, tmp_path / "o.png"),
        "file and folder": (source, folder, tmp_path / "o.png"),
        "output is the target": (source, target, target),
        "output folder is an input": (folder, folder, folder),
        "unknown output suffix": (source, target, tmp_path / "o.xyz"),
    }[case]
    with pytest.raises(InvalidInputError):
        match_brightness_paths(*args)
