"""``anime brightness``: match pictures' brightness to reference pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from animecli.cli import _console
from animecli.cli._options import Overwrite, Quiet, Workers


def command(
    source: Annotated[Path, typer.Argument(
        metavar="SOURCE", help="The picture (or folder) whose brightness to copy.", show_default=False)],
    target: Annotated[Path, typer.Argument(
        metavar="TARGET", show_default=False,
        help="The picture (or folder, matched to SOURCE by file stem) to adjust.")],
    output: Annotated[Path, typer.Argument(
        metavar="OUTPUT", help="The adjusted picture (format from its suffix), or a folder for folder inputs.",
        show_default=False)],
    workers: Workers = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Scale TARGET's colours so its average brightness matches SOURCE's."""
    from animecli.pipelines.brightness import match_brightness_paths

    result = match_brightness_paths(source, target, output, workers=workers, overwrite=overwrite,
                                    reporter=_console.RichReporter(quiet))
    _console.print_summary("anime brightness", len(result.done), result.skipped, result.failed, result.seconds,
                           quiet=quiet)
    if result.failed:
        raise typer.Exit(1)
