"""``anime brightness``: match targets' brightness to their sources' (single files or folders by stem)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from animecli import files, images
from animecli.errors import InvalidInputError
from animecli.ops.brightness import average_brightness, match_brightness
from animecli.pipelines._batch import BatchResult, run_batch
from animecli.pipelines._bgr_files import scan_folder
from animecli.progress import Reporter

Task = Tuple[Path, Path, Tuple[Path, Path]]  # target, output, (source, target): see run_batch


def _match_file(output: Path, source: Path, target: Path) -> tuple:
    picture = images.load_picture(target)
    adjusted = match_brightness(images.read_image(source), picture.rgb)
    images.write_image(output, adjusted, alpha=picture.alpha)
    if average_brightness(picture.rgb) == 0:
        return (f"{target}: all black, written unchanged (its brightness cannot be scaled)",)
    return ()


def _by_stem(paths: List[Path]) -> Dict[str, List[Path]]:
    stems: Dict[str, List[Path]] = defaultdict(list)
    for path in paths:
        stems[path.stem].append(path)
    return stems


def _plan_folders(source: Path, target: Path, output: Path, result: BatchResult) -> List[Task]:
    """Pairs by file stem; other files, stems on one side only and ambiguous stems go to ``result``."""
    if output.resolve() in (source.resolve(), target.resolve()):
        raise InvalidInputError(f"{output}: the output folder is an input folder (inputs are never overwritten)")
    if output.exists() and not output.is_dir():
        raise InvalidInputError(f"{output}: exists and is not a folder")
    source_images, source_others = scan_folder(source)
    target_images, target_others = scan_folder(target)
    result.skipped.extend(source_others + target_others)
    sources, targets = _by_stem(source_images), _by_stem(target_images)
    tasks = []
    for stem in sorted(set(sources) | set(targets)):
        if stem not in targets:
            result.skipped.append((sources[stem][0], f"no target named {stem}.* in {target}"))
        elif stem not in sources:
            result.skipped.append((targets[stem][0], f"no source named {stem}.* in {source}"))
        elif len(sources[stem]) > 1 or len(targets[stem]) > 1:
            names = ", ".join(p.name for p in sources[stem] + targets[stem])
            result.failed.append((targets[stem][0], f"ambiguous stem {stem!r}: several files share it ({names})"))
        else:
            source_file, target_file = sources[stem][0], targets[stem][0]
            tasks.append((target_file, output / target_file.name, (source_file, target_file)))
    return tasks


def _plan_files(source: Path, target: Path, output: Path) -> List[Task]:
    if output.is_dir():
        output = output / target.name
    if not images.is_image_path(output):
        raise InvalidInputError(f"{output}: unsupported output format {output.suffix!r} "
                                f"(use one of {', '.join(images.IMAGE_SUFFIXES)})")
    if output.resolve() in (source.resolve(), target.resolve()):
        raise InvalidInputError(f"{output}: the output is an input (inputs are never overwritten)")
    return [(target, output, (source, target))]


def match_brightness_paths(source: Path, target: Path, output: Path, *, workers: Optional[int] = None,
                           overwrite: bool = False, reporter: Optional[Reporter] = None) -> BatchResult:
    """Write ``target`` with ``source``'s brightness to ``output``: two files, or two folders by stem.

    With folders, each output keeps its target's file name inside ``output``; a target's alpha channel
    is kept. Existing outputs are skipped unless ``overwrite``; all-black targets are written unchanged
    with a warning.
    """
    source, target, output = Path(source), Path(target), Path(output)
    for path in (source, target):
        if not path.exists():
            raise InvalidInputError(f"{path}: no such file or folder")
    result = BatchResult()
    if source.is_dir() and target.is_dir():
        tasks = _plan_folders(source, target, output, result)
    elif source.is_file() and target.is_file():
        tasks = _plan_files(source, target, output)
    else:
        raise InvalidInputError(f"{source}, {target}: give two files or two folders")
    files.check_writable_folders(output.parent for _, output, _ in tasks)
    return run_batch(_match_file, tasks, result, overwrite=overwrite, workers=workers, reporter=reporter,
                     description="Matching brightness")
