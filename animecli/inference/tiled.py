"""Exact tiled execution of the generator: bounded memory for pictures too large for a whole-picture graph.

The layer norm needs statistics of a whole feature map, so the network cannot run piece by piece from
end to end. Instead it runs layer by layer: each convolution runs over bands of its output (a fixed
number of rows, the map's full width) and stores its raw (pre-norm) result for the whole picture,
together with the exact statistics of that result (per-band sums combined in float64). The next layer
applies the norm and LeakyReLU to its input bands on the fly, so only the raw maps of two consecutive
layers are ever held. A layer's graph depends on the picture's width (compiled once per width, then
loaded from the graph store). Reflect padding and the bilinear upsampling use the picture's absolute
coordinates, so results equal the whole-picture network up to float rounding.

Gain: memory. 4032x3024 peaks at 6.44 GB (a whole-picture graph would need ~34 GB), at 1.31x the
per-pixel time of 1280x720 on its own graph (a second picture of that size; quiet 2-core CPU, 2026-12-05,
docs/performance.md). Before, 128x128 tiles took 2.2-2.5x: full-width bands (1.9x) make one call per band
instead of per tile and copy whole rows; keeping the maps' memory (``_Arenas``) brought 1.33x; resizing
whole rows in the upsampling layers and a pixel-weight vector for the statistics (no mask pass) the rest.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import mindspore as ms
from mindspore import Parameter, nn, ops

from animecli import runtime
from animecli.inference import graph_store
from animecli.models.layers import RowTapConv2d, SliceReflectionPad2d

#: Output rows of a band per resolution level (full, half, quarter of the input). At 4032x3024, with the
#: maps' memory kept (``bench_tiles.py``, quiet, 2026-12-05): 32/32/16 10.4 us/pixel (6.27 GB), 64/64/32
#: 9.5 (6.65 GB), 128/128/64 9.35 (8.12 GB, over the 8 GB asked), so 64/64/32 (docs/performance.md).
BAND_ROWS = (64, 64, 32)


@dataclass
class FeatureMap:
    """A stored layer result (C, H, W) and the per-channel transform its consumers apply first."""

    data: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    lrelu: bool
    slot: Optional[Tuple[int, int]] = None  # (arena, offset) behind ``data``; None: memory not ours

    @classmethod
    def plain(cls, data: np.ndarray, slot: Optional[Tuple[int, int]] = None) -> "FeatureMap":
        channels = data.shape[0]
        return cls(data, np.ones(channels, np.float32), np.zeros(channels, np.float32), False, slot)


class _Arenas:
    """Two float32 buffers that hold the layers' output maps, kept from layer to layer and picture to picture.

    Fresh memory is slow to touch: filling a new 3.1 GB map took 10-22 s on the project's VM, filling it
    again 0.17 s (2026-12-05), and freed memory goes back to the system. So a layer writes its output into
    the buffer its input is not in, from the start or after a map that must stay (a residual block's
    input). A buffer grows only when nothing in it must stay, so the two together hold the largest
    consecutive pair of maps (4032x3024: 64 + 32 channels at full resolution).
    """

    def __init__(self):
        self.buffers = [np.empty(0, np.float32), np.empty(0, np.float32)]
        self.scratch = np.empty(0, np.float32)

    def block(self, shape: Tuple[int, ...]) -> np.ndarray:
        """Reused memory for one band's input block (the graph has read the previous one)."""
        size = int(np.prod(shape))
        if size > self.scratch.size:
            self.scratch = np.empty(0, np.float32)
            self.scratch = np.empty(size, np.float32)
        return self.scratch[:size].reshape(shape)

    def place(self, shape: Tuple[int, ...], source: FeatureMap,
              keep: Optional[FeatureMap]) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
        """Memory for an output map of ``shape`` that overlaps neither ``source`` nor ``keep``."""
        index = 1 - source.slot[0] if source.slot else 0
        size = int(np.prod(shape))
        start = 0
        kept = keep is not None and keep.slot is not None and keep.slot[0] == index
        if kept and keep.slot[1] < size:
            start = keep.slot[1] + keep.data.size
        if start + size > self.buffers[index].size:
            if kept:  # what must stay is in the way: this map gets its own memory
                return np.empty(shape, np.float32), None
            self.buffers[index] = np.empty(0, np.float32)  # let the smaller one go first
            self.buffers[index] = np.empty(size, np.float32)
        return self.buffers[index][start:start + size].reshape(shape), (index, start)


class _Stats:
    """Running count / mean / centred sum of squares, merged per band (Chan et al.) in float64."""

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
    """The row-resize inputs of a ``_Tile`` that does not upsample (it ignores them)."""
    index = ms.Tensor(np.zeros(1, np.int32))
    return index, index, ms.Tensor(np.zeros((1, 1, 1, 1), np.float32))


def _param(array: np.ndarray, name: str) -> Parameter:
    return Parameter(ms.Tensor(np.ascontiguousarray(array, np.float32)), name=name, requires_grad=False)


class _Tile(nn.Cell):
    """Input transform (x * scale + shift, optional LeakyReLU), optional upsampling, conv, band statistics.

    An upsampling tile is made for one output width (``upsample_width``): it resizes whole rows, so its
    columns are the whole picture's; its rows come from gathers at the band's absolute coordinates.
    """

    def __init__(self, weight: np.ndarray, bias: Optional[np.ndarray], stride: int, groups: int, lrelu: bool,
                 name: str, upsample_mode: str = "", upsample_width: int = 0):
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
        self.upsample = bool(upsample_mode)
        self.resize = ops.ResizeBilinearV2(align_corners=upsample_mode == "align",
                                           half_pixel_centers=upsample_mode == "half-pixel")
        self.width = upsample_width
        pad = (k - stride) // 2
        self.pad_columns = SliceReflectionPad2d((pad, pad, 0, 0))
        self.out_ch = out_ch

    def construct(self, x, scale, shift, row_lo, row_hi, row_w, valid, inv_count):
        x = x * scale + shift
        if self.lrelu:
            x = ops.maximum(x, x * 0.2)
        if self.upsample:  # bilinear: rows as a lerp of two gathered rows, then whole rows resized
            top = ops.gather(x, row_lo, 2)
            x = top + (ops.gather(x, row_hi, 2) - top) * row_w
            x = self.resize(x, (x.shape[2], self.width))
            x = self.pad_columns(x)
        out = self.conv(x)
        _, c, h, w = out.shape
        # ``valid`` (h * w, 1): 1 for the pixels of the band's valid rows, 0 below them (the last band)
        total = ops.matmul(out.reshape(c, h * w), valid).sum()
        centred = out - total * inv_count
        m2 = ops.matmul((centred * centred).reshape(c, h * w), valid).sum()
        return out, total, m2


class _Head(nn.Cell):
    """The output layer over one band: norm + LeakyReLU of the last block, 1x1 conv, tanh."""

    def __init__(self, weight: np.ndarray):
        super().__init__()
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], 1, pad_mode="valid", has_bias=False)
        self.conv.weight = _param(weight, "out_layer.0.weight")

    def construct(self, x, scale, shift):
        x = x * scale + shift
        return ops.tanh(self.conv(ops.maximum(x, x * 0.2)))


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Reflect (edge not repeated) indices into [0, size); what lies further out is clamped (band overhang)."""
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


def _take(data: np.ndarray, rows: np.ndarray, cols: np.ndarray, block: Optional[np.ndarray] = None) -> np.ndarray:
    """``data[:, rows][:, :, cols]`` as one contiguous (1, C, len(rows), len(cols)) float32 block (written
    into ``block`` when given)."""
    if block is None:
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
    """The AnimeGANv2 generator run layer by layer over bands of rows (see the module docstring).

    ``params`` are our parameter names (as in ``Generator``); ``band_rows`` the output rows of a band at
    full, half and quarter resolution. Call with one NCHW float32 picture in [-1, 1] (batch of 1).
    """

    def __init__(self, params: Dict[str, np.ndarray], upsample: str = "tf", eps: float = 1e-12,
                 band_rows: Tuple[int, int, int] = BAND_ROWS):
        self.params = params
        self.mode = upsample
        self.eps = eps
        self.band_rows = band_rows
        self.graphs: Dict[Tuple[str, tuple], nn.Cell] = {}  # (layer, input shape) -> its graph (``_call``)
        self._cells: Dict[str, nn.Cell] = {}
        self._arenas = _Arenas()
        self.head = _Head(params["out_layer.0.weight"])
        self.head.set_train(False)

    # -- network layout -------------------------------------------------------------------------------
    def _irb(self, index: int) -> List[_Layer]:
        prefix = f"block_c.{index}.layers"
        width = self.params[f"{prefix}.1.1.weight"].shape[0]
        return [_cnl(f"{prefix}.0", 1, 2), _cnl(f"{prefix}.1", 3, 2, groups=width, bias=True),
                _Layer(f"{prefix}.2", f"{prefix}.3", 1, 1, 1, False, 2)]

    def _cell(self, layer: _Layer, lrelu: bool, width: int) -> Tuple[nn.Cell, str]:
        """The layer's cell and its graph name (an upsampling layer's cell is made for one output width)."""
        name = f"{layer.name}-to{width}" if layer.upsample else layer.name
        key = f"{name}:{lrelu}"
        if key not in self._cells:
            bias = self.params.get(f"{layer.name}.bias") if layer.bias else None
            cell = _Tile(self.params[f"{layer.name}.weight"], bias, layer.stride, layer.groups, lrelu, layer.name,
                         self.mode if layer.upsample else "", width if layer.upsample else 0)
            cell.set_train(False)
            self._cells[key] = cell
        return self._cells[key], name

    def _normalise(self, layer: _Layer, raw: np.ndarray, slot: Optional[Tuple[int, int]], stats: _Stats,
                   lrelu: bool) -> FeatureMap:
        scale, shift = stats.normaliser(self.params[f"{layer.norm}.weight"], self.params[f"{layer.norm}.bias"],
                                        self.eps)
        return FeatureMap(raw, scale, shift, lrelu, slot)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or x.shape[0] != 1:
            raise ValueError("TiledGenerator takes one picture: NCHW with N == 1")
        return self._forward(np.ascontiguousarray(x[0], np.float32))

    def release(self) -> None:
        """Let the stored maps' memory go (it is kept for the next picture otherwise)."""
        self._arenas = _Arenas()

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
            feature = self._run(expand, block_input, keep=block_input)
            feature = self._run(project, self._run(depthwise, feature), lrelu=False, keep=block_input)
            feature = self._materialise(feature, block_input if index > 1 else None)
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
        return FeatureMap.plain(data, feature.slot)

    # -- one layer over all its bands -----------------------------------------------------------------
    def _run(self, layer: _Layer, feature: FeatureMap, lrelu: bool = True,
             size: Optional[Tuple[int, int]] = None, keep: Optional[FeatureMap] = None) -> FeatureMap:
        """Run one conv layer (band by band) on a stored map; return its raw output and exact statistics.

        ``keep``: a map that must stay as it is (the input, or a residual block's input). A layer whose
        output has the input's shape writes over its input, each band once the next one has read its
        rows, so it needs no second full-size map.
        """
        source = feature.data
        in_h, in_w = size if layer.upsample else source.shape[1:]
        k, s = layer.kernel, layer.stride
        before = (k - s) // 2
        out_h = (in_h + k - s - k) // s + 1
        out_w = (in_w + k - s - k) // s + 1
        band = self.band_rows[layer.level]
        cell, name = self._cell(layer, feature.lrelu, in_w)
        shape = (cell.out_ch, out_h, out_w)
        in_place = keep is not feature and not layer.upsample and feature.slot is not None and source.shape == shape
        if in_place:
            raw, slot = source, feature.slot
        else:
            raw, slot = self._arenas.place(shape, feature, keep)
        stats = _Stats()
        scale = ms.Tensor(feature.scale.reshape(1, -1, 1, 1))
        shift = ms.Tensor(feature.shift.reshape(1, -1, 1, 1))
        span = (band - 1) * s + k  # input rows of one band
        if layer.upsample:
            rows_map = resize_source(in_h, source.shape[1], self.mode)
        else:
            cols = _reflect(np.arange(-before, (out_w - 1) * s + k - before), in_w)
        weights = None  # the statistics' pixel weights, see ``_Tile``
        held = None  # in place: a finished band, written over its input once the next band has read it
        for top in range(0, out_h, band):
            rows = _reflect(np.arange(top * s - before, top * s - before + span), in_h)
            valid = min(band, out_h - top)
            if valid < band or weights is None:
                weights = ms.Tensor(np.repeat((np.arange(band) < valid).astype(np.float32), out_w).reshape(-1, 1))
            if layer.upsample:
                region, resize = self._upsample_rows(source, rows_map, rows, band)
            else:
                region = _take(source, rows, cols, self._arenas.block((1, source.shape[0], span, len(cols))))
                resize = _no_resize()
            count = cell.out_ch * valid * out_w
            # from_numpy shares the block's memory: ms.Tensor() would copy it (21 ms for a 32 MB block,
            # measured), on the same 2 cores the graph runs on.
            inputs = (ms.Tensor.from_numpy(region), scale, shift, *resize, weights,
                      ms.Tensor(np.array([1.0 / count], np.float32)))
            if held is not None:
                raw[:, held[0]:held[0] + band] = held[1]
                held = None
            out, total, m2 = self._call(cell, name, inputs)
            result = out.asnumpy()[0, :, :valid]
            stats.add(count, float(total.asnumpy()), float(m2.asnumpy()))
            if in_place:
                held = (top, result, out)  # ``out`` keeps the memory behind ``result``
            else:
                raw[:, top:top + valid] = result
        if held is not None:
            raw[:, held[0]:] = held[1]
        return self._normalise(layer, raw, slot, stats, lrelu)

    def _upsample_rows(self, source: np.ndarray, rows_map, rows: np.ndarray, band: int):
        """The source rows an upsampled band needs (full width) and the row-resize inputs of ``_Tile``: the
        lower and upper source row of each output row (in the block) and the upper's weight."""
        lower, upper, weight = rows_map
        length = band // 2 + 4  # source rows behind a band + 2 upsampled rows, for a ~2x upsampling
        lo, hi = lower[rows], upper[rows]
        start = max(0, min(int(lo.min()), source.shape[1] - length))
        if hi.max() - start >= length:
            raise ValueError("upsampling ratio too large for the band layout")
        lines = (ms.Tensor((lo - start).astype(np.int32)), ms.Tensor((hi - start).astype(np.int32)),
                 ms.Tensor(weight[rows].astype(np.float32).reshape(1, 1, -1, 1)))
        block_rows = np.clip(np.arange(start, start + length), 0, source.shape[1] - 1)
        block = self._arenas.block((1,) + source.shape[:1] + (length,) + source.shape[2:])
        return _take(source, block_rows, np.arange(source.shape[2]), block), lines

    def _call(self, cell: nn.Cell, key: str, inputs):
        """``cell(*inputs)`` through its graph from the graph store (exported once, loaded every run)."""
        shapes = tuple(tuple(tensor.shape) for tensor in inputs)
        graph = self.graphs.get((key, shapes))
        if graph is not None:
            return graph(*inputs)
        with runtime.compiling():
            graph, result = graph_store.load_and_run(cell, inputs, graph_store.graph_key(f"tile-{key}", inputs))
        self.graphs[(key, shapes)] = graph
        return result

    def _head(self, feature: FeatureMap) -> np.ndarray:
        source = feature.data
        _, height, width = source.shape
        band = self.band_rows[0]
        output = np.empty((1, 3, height, width), np.float32)
        scale = ms.Tensor(feature.scale.reshape(1, -1, 1, 1))
        shift = ms.Tensor(feature.shift.reshape(1, -1, 1, 1))
        cols = np.arange(width)
        for top in range(0, height, band):
            rows = np.clip(np.arange(top, top + band), 0, height - 1)
            valid = min(band, height - top)
            block = _take(source, rows, cols, self._arenas.block((1, source.shape[0], band, width)))
            out = self._call(self.head, "head", (ms.Tensor.from_numpy(block), scale, shift))
            output[0, :, top:top + valid] = out.asnumpy()[0, :, :valid]
        return output
