"""Stylize pictures with a loaded AnimeGANv2 generator: sizing rules, padding, batching, brightness."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np

from animecli import images
from animecli.errors import IncompatibleCheckpointError, InvalidInputError
from animecli.progress import Reporter
from animecli.weights.generator_ckpt import GeneratorWeights

MIN_SIDE = 8


def to_model_input(batch: np.ndarray) -> np.ndarray:
    """RGB uint8 (N, H, W, 3) -> NCHW float32 in [-1, 1]."""
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 127.5 - 1.0


def from_model_output(output: np.ndarray) -> np.ndarray:
    """NCHW tanh output -> RGB uint8 (N, H, W, 3), clipped then truncated like the reference code."""
    pixels = (output.transpose(0, 2, 3, 1) + 1.0) * 127.5
    return np.clip(pixels, 0.0, 255.0).astype(np.uint8)


def padding_for(upsample: str, height: int, width: int) -> tuple:
    """Extra (bottom, right) rows/columns so the network returns the input size in this mode."""
    if upsample == "align":
        return 0, 0
    return (-height) % 4, (-width) % 4


class Stylizer:
    """Runs the generator on RGB uint8 pictures and returns pictures of the same size."""

    def __init__(self, weights: GeneratorWeights, max_size: Optional[int] = None,
                 brightness: bool = False, keep_processed_size: bool = False):
        import mindspore as ms

        from animecli.models.generator import Generator

        self.meta = weights.meta
        self.max_size = max_size
        self.brightness = brightness
        self.keep_processed_size = keep_processed_size
        self.network = Generator(upsample=weights.meta.upsample, eps=weights.meta.eps)
        self.network.set_train(False)
        parameters = {name: ms.Parameter(ms.Tensor(array), name=name) for name, array in weights.params.items()}
        not_loaded, unused = ms.load_param_into_net(self.network, parameters, strict_load=True)
        if not_loaded or unused:
            raise IncompatibleCheckpointError(f"{weights.meta.source}: generator weights did not load fully",
                                              missing=not_loaded, unexpected=unused)
        self._tensor = ms.Tensor

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on same-size RGB uint8 pictures (N, H, W, 3), padding as the mode requires."""
        height, width = batch.shape[1:3]
        if min(height, width) < MIN_SIDE:
            raise InvalidInputError(f"picture of {width}x{height} is too small (at least {MIN_SIDE} px a side)")
        bottom, right = padding_for(self.meta.upsample, height, width)
        if bottom or right:
            batch = np.stack([cv2.copyMakeBorder(img, 0, bottom, 0, right, cv2.BORDER_REFLECT_101)
                              for img in batch])
        output = self.network(self._tensor(to_model_input(batch))).asnumpy()
        return from_model_output(output)[:, :height, :width]

    def _prepare(self, rgb: np.ndarray) -> np.ndarray:
        crop = self.meta.face_crop_size
        if crop:
            return images.center_crop_square(rgb, crop)
        return images.resize_to_max_side(rgb, self.max_size)

    def _finish(self, original: np.ndarray, styled: np.ndarray) -> np.ndarray:
        if not self.meta.face_crop_size and not self.keep_processed_size:
            styled = images.resize_to(styled, original.shape[1], original.shape[0])
        if self.brightness:
            from animecli.ops.brightness import match_brightness

            source = original if styled.shape == original.shape else images.resize_to(
                original, styled.shape[1], styled.shape[0])
            styled = match_brightness(source, styled)
        return styled

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Stylize one RGB uint8 picture (H, W, 3)."""
        return self.stylize_batch([rgb])[0]

    def stylize_batch(self, pictures: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Stylize several pictures; those of the same prepared size share one forward pass."""
        prepared = [self._prepare(p) for p in pictures]
        results: List[Optional[np.ndarray]] = [None] * len(prepared)
        by_shape: dict = {}
        for index, picture in enumerate(prepared):
            by_shape.setdefault(picture.shape, []).append(index)
        for indices in by_shape.values():
            styled = self.forward(np.stack([prepared[i] for i in indices]))
            for row, index in enumerate(indices):
                results[index] = self._finish(pictures[index], styled[row])
        return results  # type: ignore[return-value]


def load_stylizer(weights: Optional[Path] = None, style: Optional[str] = None, upsample: Optional[str] = None,
                  device: str = "auto", max_size: Optional[int] = None, brightness: bool = False,
                  keep_processed_size: bool = False, cache_dir: Optional[Path] = None,
                  reporter: Optional[Reporter] = None) -> Stylizer:
    """Resolve the weights, configure the device (graph mode) and build a ``Stylizer``."""
    from animecli import runtime
    from animecli.weights.resolve import load_generator_weights

    loaded = load_generator_weights(weights=weights, style=style, upsample=upsample,
                                    cache_dir=cache_dir, reporter=reporter)
    runtime.configure(device, mode="graph")
    return Stylizer(loaded, max_size=max_size, brightness=brightness, keep_processed_size=keep_processed_size)
