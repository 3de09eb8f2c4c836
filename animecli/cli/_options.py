"""Option definitions shared by several commands, so each is spelled the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Device = Annotated[
    str,
    typer.Option("--device", "-d", help="Where to run: auto (best available), cpu, gpu or ascend.",
                 case_sensitive=False),
]
Weights = Annotated[
    Optional[Path],
    typer.Option("--weights", "-w", help="A generator checkpoint: our .ckpt, a PyTorch .pt, or a TF1 "
                 "checkpoint (prefix, .index/.data file or its folder).", show_default=False),
]
Style = Annotated[
    Optional[str],
    typer.Option("--style", "-s", help="A named pretrained style (see `anime download-weights --list`) "
                 "or a training run folder. Default: Hayao.", show_default=False),
]
Upsample = Annotated[
    Optional[str],
    typer.Option("--upsample", help="Override the upsampling mode stored with the weights: "
                 "tf, align or half-pixel.", show_default=False),
]
MaxSize = Annotated[
    Optional[int],
    typer.Option("--max-size", min=32, help="Process at most this many pixels on the long side "
                 "(faster, less memory); the output is brought back to the input size.",
                 show_default=False),
]
Brightness = Annotated[
    bool,
    typer.Option("--brightness", help="Match the output's brightness to the input's."),
]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Replace outputs that already exist."),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars or summaries, only errors."),
]
CacheDir = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", help="Weights cache folder (default: $ANIME_HOME or ~/.cache/animecli).",
                 show_default=False, envvar="ANIME_HOME"),
]
Workers = Annotated[
    Optional[int],
    typer.Option("--workers", "-j", min=1, help="Files processed in parallel, one process each "
                 "(default: all cores).", show_default=False),
]
