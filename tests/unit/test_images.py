"""Picture reading: EXIF orientation, gray, alpha, 16-bit, non-ASCII paths, corrupt files; atomic writes."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from animecli import images
from animecli.errors import InvalidInputError


def _jpeg_with_orientation(width: int, height: int, orientation: int) -> bytes:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (0, 0, 255)  # left half red (BGR)
    ok, encoded = cv2.imencode(".jpg", pixels)
    assert ok
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    data = encoded.tobytes()
    return data[:2] + app1 + data[2:]


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "phone.jpg"
    path.write_bytes(_jpeg_with_orientation(40, 20, 6))  # 6: rotate 90 degrees clockwise to display
    rgb = images.read_image(path)
    assert rgb.shape == (40, 20, 3)
    # After the clockwise turn the red left half is on top.
    assert rgb[:15, :, 0].mean() > 200 and rgb[25:, :, 0].mean() < 50


def test_gray_alpha_and_16bit_inputs(tmp_path):
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (12, 1))
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    assert images.read_image(tmp_path / "gray.png").shape == (12, 25, 3)

    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 2] = 200
    rgba[..., 3] = np.arange(12, dtype=np.uint8) * 20
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    picture = images.load_picture(tmp_path / "alpha.png")
    assert picture.rgb.shape == (10, 12, 3) and picture.rgb[0, 0, 0] == 200
    assert np.array_equal(picture.alpha, rgba[..., 3])

    deep = np.full((8, 9, 3), 65535 // 3, np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    rgb = images.read_image(tmp_path / "deep.png")
    assert rgb.dtype == np.uint8 and int(rgb[0, 0, 0]) == 85


def test_non_ascii_paths_round_trip(tmp_path):
    folder = tmp_path / "写真 été"
    target = folder / "ねこ.png"
    rgb = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    images.write_image(target, rgb)
    assert np.array_equal(images.read_image(target), rgb)
    assert [p.name for p in folder.iterdir()] == ["ねこ.png"]  # no temp file left behind


def test_corrupt_and_empty_files_name_the_file(tmp_path):
    good = np.zeros((16, 16, 3), np.uint8)
    images.write_image(tmp_path / "ok.jpg", good)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes((tmp_path / "ok.jpg").read_bytes()[:20])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    for name in ("cut.jpg", "empty.png", "text.png", "missing.png"):
        with pytest.raises(InvalidInputError, match=name):
            images.read_image(tmp_path / name)


def test_write_refuses_unknown_suffix(tmp_path):
    with pytest.raises(InvalidInputError, match="unsupported output format"):
        images.write_image(tmp_path / "x.gifv", np.zeros((8, 8, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
