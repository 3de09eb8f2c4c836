"""``anime export``: write the generator as ONNX or MindIR for other runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from animecli.cli import _console, _options
from animecli.errors import InvalidInputError


def command(
    output: Annotated[Path, typer.Argument(metavar="OUTPUT", show_default=False,
                                           help="The model file to write: NAME.onnx or NAME.mindir.")],
    weights: _options.Weights = None,
    style: Annotated[Optional[str], typer.Option(
        "--style", "-s", help="A named pretrained style (see `anime download-weights --list`) or a training "
        "run folder.", show_default=False)] = None,
    upsample: _options.Upsample = None,
    size: Annotated[str, typer.Option("--size", help="The fixed input size HEIGHTxWIDTH the model takes "
                                      "(multiples of 4 unless the weights use align mode).")] = "256x256",
    overwrite: _options.Overwrite = False,
    cache_dir: _options.CacheDir = None,
    quiet: _options.Quiet = False,
) -> None:
    """Export the generator for other runtimes: [bold]anime export hayao.onnx --style Hayao[/]."""
    from animecli.export import check_size, format_for, parse_size

    file_format = format_for(output)  # refuse an unknown suffix before loading anything
    height, width = parse_size(size)
    if output.exists() and not overwrite:
        raise InvalidInputError(f"{output} already exists (add --overwrite to replace it)")
    if weights is None and style is None:
        raise InvalidInputError("give the weights to export: --style NAME or --weights FILE")
    from animecli.weights.resolve import load_generator_weights

    loaded = load_generator_weights(weights=weights, style=style, upsample=upsample, cache_dir=cache_dir,
                                    reporter=_console.RichReporter(quiet=quiet))
    check_size((height, width), loaded.meta.upsample)
    from animecli.export import export_generator

    result = export_generator(loaded, output, (height, width))
    _console.info(f"wrote {result.path}: {file_format}, input 1x3x{height}x{width} "
                  f"(NCHW float32 RGB in [-1, 1]), {loaded.meta.name} weights, upsample "
                  f"{result.upsample}", quiet=quiet)
