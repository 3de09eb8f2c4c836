"""Reading and writing pictures: EXIF orientation, gray / alpha / 16-bit inputs, non-ASCII paths, atomic writes."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import cv2
import numpy as np

from animecli.errors import InvalidInputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff")


@dataclass
class Picture:
    """An RGB uint8 image (H, W, 3) and, when the file had one, its alpha channel (H, W)."""

    rgb: np.ndarray
    alpha: Optional[np.ndarray] = None


def is_image_path(path: Path) -> bool:
    """Whether the file name has a supported image suffix."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return np.rint(array.astype(np.float32) / 257.0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise ValueError(f"unsupported pixel type {array.dtype}")


def load_picture(path: Path) -> Picture:
    """Decode an image file into RGB uint8 (+ alpha), with its EXIF orientation applied.

    Grayscale becomes 3 channels, 16-bit is rounded to 8-bit, an alpha channel is returned separately.
    Raises ``InvalidInputError`` naming the file when it cannot be read or decoded.
    """
    path = Path(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:
        raise InvalidInputError(f"{path}: cannot read ({err.strerror or err})") from err
    if data.size == 0:
        raise InvalidInputError(f"{path}: empty file")
    # COLOR|ANYDEPTH applies the EXIF orientation and keeps 16-bit depth; alpha needs UNCHANGED.
    colour = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if colour is None:
        raise InvalidInputError(f"{path}: not a decodable image (corrupt, truncated or not a picture)")
    alpha = None
    if path.suffix.lower() in ALPHA_SUFFIXES:
        raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if raw is not None and raw.ndim == 3 and raw.shape[2] == 4 and raw.shape[:2] == colour.shape[:2]:
            alpha = _to_uint8(raw[:, :, 3])
    rgb = cv2.cvtColor(_to_uint8(colour), cv2.COLOR_BGR2RGB)
    return Picture(np.ascontiguousarray(rgb), alpha)


def read_image(path: Path) -> np.ndarray:
    """Decode an image file into an RGB uint8 array (H, W, 3); see ``load_picture``."""
    return load_picture(path).rgb


def encode_image(suffix: str, rgb: np.ndarray, quality: int = 95, alpha: Optional[np.ndarray] = None) -> bytes:
    """Encode RGB (+ optional alpha, kept for PNG/WebP/TIFF) to the format named by ``suffix``."""
    suffix = suffix.lower()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if alpha is not None and suffix in ALPHA_SUFFIXES:
        bgr = np.dstack([bgr, alpha])
    params = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    ok, buffer = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise InvalidInputError(f"cannot encode an image as {suffix}")
    return buffer.tobytes()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_image(path: Path, rgb: np.ndarray, quality: int = 95, alpha: Optional[np.ndarray] = None) -> None:
    """Encode by the file's suffix and write atomically (temp file + rename)."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InvalidInputError(f"{path}: unsupported output format {path.suffix!r} "
                                f"(use one of {', '.join(IMAGE_SUFFIXES)})")
    atomic_write_bytes(path, encode_image(path.suffix, rgb, quality, alpha))


def max_side_size(width: int, height: int, max_size: Optional[int]) -> Tuple[int, int]:
    """(width, height) shrunk so the long side is at most ``max_size`` (never enlarged)."""
    if not max_size or max(height, width) <= max_size:
        return width, height
    scale = max_size / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_to_max_side(rgb: np.ndarray, max_size: Optional[int]) -> np.ndarray:
    """Shrink (area interpolation) so the long side is at most ``max_size``; never enlarges."""
    height, width = rgb.shape[:2]
    size = max_side_size(width, height, max_size)
    if size == (width, height):
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def resize_to(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to exactly ``width`` x ``height`` (bicubic up, area down)."""
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return rgb
    shrinking = width * height < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def center_crop_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """The centred square crop, resized to ``size`` x ``size`` with Lanczos (face models' preprocessing)."""
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = rgb[top:top + side, left:left + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LANCZOS4)
