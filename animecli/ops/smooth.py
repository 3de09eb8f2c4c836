"""Edge smoothing of style images (AnimeGANv2's ``edge_smooth``), exact and vectorised.

The reference blurs every pixel near a Canny edge with a 5x5 Gaussian, one pixel at a time:
each channel becomes ``uint8(sum(patch * g))`` where ``g = k k^T`` and ``k = cv2.getGaussianKernel(5, 0)``.
That kernel is OpenCV's fixed table ``[1, 4, 6, 4, 1] / 16``, so every product ``v * g`` is an exact
multiple of 1/256 and every partial sum stays below 2**16 / 256: the float64 sum is exact whatever
the summation order, and the truncated result is ``floor(S / 256)`` with ``S`` the integer
separable convolution with ``[1, 4, 6, 4, 1]``.

One ``cv2.sepFilter2D`` call with the same kernel gives that floor directly: it rounds
``S / 256 + delta`` to uint8, and with ``delta = -127.5 / 256`` the value ``(S - 127.5) / 256`` lies
within 127.5/256 of ``floor(S / 256)``, never on a tie, while OpenCV computes it exactly (integer
fixed point for 8-bit smoothing kernels). The unit tests hold it to the per-pixel reference.
"""

from __future__ import annotations

import cv2
import numpy as np

from animecli.errors import InvalidInputError

GAUSSIAN_5 = cv2.getGaussianKernel(5, 0)  # [1, 4, 6, 4, 1] / 16, exactly
_FLOOR_DELTA = -127.5 / 256  # turns OpenCV's rounding of S / 256 into the reference's truncation
_DILATE = np.ones((5, 5), np.uint8)


def truncated_gaussian(bgr_image: np.ndarray) -> np.ndarray:
    """Every pixel's ``uint8(sum(patch * g))``, the reference's per-pixel value, for the whole image.

    5x5 patches are REFLECT_101-padded (``np.pad(mode="reflect")``), as in the reference.
    """
    return cv2.sepFilter2D(bgr_image, -1, GAUSSIAN_5, GAUSSIAN_5, delta=_FLOOR_DELTA,
                           borderType=cv2.BORDER_REFLECT_101)


def edge_mask(gray_image: np.ndarray) -> np.ndarray:
    """Pixels to smooth: Canny(gray, 100, 200) dilated with a 5x5 square (uint8, non-zero = smooth)."""
    return cv2.dilate(cv2.Canny(gray_image, 100, 200), _DILATE)


def edge_smooth(bgr_image: np.ndarray, size: int = 256) -> np.ndarray:
    """Blur the neighbourhood of edges, as AnimeGANv2 prepares ``dataset/<style>/smooth``.

    ``bgr_image`` is HxWx3 uint8 (as ``cv2.imread`` gives). With ``size`` > 0 the image (and its gray
    version, converted at the original size) is first resized to ``size`` x ``size`` (bilinear); with
    ``size`` 0 it keeps its size. Returns a new HxWx3 uint8 array.
    """
    if bgr_image.dtype != np.uint8 or bgr_image.ndim != 3 or bgr_image.shape[2] != 3:
        raise InvalidInputError(f"edge_smooth needs an HxWx3 uint8 image, got {bgr_image.dtype} "
                                f"of shape {bgr_image.shape}")
    if size < 0:
        raise InvalidInputError(f"size must be 0 (keep) or positive, got {size}")
    gray = cv2.cvtColor(bgr_image, cv2.COLOR_BGR2GRAY)
    if size:
        bgr_image = cv2.resize(bgr_image, (size, size))
        gray = cv2.resize(gray, (size, size))
    out = np.array(bgr_image, copy=True)
    cv2.copyTo(truncated_gaussian(bgr_image), edge_mask(gray), out)
    return out
