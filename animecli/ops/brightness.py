"""Brightness matching (AnimeGANv2's ``adjust_brightness_from_src_to_dst``)."""

from __future__ import annotations

import numpy as np

from animecli.errors import InvalidInputError


def _check_rgb(image: np.ndarray, role: str) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInputError(f"the {role} must be an HxWx3 uint8 RGB image, got {image.dtype} "
                                f"of shape {image.shape}")


def average_brightness(rgb: np.ndarray) -> float:
    """``0.299 * mean(R) + 0.587 * mean(G) + 0.114 * mean(B)`` of an HxWx3 uint8 RGB image."""
    _check_rgb(rgb, "image")
    return 0.299 * rgb[..., 0].mean() + 0.587 * rgb[..., 1].mean() + 0.114 * rgb[..., 2].mean()


def match_brightness(source_rgb: np.ndarray, target_rgb: np.ndarray) -> np.ndarray:
    """Scale ``target_rgb`` so its average brightness matches ``source_rgb``'s (sizes may differ).

    ``uint8(clip(target * b(source) / b(target), 0, 255))`` (truncation), as the reference does.
    A target of zero brightness (all black) cannot be scaled: it is returned unchanged, and the
    caller decides whether to warn (``average_brightness(target) == 0``).
    """
    _check_rgb(source_rgb, "source")
    target_brightness = average_brightness(target_rgb)
    if target_brightness == 0:
        return target_rgb.copy()
    ratio = average_brightness(source_rgb) / target_brightness
    return np.clip(target_rgb * ratio, 0, 255).astype(np.uint8)
