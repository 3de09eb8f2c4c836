"""``anime smooth``: edge-smooth a folder of style images into a ``smooth`` folder (same file names)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

from animecli import files
from animecli.errors import InvalidInputError
from animecli.ops.smooth import edge_smooth
from animecli.pipelines._batch import BatchResult, run_batch
from animecli.pipelines._bgr_files import read_bgr, scan_folder, write_bgr
from animecli.progress import Reporter


def resolve_folders(style_dir: Path, output: Optional[Path] = None) -> Tuple[Path, Path]:
    """``STYLE_DIR/style`` -> ``STYLE_DIR/smooth`` (or ``output``); a plain image folder needs ``output``."""
    style_dir = Path(style_dir)
    if not style_dir.is_dir():
        raise InvalidInputError(f"{style_dir}: no such folder")
    if (style_dir / "style").is_dir():
        source, target = style_dir / "style", Path(output) if output else style_dir / "smooth"
    elif output is None:
        raise InvalidInputError(f"{style_dir} has no style/ subfolder",
                                hint="to smooth the images in it directly, name a folder with --output DIR")
    else:
        source, target = style_dir, Path(output)
    if target.resolve() == source.resolve():
        raise InvalidInputError(f"{target}: the output folder is the input folder (inputs are never overwritten)")
    if target.exists() and not target.is_dir():
        raise InvalidInputError(f"{target}: exists and is not a folder")
    return source, target


def _smooth_file(output: Path, source: Path, size: int) -> tuple:
    write_bgr(output, edge_smooth(read_bgr(source), size))
    return ()


def smooth_folder(source: Path, target: Path, *, size: int = 256, workers: Optional[int] = None,
                  overwrite: bool = False, reporter: Optional[Reporter] = None) -> BatchResult:
    """Edge-smooth every image of ``source`` into ``target`` (``size`` 0 keeps each image's size).

    ``target`` must be creatable and writable (checked first). Existing outputs are skipped unless
    ``overwrite``; other files are skipped and reported;
    unreadable images fail without stopping the others. Runs ``workers`` processes (default: all cores).
    """
    if size < 0:
        raise InvalidInputError(f"--size must be 0 (keep each image's size) or positive, got {size}")
    images, others = scan_folder(Path(source))
    files.check_writable_folders([Path(target)])
    result = BatchResult(skipped=list(others))
    tasks = [(image, Path(target) / image.name, (image, size)) for image in images]
    return run_batch(_smooth_file, tasks, result, overwrite=overwrite, workers=workers, reporter=reporter,
                     description="Smoothing")
