"""``anime brightness``: match pictures' brightness to reference pictures."""

from __future__ import annotations

from pathlib import Path

import typer
from typing_extensions import Annotated

from animecli.cli._options import Overwrite, Quiet, Workers


def command(
    source: Annotated[Path, typer.Argument(
        help="The picture (or folder) whose brightness to copy.", show_default=False)],
    target: Annotated[Path, typer.Argument(
        help="The picture (or folder, matched to SOURCE by file stem) to adjust.", show_default=False)],
    output: Annotated[Path, typer.Argument(
        help="The adjusted picture (format from its suffix), or a folder for folder inputs.",
        show_default=False)],
    workers: Workers = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Scale TARGET's colours so its average brightness matches SOURCE's."""
    from animecli.cli._console import RichReporter
    from animecli.cli._summary import report_batch
    from animecli.pipelines.brightness import match_brightness_paths

    result = match_brightness_paths(source, target, output, workers=workers, overwrite=overwrite,
                                    reporter=RichReporter(quiet))
    raise typer.Exit(report_batch(result, quiet))
