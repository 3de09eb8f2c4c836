"""Stylize pictures with a loaded AnimeGANv2 generator: sizing rules, padding, batching, brightness.

How a picture runs (``Stylizer.forward``): MindSpore compiles a graph per input shape (seconds; graphs
are kept on disk by ``graph_store``, and a graph an earlier run exported loads in under a second), so
  - the first shape of a session, any shape whose graph is on disk, and a new shape once compiling it
    pays (its pictures so far, in this run and earlier ones, add up to ``compile_worth_pixels``; default
    ``COMPILE_WORTH_PIXELS``; ``anime infer`` with helper processes uses 0: every shape at once) run on
    a whole-picture graph for that shape (the fastest per picture, reused for every later picture of
    that size, and stored for later runs);
  - other new shapes run on the tiled executor (``models.tiled``): its graphs have fixed tile shapes and
    are compiled once for every size, so a folder of mixed sizes does not compile per picture;
  - pictures above ``whole_max_pixels`` always run tiled: memory stays bounded (a 4000x3000 photo fits
    in a few GB), and the result equals the whole-picture one up to float rounding.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from animecli import images
from animecli.errors import IncompatibleCheckpointError, InvalidInputError
from animecli.progress import Reporter
from animecli.weights.generator_ckpt import GeneratorWeights

MIN_SIDE = 8
#: Larger pictures run tiled: a whole-picture graph's first call peaks at about 0.2 GB + 2.8 GB per
#: megapixel on CPU (measured: 2.7 GB at 1280x720, 13.8 GB at 2560x1920), so this stays under 8 GB.
WHOLE_MAX_PIXELS = 2_500_000
#: A new shape gets its own whole-picture graph once its pictures, counted over this run and earlier
#: runs (``graph_store.count_sighting``), add up to this many pixels. Measured on a 2-core CPU: a new
#: shape compiles in about 3.5 s after a session's first (7 s at 1280x720), and a tiled picture takes
#: longer than on its own graph by 0.3 s at 256x256, 1.0 s at 512x512, 2.3 s at 640x480 and 4.2 s at
#: 800x600 (where tiling one picture already costs more than compiling). So 800x600 compiles at once,
#: 640x480 and 512x512 on their second picture, 400x300 on its fourth.
COMPILE_WORTH_PIXELS = 450_000
TILING_MODES = ("auto", "always", "never")


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


@dataclass
class GraphStats:
    """How pictures ran: graphs compiled (first-call seconds, i.e. compile + one run) and reuse."""

    pictures: int = 0
    hits: int = 0  # pictures that ran on graphs compiled earlier
    whole_first_call: Dict[Tuple[int, int], float] = field(default_factory=dict)  # (H, W) -> seconds
    whole_from_disk: int = 0  # whole-picture graphs an earlier run had exported (loaded, not compiled anew)
    tiled_pictures: int = 0
    tiled_first_call: Optional[float] = None  # seconds of the picture that compiled the tile graphs

    @property
    def compiles(self) -> int:
        """Pictures that had to compile a graph."""
        return self.pictures - self.hits

    @property
    def hit_rate(self) -> float:
        return self.hits / self.pictures if self.pictures else 0.0


class Stylizer:
    """Runs the generator on RGB uint8 pictures and returns pictures of the same size.

    ``tiling``: ``auto`` (see the module docstring), ``always`` (every picture tiled: bounded memory, no
    per-shape compilation) or ``never`` (always whole-picture graphs).
    """

    def __init__(self, weights: GeneratorWeights, max_size: Optional[int] = None,
                 brightness: bool = False, keep_processed_size: bool = False, tiling: str = "auto",
                 whole_max_pixels: int = WHOLE_MAX_PIXELS, compile_worth_pixels: int = COMPILE_WORTH_PIXELS):
        import mindspore as ms

        from animecli.models.generator import Generator

        if tiling not in TILING_MODES:
            raise InvalidInputError(f"unknown tiling {tiling!r}: choose one of {', '.join(TILING_MODES)}")
        self.meta = weights.meta
        self.max_size = max_size
        self.brightness = brightness
        self.keep_processed_size = keep_processed_size
        self.tiling = tiling
        self.whole_max_pixels = whole_max_pixels
        self.compile_worth_pixels = compile_worth_pixels
        self.stats = GraphStats()
        self._params = weights.params
        self._seen: Counter = Counter()  # tiled pictures per shape in this run (where the store is read-only)
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
        """One NCHW picture through the whole-picture graph or the tiled executor; records GraphStats."""
        shape = tuple(x.shape[2:])
        self.stats.pictures += 1
        started = time.perf_counter()
        if self._use_tiles(shape):
            tiled = self._tiled_generator()
            compiled = bool(tiled.graphs)
            output = tiled(x)
            self.stats.tiled_pictures += 1
            if compiled:
                self.stats.hits += 1
            elif self.stats.tiled_first_call is None:
                self.stats.tiled_first_call = time.perf_counter() - started
            return output
        tensor = self._tensor(x)
        graph = self._graphs.get(shape)
        if graph is not None:
            self.stats.hits += 1
            return graph(tensor).asnumpy()
        from animecli import graph_store, runtime

        key = self._graph_key(shape)
        self.stats.whole_from_disk += graph_store.is_stored(key)
        with runtime.compiling():
            graph, output = graph_store.load_and_run(self.network, [tensor], key)
        output = output.asnumpy()
        self._graphs[shape] = graph
        self.stats.whole_first_call[shape] = time.perf_counter() - started
        return output

    def _use_tiles(self, shape: Tuple[int, int]) -> bool:
        if self.tiling != "auto":
            return self.tiling == "always"
        pixels = shape[0] * shape[1]
        if pixels > self.whole_max_pixels:
            return True
        if not self._graphs or shape in self._graphs or pixels >= self.compile_worth_pixels:
            return False
        from animecli import graph_store

        key = self._graph_key(shape)
        if graph_store.is_stored(key):
            return False
        self._seen[shape] += 1
        pictures = max(self._seen[shape], graph_store.count_sighting(key))
        return pictures * pixels < self.compile_worth_pixels

    def _tiled_generator(self):
        if self._tiled is None:
            from animecli.models.tiled import TiledGenerator

            self._tiled = TiledGenerator(self._params, upsample=self.meta.upsample, eps=self.meta.eps)
        return self._tiled

    def _graph_key(self, shape: Tuple[int, int]) -> str:
        """The graph store's key of the whole-picture graph for one (H, W) picture."""
        from animecli import graph_store

        return graph_store.graph_key(f"generator-{self.meta.upsample}-eps{self.meta.eps!r}",
                                     [graph_store.TensorSpec((1, 3) + shape)])

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
        """Stylize several pictures of any sizes (each runs through the network on its own, see ``forward``)."""
        return [self._finish(picture, self.forward(self._prepare(picture)[None])[0]) for picture in pictures]


def load_stylizer(weights: Optional[Path] = None, style: Optional[str] = None, upsample: Optional[str] = None,
                  device: str = "auto", max_size: Optional[int] = None, brightness: bool = False,
                  keep_processed_size: bool = False, cache_dir: Optional[Path] = None,
                  reporter: Optional[Reporter] = None, tiling: str = "auto") -> Stylizer:
    """Resolve the weights, configure the device (graph mode, operator fusion) and build a ``Stylizer``."""
    from animecli import runtime

    runtime.prepare_environment()  # before anything imports MindSpore: it reads its log settings at import
    from animecli.weights.resolve import load_generator_weights

    loaded = load_generator_weights(weights=weights, style=style, upsample=upsample,
                                    cache_dir=cache_dir, reporter=reporter)
    return build_stylizer(loaded, device, max_size=max_size, brightness=brightness,
                          keep_processed_size=keep_processed_size, tiling=tiling)


def build_stylizer(weights: GeneratorWeights, device: str = "auto", **settings) -> Stylizer:
    """Configure the device (graph mode, operator fusion) and build a ``Stylizer`` of resolved weights;
    ``settings`` are ``Stylizer``'s keyword arguments."""
    from animecli import runtime

    runtime.prepare_environment()
    runtime.configure(device, mode="graph", graph_kernel=True)
    return Stylizer(weights, **settings)
