"""``anime brightness``: match targets' brightness to their sources' (single files or folders by stem)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

import cv2

from animecli.errors import InvalidInputError
from animecli.ops.brightness import average_brightness, match_brightness
from animecli.pipelines._batch import DONE, OUTPUT_EXISTS, BatchResult, run_batch
from animecli.pipelines._bgr_files import is_image_path, read_bgr, scan_folder, write_bgr
from animecli.progress import NullReporter, Reporter


def _match_file(source: Path, target: Path, output: Path) -> tuple:
    source_rgb = cv2.cvtColor(read_bgr(source), cv2.COLOR_BGR2RGB)
    target_rgb = cv2.cvtColor(read_bgr(target), cv2.COLOR_BGR2RGB)
    adjusted = match_brightness(source_rgb, target_rgb)
    write_bgr(output, cv2.cvtColor(adjusted, cv2.COLOR_RGB2BGR))
    if average_brightness(target_rgb) == 0:
        return DONE, output, f"{target}: all black, copied unchanged (its brightness cannot be scaled)"
    return DONE, output


def _by_stem(files: List[Path]) -> Dict[str, List[Path]]:
    stems: Dict[str, List[Path]] = defaultdict(list)
    for path in files:
        stems[path.stem].append(path)
    return stems


def _plan_folders(source: Path, target: Path, output: Path, result: BatchResult, reporter: Reporter) -> list:
    """Pairs (source, target, output) by file stem; one-sided stems and other files are reported."""
    source_images, source_others = scan_folder(source)
    target_images, target_others = scan_folder(target)
    for item, reason in source_others + target_others:
        result.skip(item, reason, reporter)
    sources, targets = _by_stem(source_images), _by_stem(target_images)
    pairs = []
    for stem in sorted(set(sources) | set(targets)):
        if stem not in targets:
            result.skip(sources[stem][0], f"no target named {stem}.* in {target}", reporter)
        elif stem not in sources:
            result.skip(targets[stem][0], f"no source named {stem}.* in {source}", reporter)
        elif len(sources[stem]) > 1 or len(targets[stem]) > 1:
            names = ", ".join(p.name for p in sources[stem] + targets[stem])
            result.failed.append((targets[stem][0], f"{stem}: ambiguous, several files share the stem ({names})"))
        else:
            target_file = targets[stem][0]
            pairs.append((sources[stem][0], target_file, output / target_file.name))
    return pairs


def _check_single(source: Path, target: Path, output: Path) -> Path:
    if output.is_dir():
        output = output / target.name
    if not is_image_path(output):
        raise InvalidInputError(f"{output}: unsupported output format {output.suffix!r}")
    if output.resolve() in (source.resolve(), target.resolve()):
        raise InvalidInputError(f"{output}: the output is an input (inputs are never overwritten)")
    return output


def match_brightness_paths(source: Path, target: Path, output: Path, *, workers: Optional[int] = None,
                           overwrite: bool = False, reporter: Optional[Reporter] = None) -> BatchResult:
    """Write ``target`` with ``source``'s brightness to ``output``: two files, or two folders by stem.

    With folders, each target's output keeps its file name inside ``output``. Existing outputs are
    skipped unless ``overwrite``; all-black targets are copied unchanged with a warning.
    """
    reporter = reporter or NullReporter()
    source, target, output = Path(source), Path(target), Path(output)
    for path in (source, target):
        if not path.exists():
            raise InvalidInputError(f"{path}: no such file or folder")
    result = BatchResult()
    if source.is_dir() and target.is_dir():
        if output.resolve() in (source.resolve(), target.resolve()):
            raise InvalidInputError(f"{output}: the output folder is an input folder (inputs are never overwritten)")
        if output.exists() and not output.is_dir():
            raise InvalidInputError(f"{output}: exists and is not a folder")
        pairs = _plan_folders(source, target, output, result, reporter)
        output_dir = output
    elif source.is_file() and target.is_file():
        pairs = [(source, target, _check_single(source, target, output))]
        output_dir = pairs[0][2].parent
    else:
        raise InvalidInputError(f"{source} and {target}: give two files or two folders")
    tasks = []
    for source_file, target_file, output_file in pairs:
        if output_file.exists() and not overwrite:
            result.skip(target_file, OUTPUT_EXISTS, reporter, warn=False)
        else:
            tasks.append((target_file, (source_file, target_file, output_file)))
    if tasks:
        output_dir.mkdir(parents=True, exist_ok=True)
    return run_batch(_match_file, tasks, result, workers=workers, reporter=reporter,
                     description="Matching brightness")
