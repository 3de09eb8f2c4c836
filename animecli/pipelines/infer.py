"""``anime infer``: plan input -> output pairs, then stylize them with read/write overlapping compute."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Deque, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from animecli import files, images
from animecli.errors import AnimeError, InvalidInputError
from animecli.inference.stylizer import StylizeSettings
from animecli.progress import NullReporter, Reporter

if TYPE_CHECKING:
    from animecli.cluster import Cluster


@dataclass(frozen=True)
class Job:
    """One picture to stylize: where it comes from and where the result goes."""

    source: Path
    target: Path


@dataclass
class InferResult:
    """What happened to each input."""

    done: List[Job] = field(default_factory=list)
    skipped: List[Tuple[Path, str]] = field(default_factory=list)
    failed: List[Tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class InferOptions:
    """Everything ``anime infer`` was asked, from the command line down: which inputs, the output
    choices, the largest picture it reads (see ``images.load_picture``) and the engine's settings."""

    engine: StylizeSettings = StylizeSettings()
    recursive: bool = False
    ext: Optional[str] = None
    quality: int = 95
    overwrite: bool = False
    side_by_side: bool = False
    max_megapixels: float = images.DEFAULT_MAX_MEGAPIXELS


def _normalise_ext(ext: Optional[str]) -> Optional[str]:
    if not ext:
        return None
    ext = ext.lower() if ext.startswith(".") else "." + ext.lower()
    if ext not in images.IMAGE_SUFFIXES:
        raise InvalidInputError(f"unsupported --ext {ext!r}: choose one of {', '.join(images.IMAGE_SUFFIXES)}")
    return ext


def _folder_images(folder: Path, recursive: bool) -> List[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))


def expand_inputs(inputs: Sequence[str], recursive: bool) -> List[Tuple[Path, Path]]:
    """Expand files, folders and glob patterns into (file, path relative to the output folder) pairs.

    Files in a folder keep their sub-folder path; single files and glob matches keep only their name.
    Non-image files found in folders are returned too (they are reported and skipped later).
    Paths are made absolute: graph compilation briefly switches the working directory (see
    ``runtime.compiling``) while the reader and writer threads are busy.
    """
    pairs: List[Tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item).expanduser().absolute()
        if path.is_dir():
            for file in _folder_images(path, recursive):
                pairs.append((file, file.relative_to(path)))
        elif path.is_file():
            pairs.append((path, Path(path.name)))
        elif glob.has_magic(item):
            matches = sorted(Path(m).absolute() for m in glob.glob(os.path.expanduser(item), recursive=recursive))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise InvalidInputError(f"{item}: the pattern matches no file")
            pairs.extend((m, Path(m.name)) for m in files)
        else:
            raise InvalidInputError(f"{item}: no such file or folder")
    return pairs


class JobPlan(NamedTuple):
    """What ``plan_jobs`` decided: the jobs, the inputs refused (failures) and those skipped (non-pictures
    found in folders or by patterns), each with the reason."""

    jobs: List[Job]
    refused: List[Tuple[Path, str]]
    skipped: List[Tuple[Path, str]]


def plan_jobs(inputs: Sequence[str], output: Union[str, Path], options: InferOptions = InferOptions()) -> JobPlan:
    """Decide every output path (all absolute) and check that the output folders can be written.

    Pictures whose header shows more than ``options.max_megapixels`` without a ``max_size``, or
    more than OpenCV decodes, are refused here, before any model work.

    ``output`` is a file when it has a picture suffix and is not an existing folder: the only input
    must then be one file. Otherwise it is a folder that mirrors the inputs' sub-folders, with the same
    stems and ``options.ext`` (default: kept); a name with another suffix is refused as a likely typo unless it
    is an existing folder or ends with a slash.
    """
    suffix = _normalise_ext(options.ext)
    pairs = expand_inputs(inputs, options.recursive)
    named_files = {Path(i).expanduser().absolute() for i in inputs if Path(i).expanduser().is_file()}
    to_file = _output_is_file(inputs, output)
    output = Path(output).expanduser().absolute()
    if to_file:
        pairs = [(pairs[0][0], None)]
    sources = {p.resolve() for p, _ in pairs}
    plan = JobPlan([], [], [])
    claimed = {}
    for source, relative in pairs:
        if not images.is_image_path(source):
            (plan.refused if source in named_files else plan.skipped).append(
                (source, "not an image file (by its suffix)"))
            continue
        try:
            images.check_size(source, images.peek_size(source), options.max_megapixels,
                               options.engine.max_size)
        except InvalidInputError as err:
            plan.refused.append((source, str(err)))
            continue
        if relative is None:
            target = output
        else:
            target = output / relative.with_suffix(suffix or source.suffix.lower())
        resolved = target.resolve()
        if resolved in sources:
            plan.refused.append((source, f"its output {target} would overwrite an input"))
        elif resolved in claimed:
            plan.refused.append((source, f"its output {target} is also the output of {claimed[resolved]}"))
        else:
            claimed[resolved] = source
            plan.jobs.append(Job(source, target))
    files.check_writable_folders(job.target.parent for job in plan.jobs)
    return plan


def _output_is_file(inputs: Sequence[str], output: Union[str, Path]) -> bool:
    """Whether OUTPUT names a picture file; raises for a suffix that is no picture format, or for a
    picture file name given several inputs."""
    text = str(output)
    path = Path(text).expanduser()
    if text.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        return False
    formats = ", ".join(images.IMAGE_SUFFIXES)
    if not images.is_image_path(path):
        raise InvalidInputError(f"{text}: unknown picture format {path.suffix!r} (use one of {formats})",
                                hint=f"to write into a folder of that name, end it with a slash: {text}/")
    if len(inputs) != 1 or not Path(inputs[0]).expanduser().is_file():
        raise InvalidInputError(f"{text}: a file name, but several pictures would go there",
                                hint="name an output folder for several inputs, a folder or a pattern")
    return True


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if left.shape != right.shape:
        left = images.resize_to(left, right.shape[1], right.shape[0])
    return np.concatenate([left, right], axis=1)


def is_skipped(job: Job, options: InferOptions) -> bool:
    """Whether ``run_infer`` skips the job: its output exists and ``overwrite`` is off."""
    return job.target.exists() and not options.overwrite


def split_done(jobs: Sequence[Job], options: InferOptions) -> Tuple[List[Job], List[Tuple[Path, str]]]:
    """``(pending, skipped)``: the jobs to run, and those ``is_skipped`` leaves alone, with the reason."""
    pending, skipped = [], []
    for job in jobs:
        if is_skipped(job, options):
            skipped.append((job.source, f"{job.target} exists (use --overwrite)"))
        else:
            pending.append(job)
    return pending, skipped


def run_infer(jobs: Sequence[Job], stylize: Callable[[np.ndarray], np.ndarray], options: InferOptions,
              reporter: Optional[Reporter] = None, refused: Sequence[Tuple[Path, str]] = (),
              skipped: Sequence[Tuple[Path, str]] = ()) -> InferResult:
    """Stylize every job: decoding runs ahead and writing runs behind the computation.

    Failures are recorded in the result, not reported as warnings: the caller's summary lists each once.
    """
    reporter = reporter or NullReporter()
    started = time.perf_counter()
    todo, done_before = split_done(jobs, options)
    result = InferResult(failed=list(refused), skipped=list(skipped) + done_before)
    reporter.start("Stylizing", total=len(todo), unit="img")
    lock = threading.Lock()

    def done(job: Job) -> None:
        with lock:
            result.done.append(job)
        reporter.advance(1)

    def failed(job: Job, message: str) -> None:
        with lock:
            result.failed.append((job.source, message))
        reporter.advance(1)

    stylize_jobs(todo, stylize, options, done, failed)
    reporter.stop()
    result.seconds = time.perf_counter() - started
    return result


def job_costs(jobs: Sequence[Job], max_size: Optional[int] = None) -> List[int]:
    """The pixels the network processes for each job (header size after ``max_size``), for sharing out work.

    A picture whose header gives no size (not PNG or JPEG, or unreadable) counts as the mean of the others,
    or 1 MP when none has one: the costs depend on the files alone, so every worker computes the same.
    """
    sizes = [images.peek_size(job.source) for job in jobs]
    pixels = [w * h for w, h in (images.max_side_size(*size, max_size) for size in sizes if size)]
    fallback = round(sum(pixels) / len(pixels)) if pixels else 1_000_000
    known = iter(pixels)
    return [next(known) if size else fallback for size in sizes]


def partition(costs: Sequence[int], world_size: int) -> List[List[int]]:
    """Share jobs out over ``world_size`` workers by cost: each worker's job indices, in planned order.

    Greedy: the costliest job first (ties: the earlier index) goes to the least-loaded worker (ties: the
    lower rank). A function of its arguments alone, so every worker computes the same shares.
    """
    shares: List[List[int]] = [[] for _ in range(world_size)]
    loads = [0] * world_size
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        shares[rank].append(index)
        loads[rank] += costs[index]
    return [sorted(share) for share in shares]


def run_infer_distributed(jobs: Sequence[Job], stylize: Callable[[np.ndarray], np.ndarray], options: InferOptions,
                          cluster: "Cluster", reporter: Optional[Reporter] = None,
                          refused: Sequence[Tuple[Path, str]] = (),
                          skipped: Sequence[Tuple[Path, str]] = ()) -> InferResult:
    """``run_infer`` over the workers of a cluster: each stylizes and writes its own share of the jobs.

    Every worker plans the same jobs and decides which outputs already exist; the workers then compare a
    digest of that plan (which also waits until every worker has looked, so none sees another's new
    outputs) and refuse to go on when they differ. The pending jobs are shared out by ``partition``; at
    the end every worker gathers what all did, and returns the whole cluster's result.
    """
    started = time.perf_counter()
    pending, done_before = split_done(jobs, options)
    skipped = list(skipped) + done_before
    costs = job_costs(pending, options.engine.max_size)
    plan = json.dumps([[str(j.source), str(j.target), c] for j, c in zip(pending, costs)]
                      + [str(path) for path, _ in skipped]).encode()
    if len(set(cluster.gather_bytes(hashlib.sha256(plan).digest()))) > 1:
        raise InvalidInputError(
            "the workers found different pictures to do",
            hint="every machine needs the same inputs and the same (shared) output folder, at the same paths")
    share = [pending[i] for i in partition(costs, cluster.world_size)[cluster.rank]]
    mine = run_infer(share, stylize, options, reporter=reporter)
    report = {"done": [[str(j.source), str(j.target)] for j in mine.done],
              "failed": [[str(p), r] for p, r in mine.failed], "skipped": [[str(p), r] for p, r in mine.skipped]}
    result = InferResult(failed=list(refused), skipped=skipped)
    for data in cluster.gather_bytes(json.dumps(report).encode()):
        part = json.loads(data)
        result.done.extend(Job(Path(s), Path(t)) for s, t in part["done"])
        result.failed.extend((Path(p), r) for p, r in part["failed"])
        result.skipped.extend((Path(p), r) for p, r in part["skipped"])
    result.seconds = time.perf_counter() - started
    return result


#: Pictures decoded ahead of the one being stylized, so reading overlaps the computation.
_DECODE_AHEAD = 2


def stylize_jobs(jobs: Sequence[Job], stylize: Callable[[np.ndarray], np.ndarray], options: InferOptions,
                 done: Callable[[Job], None], failed: Callable[[Job, str], None]) -> None:
    """Stylize ``jobs`` in order; every job ends in ``done`` or ``failed``.

    Pictures are decoded ``_DECODE_AHEAD`` jobs in advance in one thread and written in another (at most
    a couple of results wait for the disk). One bad picture fails that job only.
    """
    def write(job: Job, picture: images.Picture, styled: np.ndarray) -> None:
        try:
            alpha = picture.alpha if styled.shape[:2] == picture.rgb.shape[:2] else None
            if options.side_by_side:
                styled, alpha = _side_by_side(picture.rgb, styled), None
            images.write_image(job.target, styled, options.quality, alpha)
        except (AnimeError, OSError) as err:
            failed(job, _message(job, err))
        else:
            done(job)

    with ThreadPoolExecutor(1, thread_name_prefix="anime-read") as reader, \
            ThreadPoolExecutor(1, thread_name_prefix="anime-write") as writer:
        pending = iter(jobs)
        claimed: Deque[Tuple[Job, Future]] = deque()
        writes: Deque[Future] = deque()
        while True:
            for job in islice(pending, _DECODE_AHEAD + 1 - len(claimed)):
                claimed.append((job, reader.submit(images.load_picture, job.source, options.max_megapixels,
                                                   options.engine.max_size)))
            if not claimed:
                break
            job, loading = claimed.popleft()
            try:
                picture = loading.result()
                styled = stylize(picture.rgb)
            except Exception as err:  # noqa: BLE001 - one bad picture must not stop the batch
                failed(job, _message(job, err))
                continue
            if len(writes) >= 2:
                writes.popleft().result()
            writes.append(writer.submit(write, job, picture, styled))
        for future in writes:
            future.result()


def _message(job: Job, err: Exception) -> str:
    """A one-line error that names the file (AnimeError messages already do)."""
    return str(err) if isinstance(err, AnimeError) else f"{job.source}: {err}"
