"""Brightness matching: the reference's values and picture, exactly; all-black targets survive."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from animecli.errors import InvalidInputError
from animecli.ops.brightness import average_brightness, match_brightness


def _rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_reference_brightness_values(fixtures):
    folder = fixtures / "brightness"
    expected = json.loads((folder / "brightness.json").read_text())
    assert average_brightness(_rgb(folder / "source.png")) == expected["source"]
    assert average_brightness(_rgb(folder / "target.png")) == expected["target"]


def test_matches_the_reference_picture_exactly(fixtures):
    folder = fixtures / "brightness"
    produced = match_brightness(_rgb(folder / "source.png"), _rgb(folder / "target.png"))
    expected = _rgb(folder / "adjusted.png")
    assert produced.dtype == np.uint8 and produced.shape == expected.shape
    assert np.array_equal(produced, expected), f"{np.count_nonzero(produced != expected)} values differ"


def test_scales_clips_and_truncates():
    source = np.full((4, 4, 3), 150, np.uint8)
    target = np.array([[[50, 50, 50], [100, 100, 100], [200, 200, 200], [0, 0, 0]]], np.uint8)
    ratio = 150 / ((50 + 100 + 200 + 0) / 4)  # 1.714...
    produced = match_brightness(source, target)
    np.testing.assert_array_equal(produced[0, :, 0], [int(50 * ratio), int(100 * ratio), 255, 0])


def test_all_black_target_is_returned_unchanged():
    source = np.full((5, 6, 3), 90, np.uint8)
    black = np.zeros((7, 3, 3), np.uint8)
    produced = match_brightness(source, black)
    assert np.array_equal(produced, black) and produced is not black


def test_black_source_makes_the_target_black():
    target = np.full((3, 3, 3), 77, np.uint8)
    assert not match_brightness(np.zeros((2, 2, 3), np.uint8), target).any()


@pytest.mark.parametrize("source, target", [
    (np.zeros((4, 4), np.uint8), np.ones((4, 4, 3), np.uint8)),
    (np.ones((4, 4, 3), np.uint8), np.ones((4, 4, 4), np.uint8)),
    (np.ones((4, 4, 3), np.float32), np.ones((4, 4, 3), np.uint8)),
])
def test_rejects_non_rgb_uint8(source, target):
    with pytest.raises(InvalidInputError):
        match_brightness(source, target)
