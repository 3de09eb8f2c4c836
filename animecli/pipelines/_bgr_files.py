"""Style-image files with the reference tool's semantics: ``cv2.imread`` (BGR, 8-bit) and ``cv2.imwrite``.

``animecli.images`` rounds 16-bit pictures and decodes PNGs twice (for alpha); the dataset tools
need neither, so they decode once, exactly like ``cv2.imread``. Bytes go through NumPy so
non-ASCII paths work; writes are atomic.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

from animecli import files, images
from animecli.errors import InvalidInputError


def read_bgr(path: Path) -> np.ndarray:
    """Decode like ``cv2.imread(path)``: HxWx3 uint8 BGR. Raises ``InvalidInputError`` naming the file."""
    images.check_size(path, images.peek_size(path))
    return images.decode(path, images.read_bytes(path), cv2.IMREAD_COLOR)


def write_bgr(path: Path, image: np.ndarray) -> None:
    """Encode like ``cv2.imwrite`` (format from the suffix) and write atomically."""
    try:
        ok, encoded = cv2.imencode(path.suffix, image)
    except cv2.error as err:
        raise InvalidInputError(f"{path}: cannot encode an image as {path.suffix!r}") from err
    if not ok:
        raise InvalidInputError(f"{path}: cannot encode an image as {path.suffix!r}")
    files.atomic_write_bytes(path, encoded.tobytes())


def scan_folder(folder: Path) -> Tuple[List[Path], List[Tuple[Path, str]]]:
    """Split a folder's entries into image files (sorted) and everything else, with the reason.

    Hidden entries (``.name``, e.g. ``.DS_Store`` or temp files being written) are ignored, like a glob.
    """
    found, others = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            others.append((entry, "a folder (sub-folders are not searched)"))
        elif images.is_image_path(entry):
            found.append(entry)
        else:
            others.append((entry, "not an image file (by its suffix)"))
    return found, others
