"""``anime smooth``: prepare a style's ``smooth`` folder (edge-smoothed style images) for training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from animecli.cli import _console
from animecli.cli._options import Overwrite, Quiet, Workers


def command(
    style_dir: Annotated[Path, typer.Argument(
        metavar="STYLE_DIR", show_default=False,
        help="A style folder holding style/ (smooth/ is written beside it), or with --output a folder of images.")],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Where to write the smoothed images (default: STYLE_DIR/smooth).",
        show_default=False)] = None,
    size: Annotated[int, typer.Option(
        "--size", min=0, help="Resize every image to SIZE x SIZE first; 0 keeps each image's size.")] = 256,
    workers: Workers = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Edge-smooth style images (AnimeGANv2's edge_smooth), same file names, for training."""
    from animecli.pipelines.smooth import resolve_folders, smooth_folder

    source, target = resolve_folders(style_dir, output)
    _console.info(f"smoothing {source} -> {target}", quiet)
    result = smooth_folder(source, target, size=size, workers=workers, overwrite=overwrite,
                           reporter=_console.RichReporter(quiet))
    _console.print_summary("anime smooth", len(result.done), result.skipped, result.failed, result.seconds,
                           quiet=quiet)
    if result.failed:
        raise typer.Exit(1)
