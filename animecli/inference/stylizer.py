"""Stylize pictures with a loaded AnimeGANv2 generator: the engine's one policy, sizing, padding, brightness.

The policy: a picture of up to ``WHOLE_MAX_PIXELS`` (as the network sees it, after ``--max-size`` and
padding) runs on its size's own whole-picture graph; a larger one runs on the tiled executor
(``inference.tiled``: bands of rows, exact whole-picture layer-norm statistics), so memory stays
bounded. Which path a picture takes depends on its size alone, never on the graph store, earlier
pictures or runs, or the machine, so its output depends on the input, the weights and the options
alone. The graph store only saves time: a graph loaded from it computes the same bytes as one compiled
in this process (tested). Measured figures: docs/performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from animecli import images
from animecli.errors import IncompatibleCheckpointError, InvalidInputError
from animecli.weights.generator_ckpt import GeneratorWeights

MIN_SIDE = 8
#: Larger pictures run tiled. A whole-picture graph's first call peaks at about 0.2 GB + 2.8 GB per
#: megapixel on CPU (2.7 GB at 1280x720, 13.8 GB at 2560x1920), so this keeps it under 8 GB.
WHOLE_MAX_PIXELS = 2_500_000


@dataclass(frozen=True)
class StylizeSettings:
    """The options of a stylizer, from the command line down (the weights aside)."""

    device: str = "auto"
    max_size: Optional[int] = None  # longest side the network sees (None: the picture's own size)
    keep_processed_size: bool = False  # with max_size: return the smaller processed size
    brightness: bool = False  # match the output's brightness to the input's


def runs_tiled(height: int, width: int) -> bool:
    """The policy: whether a (padded) picture of this size runs on the tiled executor."""
    return height * width > WHOLE_MAX_PIXELS


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
    """Runs the generator on RGB uint8 pictures and returns pictures of the same size (the policy: see
    the module docstring). Build it with ``open_stylizer``, which configures the device first."""

    def __init__(self, weights: GeneratorWeights, settings: StylizeSettings = StylizeSettings()):
        import mindspore as ms

        from animecli.models.generator import Generator

        self.meta = weights.meta
        self.settings = settings
        self._params = weights.params
        self._tiled = None
        self._graphs: Dict[Tuple[int, int], object] = {}  # (H, W) -> whole-picture graph (nn.GraphCell)
        self.network = Generator(upsample=weights.meta.upsample, eps=weights.meta.eps)
        self.network.set_train(False)
        parameters = {name: ms.Parameter(ms.Tensor(array), name=name) for name, array in weights.params.items()}
        not_loaded, unused = ms.load_param_into_net(self.network, parameters, strict_load=True)
        if not_loaded or unused:
            raise IncompatibleCheckpointError(f"{weights.meta.source}: generator weights did not load fully",
                                              missing=not_loaded, unexpected=unused)
        self._tensor = ms.Tensor

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on same-size RGB uint8 pictures (N, H, W, 3), padding as the mode requires.

        Pictures run one at a time (a batch dimension does not make CPU inference faster, and a graph
        per batch size would only add compilations).
        """
        height, width = batch.shape[1:3]
        if min(height, width) < MIN_SIDE:
            raise InvalidInputError(f"picture of {width}x{height} is too small (at least {MIN_SIDE} px a side)")
        bottom, right = padding_for(self.meta.upsample, height, width)
        outputs = []
        for picture in batch:
            if bottom or right:
                picture = cv2.copyMakeBorder(picture, 0, bottom, 0, right, cv2.BORDER_REFLECT_101)
            outputs.append(from_model_output(self._run(to_model_input(picture[None])))[0, :height, :width])
        return np.stack(outputs)

    def _run(self, x: np.ndarray) -> np.ndarray:
        """One NCHW picture through its size's whole-picture graph, or tiled above ``WHOLE_MAX_PIXELS``."""
        shape = tuple(x.shape[2:])
        if runs_tiled(*shape):
            return self._tiled_generator()(x)
        if self._tiled is not None:  # its stored maps (4.7 GB at 4032x3024) are not needed here
            self._tiled.release()
        tensor = self._tensor(x)
        graph = self._graphs.get(shape)
        if graph is not None:
            return graph(tensor).asnumpy()
        from animecli import runtime
        from animecli.inference import graph_store

        key = graph_store.graph_key(f"generator-{self.meta.upsample}-eps{self.meta.eps!r}",
                                    [graph_store.TensorSpec((1, 3) + shape)])
        with runtime.compiling():
            graph, output = graph_store.load_and_run(self.network, [tensor], key)
        self._graphs[shape] = graph
        return output.asnumpy()

    def _tiled_generator(self):
        if self._tiled is None:
            from animecli.inference.tiled import TiledGenerator

            self._tiled = TiledGenerator(self._params, upsample=self.meta.upsample, eps=self.meta.eps)
        return self._tiled

    def _prepare(self, rgb: np.ndarray) -> np.ndarray:
        crop = self.meta.face_crop_size
        if crop:
            return images.center_crop_square(rgb, crop)
        return images.resize_to_max_side(rgb, self.settings.max_size)

    def _finish(self, original: np.ndarray, styled: np.ndarray) -> np.ndarray:
        if not self.meta.face_crop_size and not self.settings.keep_processed_size:
            styled = images.resize_to(styled, original.shape[1], original.shape[0])
        if self.settings.brightness:
            from animecli.ops.brightness import match_brightness

            source = original if styled.shape == original.shape else images.resize_to(
                original, styled.shape[1], styled.shape[0])
            styled = match_brightness(source, styled)
        return styled

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Stylize one RGB uint8 picture (H, W, 3)."""
        return self.stylize_batch([rgb])[0]

    def stylize_batch(self, pictures: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Stylize several pictures of any sizes (each runs through the network on its own, see ``forward``)."""
        return [self._finish(picture, self.forward(self._prepare(picture)[None])[0]) for picture in pictures]


def open_stylizer(weights: GeneratorWeights, settings: StylizeSettings = StylizeSettings()) -> Stylizer:
    """The engine's entry point (``anime infer``, ``anime video``, the benchmarks): configure the device
    (graph mode, operator fusion) and build a ``Stylizer`` of resolved weights."""
    from animecli import runtime

    runtime.prepare_environment()  # before anything imports MindSpore: it reads its log settings at import
    runtime.configure(settings.device, mode="graph", graph_kernel=True)
    return Stylizer(weights, settings)
