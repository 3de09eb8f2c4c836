"""Write the generator, from any weights we load, as ONNX or MindIR for other runtimes.

Both formats take one fixed input size (``--size``): MindSpore 2.8's ONNX exporter accepts neither
MirrorPad nor ResizeBilinearV2 (in any form: tuple, tensor or ``ops.interpolate`` sizes), so the ONNX
graph pads with slices and resizes with two constant interpolation matrices, and those matrices depend on
the size. MindIR keeps the inference network itself, at the same fixed size, so both files behave alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import numpy as np

from animecli.errors import InvalidInputError
from animecli.weights.generator_ckpt import GeneratorWeights

FORMATS = {".onnx": "ONNX", ".mindir": "MINDIR"}
DEFAULT_SIZE = (256, 256)
MIN_SIDE = 8


@dataclass(frozen=True)
class ExportResult:
    """What was written: the file, its format, the fixed input size and the weights' settings."""

    path: Path
    file_format: str
    size: Tuple[int, int]
    upsample: str
    eps: float


def parse_size(text: str) -> Tuple[int, int]:
    """``"HxW"`` (or one number for a square) -> (height, width)."""
    parts = text.lower().split("x")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2:
        raise InvalidInputError(f"--size {text!r}: give HEIGHTxWIDTH, e.g. 256x256")
    return numbers[0], numbers[1]


def format_for(output: Path) -> str:
    """The export format named by the output's suffix (``.onnx`` or ``.mindir``)."""
    suffix = Path(output).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInputError(f"{output}: unknown export format {suffix or '(no suffix)'!r}; "
                                f"name the file .onnx or .mindir")
    return FORMATS[suffix]


def check_size(size: Tuple[int, int], upsample: str) -> None:
    """Refuse sizes the network cannot return unchanged: too small, or (tf, half-pixel) not multiples of 4."""
    height, width = size
    if min(height, width) < MIN_SIDE:
        raise InvalidInputError(f"--size {height}x{width}: at least {MIN_SIDE} pixels a side")
    if upsample != "align" and (height % 4 or width % 4):
        raise InvalidInputError(f"--size {height}x{width}: weights in {upsample} mode need multiples of 4 "
                                "(the network doubles sizes twice after halving them twice)")


def export_generator(weights: GeneratorWeights, output: Path, size: Tuple[int, int] = DEFAULT_SIZE) -> ExportResult:
    """Write ``weights`` as an ONNX or MindIR model (by ``output``'s suffix) for ``size`` (H, W) inputs.

    The file appears only when complete (temporary file, then rename).
    """
    import mindspore as ms

    from animecli.models.export_graph import exportable_generator
    from animecli.models.generator import Generator, load_generator_params
    from animecli.models.layers import export_friendly
    from animecli.ms_export import export_to

    output = Path(output)
    file_format = format_for(output)
    meta = weights.meta
    check_size(size, meta.upsample)
    network = Generator(upsample=meta.upsample, eps=meta.eps)
    network.set_train(False)
    load_generator_params(network, weights)
    if file_format == "ONNX":
        network = exportable_generator(export_friendly(network), size)
    example = ms.Tensor(np.zeros((1, 3, *size), np.float32))
    export_to(network, [example], output, file_format)
    return ExportResult(output, file_format, tuple(size), meta.upsample, meta.eps)
