"""A synthetic training set for the ``anime train`` tests: smooth random pictures of mixed sizes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

VGG_H5 = "weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


def _picture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Low-frequency colour blobs (a noise image blurred and stretched), BGR uint8."""
    small = rng.integers(0, 256, (max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def make_dataset(root: Path, style: str = "Sakura", photos: int = 8, style_images: int = 8,
                 smooth: bool = True, val: int = 3, size: int = 64, seed: int = 0) -> Path:
    """``root/train_photo``, ``root/<style>/style``, ``root/<style>/smooth`` (unless ``smooth`` is False) and
    ``root/val``; odd-numbered pictures are not square so the crop path is used."""
    rng = np.random.default_rng(seed)
    folders = {"train_photo": photos, f"{style}/style": style_images, "val": val}
    if smooth:
        folders[f"{style}/smooth"] = style_images
    for sub, count in folders.items():
        folder = root / sub
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            height, width = (size, size) if i % 2 == 0 else (size + size // 4, size)
            cv2.imwrite(str(folder / f"{i:03d}.png"), _picture(rng, height, width))
    return root
