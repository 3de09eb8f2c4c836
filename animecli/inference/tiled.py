"""Exact tiled execution of the generator: bounded memory, and the same compiled graphs for every size.

The layer norm needs statistics of a whole feature map, so the network cannot run tile by tile from
end to end. Instead it runs layer by layer: each convolution runs over fixed-size tiles of its output
and stores its raw (pre-norm) result for the whole picture, together with the exact statistics of that
result (per-tile sums combined in float64). The next layer applies the norm and LeakyReLU to its input
tiles on the fly, so only the raw maps of two consecutive layers are ever held, and every layer's graph
has one input shape whatever the picture size. Reflect padding and the bilinear upsampling use the
picture's absolute coordinates, so results equal the whole-picture network up to float rounding.

Gain: memory. 4032x3024 peaks at 6.2 GB (a whole-picture graph would need ~34 GB), at 2.2-2.5x the
per-pixel time of 1280x720 on its own graph (quiet 2-core CPU; docs/performance.md). The layer graphs
alone compute at about the whole graph's rate (1.1x, summing each layer's fastest 256 tile at 2048x1536);
the rest is moving tiles in and out between the layer graphs, on the same two cores.
"""

from __future__ import annotations

import ctypes
import functools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import mindspore as ms
from mindspore import Parameter, nn, ops

from animecli import runtime
from animecli.inference import graph_store
from animecli.models.layers import RowTapConv2d

#: Output tile side per resolution level (full, half, quarter of the input). 256/256/128 showed no
#: reliable gain on a quiet 2-core CPU (``bench_tiles.py``, 2026-12-04: 4032x3024 at 14.6 vs 18.3 us/pixel
#: in one run, 18.1 vs 17.2 in the next; 2048x1536 twice each: 17.2, 16.5 vs 18.3, 14.5) and peaks
#: 0.6-0.7 GB higher, so the smaller tiles stay (docs/performance.md).
DEFAULT_TILES = (128, 128, 64)


@dataclass
class FeatureMap:
    """A stored layer result (C, H, W) and the per-channel transform its consumers apply first."""

    data: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    lrelu: bool
    buffer: Optional[np.ndarray] = None  # the pooled memory behind ``data`` (None: not pooled)

    @classmethod
    def plain(cls, data: np.ndarray, buffer: Optional[np.ndarray] = None) -> "FeatureMap":
        channels = data.shape[0]
        return cls(data, np.ones(channels, np.float32), np.zeros(channels, np.float32), False, buffer)


class _Pool:
    """Big float32 buffers reused from layer to layer (a fresh one costs a page fault per 4 KiB).

    Only a spare of about the right size is reused: a much larger one would keep its memory resident,
    and what is not reused is let go before a new buffer is allocated, so peak memory stays the two
    maps a layer needs.
    """

    SLACK = 1.25

    def __init__(self):
        self.spare: List[np.ndarray] = []

    def take(self, shape: Tuple[int, ...]) -> Tuple[np.ndarray, np.ndarray]:
        """An uninitialised array of ``shape`` and the buffer behind it."""
        size = int(np.prod(shape))
        fitting = [b for b in self.spare if size <= b.size <= size * self.SLACK]
        if fitting:
            buffer = min(fitting, key=lambda b: b.size)
            self.spare = [b for b in self.spare if b is not buffer]
        else:
            self.spare = []
            _return_freed_memory()
            buffer = np.empty(size, np.float32)
        return buffer[:size].reshape(shape), buffer

    def give(self, feature: FeatureMap) -> None:
        if feature.buffer is not None:
            self.spare.append(feature.buffer)


def _return_freed_memory() -> None:
    """Hand freed heap memory back to the system (glibc keeps it otherwise); a no-op elsewhere."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


class _Stats:
    """Running count / mean / centred sum of squares, merged per tile (Chan et al.) in float64."""

    def __init__(self):
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, count: int, total: float, m2: float) -> None:
        mean = total / count
        merged = self.count + count
        delta = mean - self.mean
        self.mean += delta * count / merged
        self.m2 += m2 + delta * delta * self.count * count / merged
        self.count = merged

    def normaliser(self, gamma: np.ndarray, beta: np.ndarray, eps: float) -> Tuple[np.ndarray, np.ndarray]:
        """Per-channel (scale, shift) so that ``x * scale + shift`` is the layer norm with its affine."""
        rstd = 1.0 / math.sqrt(self.m2 / self.count + eps)
        scale = gamma.astype(np.float64) * rstd
        return scale.astype(np.float32), (beta - self.mean * scale).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _no_resize() -> tuple:
    """The resize inputs of a ``_Tile`` that does not upsample (it ignores them)."""
    index, weight = ms.Tensor(np.zeros(1, np.int32)), ms.Tensor(np.zeros((1, 1, 1, 1), np.float32))
    return (index, index, weight) * 2


def _param(array: np.ndarray, name: str) -> Parameter:
    return Parameter(ms.Tensor(np.ascontiguousarray(array, np.float32)), name=name, requires_grad=False)


class _Tile(nn.Cell):
    """Input transform (x * scale + shift, optional LeakyReLU), optional upsampling, conv, tile statistics."""

    def __init__(self, weight: np.ndarray, bias: Optional[np.ndarray], stride: int, groups: int, lrelu: bool,
                 upsample: bool, name: str):
        super().__init__()
        out_ch, in_per_group, k, _ = weight.shape
        if k == 7 and in_per_group > 3:
            self.conv = RowTapConv2d(in_per_group, out_ch, k)
        else:
            self.conv = nn.Conv2d(in_per_group * groups, out_ch, k, stride=stride, pad_mode="valid",
                                  group=groups, has_bias=bias is not None)
        self.conv.weight = _param(weight, f"{name}.weight")
        if bias is not None:
            self.conv.bias = _param(bias, f"{name}.bias")
        self.lrelu = lrelu
        self.upsample = upsample
        self.out_ch = out_ch

    def construct(self, x, scale, shift, col_lo, col_hi, col_w, row_lo, row_hi, row_w, mask, inv_count):
        x = x * scale + shift
        if self.lrelu:
            x = ops.maximum(x, x * 0.2)
        if self.upsample:  # bilinear resize: columns then rows, each a lerp of two gathered lines
            left = ops.gather(x, col_lo, 3)
            x = left + (ops.gather(x, col_hi, 3) - left) * col_w
            top = ops.gather(x, row_lo, 2)
            x = top + (ops.gather(x, row_hi, 2) - top) * row_w
        out = self.conv(x)
        _, c, h, w = out.shape
        ones = ops.ones((h * w, 1), out.dtype)
        total = ops.matmul((out * mask).reshape(c, h * w), ones).sum()
        centred = (out - total * inv_count) * mask
        m2 = ops.matmul((centred * centred).reshape(c, h * w), ones).sum()
        return out, total, m2


class _Head(nn.Cell):
    """The output layer over one tile: norm + LeakyReLU of the last block, 1x1 conv, tanh."""

    def __init__(self, weight: np.ndarray):
        super().__init__()
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], 1, pad_mode="valid", has_bias=False)
        self.conv.weight = _param(weight, "out_layer.0.weight")

    def construct(self, x, scale, shift):
        x = x * scale + shift
        return ops.tanh(self.conv(ops.maximum(x, x * 0.2)))


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Reflect (edge not repeated) indices into [0, size); what lies further out is clamped (tile overhang)."""
    index = np.where(index < 0, -index, index)
    index = np.where(index > size - 1, 2 * (size - 1) - index, index)
    return np.clip(index, 0, size - 1)


def _runs(index: np.ndarray) -> List[Tuple[slice, slice]]:
    """Split an index array into (destination, source) slices of steps +1, -1 or 0 (no fancy indexing)."""
    runs = []
    start = 0
    while start < len(index):
        stop = start + 1
        step = int(index[stop] - index[start]) if stop < len(index) else 1
        if step not in (-1, 0, 1):
            step = 1
        while stop < len(index) and index[stop] - index[stop - 1] == step:
            stop += 1
        first = int(index[start])
        if step == 0:
            source = slice(first, first + 1)
        elif step == 1:
            source = slice(first, first + stop - start)
        else:
            last = first - (stop - start) + 1
            source = slice(first, last - 1 if last > 0 else None, -1)
        runs.append((slice(start, stop), source))
        start = stop
    return runs


def _take(data: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``data[:, rows][:, :, cols]`` as one contiguous (1, C, len(rows), len(cols)) float32 block."""
    block = np.empty((1, data.shape[0], len(rows), len(cols)), np.float32)
    for row_dst, row_src in _runs(rows):
        for col_dst, col_src in _runs(cols):
            block[0, :, row_dst, col_dst] = data[:, row_src, col_src]  # step-0 runs broadcast
    return block


def resize_source(out_size: int, in_size: int, mode: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output row of a bilinear resize: (lower source row, upper source row, weight of the upper)."""
    d = np.arange(out_size, dtype=np.float64)
    if mode == "align":
        src = d * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    elif mode == "half-pixel":
        src = np.maximum((d + 0.5) * (in_size / out_size) - 0.5, 0.0)
    else:  # tf: legacy, no align, no half-pixel
        src = d * (in_size / out_size)
    lower = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, (src - np.floor(src)).astype(np.float32)


@dataclass(frozen=True)
class _Layer:
    """One convolution of the network and how it is laid out."""

    name: str  # parameter prefix of the conv, e.g. "block_a.0.1" or "block_c.1.layers.2"
    norm: str  # parameter prefix of the norm that follows
    kernel: int
    stride: int
    groups: int
    bias: bool
    level: int  # resolution level of the output: 0 full, 1 half, 2 quarter
    upsample: bool = False  # input is the previous map upsampled to this level's size


def _cnl(prefix: str, kernel: int, level: int, stride: int = 1, groups: int = 1, bias: bool = False,
         upsample: bool = False) -> _Layer:
    return _Layer(f"{prefix}.1", f"{prefix}.2", kernel, stride, groups, bias, level, upsample)


class TiledGenerator:
    """The AnimeGANv2 generator run layer by layer over fixed-size tiles (see the module docstring).

    ``params`` are our parameter names (as in ``Generator``); ``tiles`` the output tile side at full,
    half and quarter resolution. Call with one NCHW float32 picture in [-1, 1] (batch of 1).
    """

    def __init__(self, params: Dict[str, np.ndarray], upsample: str = "tf", eps: float = 1e-12,
                 tiles: Tuple[int, int, int] = DEFAULT_TILES):
        self.params = params
        self.mode = upsample
        self.eps = eps
        self.tiles = tiles
        self.graphs: Dict[str, nn.Cell] = {}  # layer key -> its compiled graph (see ``_call``)
        self._cells: Dict[str, nn.Cell] = {}
        self._pool = _Pool()
        self.head = _Head(params["out_layer.0.weight"])
        self.head.set_train(False)

    # -- network layout -------------------------------------------------------------------------------
    def _irb(self, index: int) -> List[_Layer]:
        prefix = f"block_c.{index}.layers"
        width = self.params[f"{prefix}.1.1.weight"].shape[0]
        return [_cnl(f"{prefix}.0", 1, 2), _cnl(f"{prefix}.1", 3, 2, groups=width, bias=True),
                _Layer(f"{prefix}.2", f"{prefix}.3", 1, 1, 1, False, 2)]

    def _cell(self, layer: _Layer, lrelu: bool) -> nn.Cell:
        key = f"{layer.name}:{lrelu}"
        if key not in self._cells:
            bias = self.params.get(f"{layer.name}.bias") if layer.bias else None
            cell = _Tile(self.params[f"{layer.name}.weight"], bias, layer.stride, layer.groups, lrelu,
                         layer.upsample, layer.name)
            cell.set_train(False)
            self._cells[key] = cell
        return self._cells[key]

    def _normalise(self, layer: _Layer, raw: np.ndarray, buffer: np.ndarray, stats: _Stats,
                   lrelu: bool) -> FeatureMap:
        scale, shift = stats.normaliser(self.params[f"{layer.norm}.weight"], self.params[f"{layer.norm}.bias"],
                                        self.eps)
        return FeatureMap(raw, scale, shift, lrelu, buffer)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or x.shape[0] != 1:
            raise ValueError("TiledGenerator takes one picture: NCHW with N == 1")
        try:
            return self._forward(np.ascontiguousarray(x[0], np.float32))
        finally:
            self._pool = _Pool()

    def _forward(self, picture: np.ndarray) -> np.ndarray:
        height, width = picture.shape[1:]
        feature = FeatureMap.plain(picture)
        for layer in (_cnl("block_a.0", 7, 0), _cnl("block_a.1", 3, 1, stride=2), _cnl("block_a.2", 3, 1)):
            feature = self._run(layer, feature)
        half_size = feature.data.shape[1:]
        for layer in (_cnl("block_b.0", 3, 2, stride=2), _cnl("block_b.1", 3, 2), _cnl("block_c.0", 3, 2)):
            feature = self._run(layer, feature)
        for index in (1, 2, 3, 4):
            block_input = feature
            expand, depthwise, project = self._irb(index)
            feature = self._run(expand, block_input, keep_input=True)
            feature = self._run(project, self._run(depthwise, feature), lrelu=False)
            feature = self._materialise(feature, block_input if index > 1 else None)
            self._pool.give(block_input)
        feature = self._run(_cnl("block_c.5", 3, 2), feature)
        feature = self._run(_cnl("block_d.0", 3, 1, upsample=True), feature, size=self._up(feature, half_size))
        feature = self._run(_cnl("block_d.1", 3, 1), feature)
        feature = self._run(_cnl("block_e.0", 3, 0, upsample=True), feature,
                            size=self._up(feature, (height, width)))
        for layer in (_cnl("block_e.1", 3, 0), _cnl("block_e.2", 7, 0)):
            feature = self._run(layer, feature)
        return self._head(feature)

    def _up(self, feature: FeatureMap, remembered: Tuple[int, int]) -> Tuple[int, int]:
        if self.mode == "align":
            return int(remembered[0]), int(remembered[1])
        return feature.data.shape[1] * 2, feature.data.shape[2] * 2

    @staticmethod
    def _materialise(feature: FeatureMap, residual: Optional[FeatureMap]) -> FeatureMap:
        """Apply a norm without activation (and add the block input) in place: the output of a residual block."""
        data = feature.data
        data *= feature.scale[:, None, None]
        data += feature.shift[:, None, None]
        if residual is not None:
            data += residual.data
        return FeatureMap.plain(data, feature.buffer)

    # -- one layer over all its tiles -----------------------------------------------------------------
    def _run(self, layer: _Layer, feature: FeatureMap, lrelu: bool = True,
             size: Optional[Tuple[int, int]] = None, keep_input: bool = False) -> FeatureMap:
        """Run one conv layer (tile by tile) on a stored map; return its raw output and exact statistics.

        The input map's memory goes back to the pool afterwards unless ``keep_input``. A layer whose
        output has the input's shape writes over its input, one band of tiles behind the reads, so it
        needs no second full-size map.
        """
        source = feature.data
        in_h, in_w = size if layer.upsample else source.shape[1:]
        k, s = layer.kernel, layer.stride
        before = (k - s) // 2
        out_h = (in_h + k - s - k) // s + 1
        out_w = (in_w + k - s - k) // s + 1
        tile = self.tiles[layer.level]
        cell = self._cell(layer, feature.lrelu)
        shape = (cell.out_ch, out_h, out_w)
        in_place = not keep_input and not layer.upsample and feature.buffer is not None and source.shape == shape
        if in_place:
            raw, buffer = source, feature.buffer
        else:
            raw, buffer = self._pool.take(shape)
        stats = _Stats()
        scale = ms.Tensor(feature.scale.reshape(1, -1, 1, 1))
        shift = ms.Tensor(feature.shift.reshape(1, -1, 1, 1))
        span = (tile - 1) * s + k  # input rows/columns of one tile
        if layer.upsample:
            rows_map = resize_source(in_h, source.shape[1], self.mode)
            cols_map = resize_source(in_w, source.shape[2], self.mode)
        bands: Dict[int, np.ndarray] = {}  # in place: finished output rows waiting until no tile reads them

        def prepare(top: int, left: int):
            rows = _reflect(np.arange(top * s - before, top * s - before + span), in_h)
            cols = _reflect(np.arange(left * s - before, left * s - before + span), in_w)
            valid_h, valid_w = min(tile, out_h - top), min(tile, out_w - left)
            mask = np.zeros((1, 1, tile, tile), np.float32)
            mask[..., :valid_h, :valid_w] = 1.0
            if layer.upsample:
                region, resize = self._upsample_region(source, rows_map, rows, cols_map, cols, tile)
            else:
                region, resize = _take(source, rows, cols), _no_resize()
            count = cell.out_ch * valid_h * valid_w
            # from_numpy shares the fresh block's memory: ms.Tensor() would copy it (21 ms for a 32 MB
            # block, measured), on the same 2 cores the graph runs on.
            return (ms.Tensor.from_numpy(region), scale, shift, *resize, ms.Tensor(mask),
                    ms.Tensor(np.array([1.0 / count], np.float32))), (top, left, valid_h, valid_w)

        def store(outputs, place) -> None:
            out, total, m2 = outputs
            top, left, valid_h, valid_w = place
            if in_place:
                target = bands.setdefault(top, np.empty((cell.out_ch, valid_h, out_w), np.float32))
                target[:, :, left:left + valid_w] = out.asnumpy()[0, :, :valid_h, :valid_w]
            else:
                raw[:, top:top + valid_h, left:left + valid_w] = out.asnumpy()[0, :, :valid_h, :valid_w]
            stats.add(cell.out_ch * valid_h * valid_w, float(total.asnumpy()), float(m2.asnumpy()))

        def flush(top: int) -> None:
            band = bands.pop(top)
            raw[:, top:top + band.shape[1]] = band

        # MindSpore releases the GIL while a graph runs: one helper thread gathers the next tile and
        # stores finished ones meanwhile. Its tasks run in submission order, so a band is flushed over
        # the input only after its own tiles are stored and every tile of the next band (the last to
        # read those rows) has been gathered.
        corners = [(top, left) for top in range(0, out_h, tile) for left in range(0, out_w, tile)]
        with ThreadPoolExecutor(1, thread_name_prefix="anime-tiles") as helper:
            ahead = helper.submit(prepare, *corners[0])
            pending = []
            for index in range(len(corners)):
                inputs, place = ahead.result()
                gathered_band = None
                if index + 1 < len(corners):
                    top, left = corners[index + 1]
                    ahead = helper.submit(prepare, top, left)
                    if index + 2 == len(corners) or corners[index + 2][0] != top:
                        gathered_band = top  # all its tiles are gathered once this one is
                pending.append(helper.submit(store, self._call(cell, layer.name, inputs), place))
                if in_place and gathered_band:
                    pending.append(helper.submit(flush, gathered_band - tile))
            if in_place:
                pending.append(helper.submit(flush, corners[-1][0]))
            for future in pending:
                future.result()
        if not keep_input and not in_place:
            self._pool.give(feature)
        return self._normalise(layer, raw, buffer, stats, lrelu)

    def _upsample_region(self, source: np.ndarray, rows_map, rows: np.ndarray, cols_map, cols: np.ndarray,
                         tile: int):
        """The source block an upsampled tile needs and the resize inputs of ``_Tile``: for columns then
        rows, the lower and upper source line of each output line (in the block) and the upper's weight."""
        length = tile // 2 + 4  # source rows behind tile + 2 upsampled rows, for a ~2x upsampling
        starts, lines = [], {}
        for axis, (lower, upper, weight), index, size in ((2, rows_map, rows, source.shape[1]),
                                                          (3, cols_map, cols, source.shape[2])):
            lo, hi, w = lower[index], upper[index], weight[index]
            start = max(0, min(int(lo.min()), size - length))
            if hi.max() - start >= length:
                raise ValueError("upsampling ratio too large for the tile layout")
            shape = [1, 1, 1, 1]
            shape[axis] = len(index)
            lines[axis] = (ms.Tensor((lo - start).astype(np.int32)), ms.Tensor((hi - start).astype(np.int32)),
                           ms.Tensor(w.astype(np.float32).reshape(shape)))
            starts.append(np.clip(np.arange(start, start + length), 0, size - 1))
        return _take(source, starts[0], starts[1]), lines[3] + lines[2]

    def _call(self, cell: nn.Cell, key: str, inputs):
        """``cell(*inputs)`` through its graph from the graph store (exported once, loaded every run)."""
        graph = self.graphs.get(key)
        if graph is not None:
            return graph(*inputs)
        with runtime.compiling():
            graph, result = graph_store.load_and_run(cell, inputs, graph_store.graph_key(f"tile-{key}", inputs))
        self.graphs[key] = graph
        return result

    def _head(self, feature: FeatureMap) -> np.ndarray:
        source = feature.data
        _, height, width = source.shape
        tile = self.tiles[0]
        output = np.empty((1, 3, height, width), np.float32)
        scale = ms.Tensor(feature.scale.reshape(1, -1, 1, 1))
        shift = ms.Tensor(feature.shift.reshape(1, -1, 1, 1))
        for top in range(0, height, tile):
            rows = np.clip(np.arange(top, top + tile), 0, height - 1)
            for left in range(0, width, tile):
                cols = np.clip(np.arange(left, left + tile), 0, width - 1)
                valid_h, valid_w = min(tile, height - top), min(tile, width - left)
                out = self._call(self.head, "head", (ms.Tensor.from_numpy(_take(source, rows, cols)), scale, shift))
                output[0, :, top:top + valid_h, left:left + valid_w] = out.asnumpy()[0, :, :valid_h, :valid_w]
        return output
