"""Edge smoothing: bit-identical to the reference's fixtures and to a per-pixel oracle."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from animecli.errors import InvalidInputError
from animecli.ops.smooth import GAUSSIAN_5, edge_smooth, truncated_gaussian
from tests.support.paths import FIXTURES
from benchmarks.smooth_oracle import per_pixel_edge_smooth


def test_the_kernel_is_the_exact_binomial_table():
    """The exactness argument in animecli.ops.smooth rests on this."""
    assert GAUSSIAN_5.dtype == np.float64
    np.testing.assert_array_equal(GAUSSIAN_5.ravel() * 16, [1, 4, 6, 4, 1])


def _floor_of_integer_convolution(bgr):
    """floor(S / 256), S the integer 5x5 [1,4,6,4,1] x [1,4,6,4,1] sum over the reflect-padded patch."""
    taps = np.array([1, 4, 6, 4, 1], np.int64)
    padded = np.pad(bgr.astype(np.int64), ((2, 2), (2, 2), (0, 0)), mode="reflect")
    height, width = bgr.shape[:2]
    total = np.zeros(bgr.shape, np.int64)
    for dy in range(5):
        for dx in range(5):
            total += taps[dy] * taps[dx] * padded[dy:dy + height, dx:dx + width]
    return (total >> 8).astype(np.uint8)


def test_truncated_gaussian_is_the_floor_of_the_integer_sum():
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (int(h), int(w), 3), dtype=np.uint8)
              for h, w in rng.integers(1, 40, (60, 2))]
    for value in range(256):  # every remainder of S / 256 next to a flat area
        image = np.full((6, 7, 3), value, np.uint8)
        image[2, 3] = (255 - value, value // 2, 255)
        images.append(image)
    for image in images:
        assert np.array_equal(truncated_gaussian(image), _floor_of_integer_convolution(image)), image.shape


@pytest.mark.parametrize("name", ["chelsea.png", "rocket.png"])
def test_matches_the_reference_outputs_exactly(fixtures, name):
    source = cv2.imread(str(fixtures / "smooth" / "style" / name))
    expected = cv2.imread(str(fixtures / "smooth" / "smooth" / name))
    produced = edge_smooth(source, 256)
    assert produced.dtype == np.uint8 and produced.shape == expected.shape
    assert np.array_equal(produced, expected), f"{np.count_nonzero(produced != expected)} values differ"


def _cases():
    rng = np.random.default_rng(7)
    photo = cv2.imread(str(FIXTURES / "photos" / "astronaut.png"))
    two_tone = rng.integers(0, 2, (24, 31, 1), dtype=np.uint8) * np.array([255, 254, 1], np.uint8)
    return {
        "photo crop": (photo[100:148, 200:260], 0),
        "photo resized": (photo, 40),
        "noise": (rng.integers(0, 256, (21, 17, 3), dtype=np.uint8), 0),
        "two tone (sums on integers)": (two_tone, 0),
        "tiny 2x3": (rng.integers(0, 256, (2, 3, 3), dtype=np.uint8), 0),
        "one pixel": (np.full((1, 1, 3), 200, np.uint8), 0),
        "upscaled": (rng.integers(0, 256, (9, 7, 3), dtype=np.uint8), 33),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_matches_the_per_pixel_oracle(case):
    image, size = _cases()[case]
    expected = per_pixel_edge_smooth(image, size)
    assert np.array_equal(edge_smooth(image, size), expected)


def test_flat_image_has_no_edges_and_stays_unchanged():
    flat = np.full((40, 50, 3), 255, np.uint8)
    assert np.array_equal(edge_smooth(flat, 0), flat)


def test_size_zero_keeps_the_size_and_input_is_not_modified():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (30, 45, 3), dtype=np.uint8)
    before = image.copy()
    assert edge_smooth(image, 0).shape == (30, 45, 3)
    assert edge_smooth(image, 64).shape == (64, 64, 3)
    assert np.array_equal(image, before)


@pytest.mark.parametrize("image, size", [
    (np.zeros((8, 8), np.uint8), 256),
    (np.zeros((8, 8, 4), np.uint8), 256),
    (np.zeros((8, 8, 3), np.float32), 256),
    (np.zeros((8, 8, 3), np.uint8), -1),
])
def test_rejects_what_it_cannot_smooth(image, size):
    with pytest.raises(InvalidInputError):
        edge_smooth(image, size)
