"""File I/O with the reference tools' semantics: ``cv2.imread`` (BGR, 8-bit) and ``cv2.imwrite``.

Bytes go through NumPy (``np.fromfile`` / ``tofile``) so non-ASCII paths work; writes are atomic.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

from animecli.errors import InvalidInputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def is_image_path(path: Path) -> bool:
    """Whether the file name has a suffix we read and write."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_bgr(path: Path) -> np.ndarray:
    """Decode like ``cv2.imread(path)``: HxWx3 uint8 BGR. Raises ``InvalidInputError`` naming the file."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:
        raise InvalidInputError(f"{path}: cannot read ({err.strerror or err})") from err
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InvalidInputError(f"{path}: not a decodable image (corrupt, truncated or not a picture)")
    return image


def write_bgr(path: Path, image: np.ndarray) -> None:
    """Encode like ``cv2.imwrite`` (format from the suffix) into a temp file, then rename into place."""
    try:
        ok, encoded = cv2.imencode(path.suffix, image)
    except cv2.error as err:
        raise InvalidInputError(f"{path}: cannot encode an image as {path.suffix!r}") from err
    if not ok:
        raise InvalidInputError(f"{path}: cannot encode an image as {path.suffix!r}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            encoded.tofile(handle)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def scan_folder(folder: Path) -> Tuple[List[Path], List[Tuple[Path, str]]]:
    """Split a folder's entries into image files (sorted) and everything else, with the reason.

    Hidden entries (``.name``, e.g. ``.DS_Store`` or our own temp files) are ignored, like a glob.
    """
    images, others = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            others.append((entry, "a folder (subfolders are not searched)"))
        elif is_image_path(entry):
            images.append(entry)
        else:
            others.append((entry, "not an image (unknown file type)"))
    return images, others
