"""Reading and writing pictures: EXIF orientation, gray / alpha / 16-bit inputs, non-ASCII paths, atomic writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import cv2
import numpy as np

from animecli import files
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


#: Pictures larger than this are refused unless processed smaller (``--max-size``): stylizing one at full
#: size needs several GB per 100 MP, and a few hundred bytes of PNG can claim billions of pixels.
DEFAULT_MAX_MEGAPIXELS = 100
#: OpenCV refuses to decode more pixels than this (its CV_IO_MAX_IMAGE_PIXELS default).
DECODE_PIXEL_CAP = 1 << 30
_REDUCED_COLOR = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def load_picture(path: Path, max_megapixels: Optional[float] = None, max_size: Optional[int] = None) -> Picture:
    """Decode an image file into RGB uint8 (+ alpha), with its EXIF orientation applied.

    Grayscale becomes 3 channels, 16-bit is rounded to 8-bit, an alpha channel is returned separately.
    A picture of more than ``max_megapixels`` (read from the header when it is a PNG or JPEG, before
    decoding) is refused, unless ``max_size`` is given: it is then decoded reduced (JPEG natively at
    1/2, 1/4 or 1/8; other formats are decoded whole then reduced by OpenCV), without its alpha, and
    returned shrunk to ``max_size`` on the long side.
    Raises ``InvalidInputError`` naming the file when it cannot be read or decoded.
    """
    path = Path(path)
    size = peek_size(path)
    reduce = check_size(path, size, max_megapixels, max_size)
    data = read_bytes(path)
    if reduce:
        flag = _REDUCED_COLOR.get(_reduction(size, max_size), cv2.IMREAD_COLOR)
        return _shrunk(decode(path, data, flag), max_size)
    # COLOR|ANYDEPTH applies the EXIF orientation and keeps 16-bit depth; alpha needs UNCHANGED.
    colour = decode(path, data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if size is None and check_size(path, colour.shape[1::-1], max_megapixels, max_size):  # header not read
        return _shrunk(colour, max_size)
    alpha = None
    if path.suffix.lower() in ALPHA_SUFFIXES:
        raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if raw is not None and raw.ndim == 3 and raw.shape[2] == 4 and raw.shape[:2] == colour.shape[:2]:
            alpha = _to_uint8(raw[:, :, 3])
    rgb = cv2.cvtColor(_to_uint8(colour), cv2.COLOR_BGR2RGB)
    return Picture(np.ascontiguousarray(rgb), alpha)


def check_size(path: Path, size: Optional[Tuple[int, int]], max_megapixels: Optional[float] = None,
               max_size: Optional[int] = None) -> bool:
    """Whether ``size`` (width, height; None: unknown) is past the limit but allowed reduced; raises
    ``InvalidInputError`` when it is past the limit without ``max_size``, or past what OpenCV decodes."""
    if size is None:
        return False
    width, height = size
    pixels = width * height
    if pixels > DECODE_PIXEL_CAP:
        raise InvalidInputError(f"{path}: {width}x{height} is past the {DECODE_PIXEL_CAP / 1e6:.0f} MP "
                                f"that OpenCV can decode")
    if not max_megapixels or pixels <= max_megapixels * 1e6:
        return False
    if max_size:
        return True
    raise InvalidInputError(
        f"{path}: {width}x{height} ({pixels / 1e6:.0f} MP) is past the {max_megapixels:g} MP limit: process it "
        f"smaller with --max-size (e.g. --max-size 4096), or raise the limit with "
        f"--max-megapixels {int(pixels / 1e6) + 1}")


def _shrunk(bgr: np.ndarray, max_size: int) -> Picture:
    """A decoded BGR picture as 8-bit RGB, shrunk so its long side is ``max_size``."""
    return Picture(cv2.cvtColor(resize_to_max_side(_to_uint8(bgr), max_size), cv2.COLOR_BGR2RGB))


def _reduction(size: Tuple[int, int], max_size: int) -> int:
    """The largest decoder reduction (1, 2, 4 or 8) that keeps the long side at least ``max_size``."""
    return max((f for f in (1, 2, 4, 8) if max(size) // f >= max_size), default=1)


def read_bytes(path: Path) -> np.ndarray:
    """A file's bytes for ``cv2.imdecode`` (works with non-ASCII paths), without a PNG's ICC profile:
    OpenCV ignores it, and libpng warns on stderr about common ones ("iCCP: known incorrect sRGB
    profile"). Raises ``InvalidInputError`` naming the file."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:
        raise InvalidInputError(f"{path}: cannot read ({err.strerror or err})") from err
    if data.size == 0:
        raise InvalidInputError(f"{path}: empty file")
    return without_icc_profile(data)


def without_icc_profile(data: np.ndarray) -> np.ndarray:
    """``data`` without its PNG ``iCCP`` chunk (which comes before the first ``IDAT``), if it has one."""
    head = data[:8].tobytes()
    if head != _PNG_SIGNATURE:
        return data
    position = 8
    while position + 8 <= data.size:
        length = int.from_bytes(data[position:position + 4].tobytes(), "big")
        kind = data[position + 4:position + 8].tobytes()
        if kind in (b"IDAT", b"IEND"):
            break
        if kind == b"iCCP":
            return np.concatenate([data[:position], data[position + 12 + length:]])
        position += 12 + length
    return data


def decode(path: Path, data: np.ndarray, flags: int) -> np.ndarray:
    """``cv2.imdecode`` with a one-line error naming the file instead of None or OpenCV's raw text."""
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error as err:
        raise InvalidInputError(f"{path}: OpenCV cannot decode it ({str(err).strip().splitlines()[-1]})") from err
    if image is None:
        raise InvalidInputError(f"{path}: not a decodable image (corrupt, truncated or not a picture)")
    return image


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn: not DHT, JPG, DAC
_JPEG_HEADER_LIMIT = 1 << 20  # a frame header further in than this is not looked for


def peek_size(path: Path) -> Optional[Tuple[int, int]]:
    """(width, height) of a PNG or JPEG from its header, without decoding; None for other formats or a
    header that cannot be read (the picture is then simply decoded when its turn comes)."""
    try:
        with open(path, "rb") as file:
            start = file.read(24)
            if start.startswith(_PNG_SIGNATURE) and start[12:16] == b"IHDR":
                return int.from_bytes(start[16:20], "big"), int.from_bytes(start[20:24], "big")
            if start.startswith(b"\xff\xd8"):
                return _jpeg_size(file)
    except OSError:
        return None
    return None


def _jpeg_size(file) -> Optional[Tuple[int, int]]:
    """Walk a JPEG's marker segments up to its frame header (SOFn: precision, height, width)."""
    position = 2
    while position < _JPEG_HEADER_LIMIT:
        file.seek(position)
        marker = file.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        if marker[1] == 0xFF:  # fill byte before a marker
            position += 1
            continue
        length = int.from_bytes(marker[2:4], "big")
        if marker[1] in _JPEG_FRAME_MARKERS:
            frame = file.read(5)
            if len(frame) < 5:
                return None
            width, height = int.from_bytes(frame[3:5], "big"), int.from_bytes(frame[1:3], "big")
            return (width, height) if width and height else None
        if length < 2:
            return None
        position += 2 + length
    return None


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


def write_image(path: Path, rgb: np.ndarray, quality: int = 95, alpha: Optional[np.ndarray] = None) -> None:
    """Encode by the file's suffix and write atomically (temp file + rename)."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InvalidInputError(f"{path}: unsupported output format {path.suffix!r} "
                                f"(use one of {', '.join(IMAGE_SUFFIXES)})")
    files.atomic_write_bytes(path, encode_image(path.suffix, rgb, quality, alpha))


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
