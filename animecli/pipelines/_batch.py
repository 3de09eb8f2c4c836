"""Running one function over many files, in a process pool, with progress and a result summary."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from animecli.errors import AnimeError
from animecli.progress import NullReporter, Reporter

OUTPUT_EXISTS = "output exists (--overwrite replaces it)"


@dataclass
class BatchResult:
    """What a batch did: written outputs, skipped and failed inputs (with the reason), warnings, wall time."""

    done: List[Path] = field(default_factory=list)
    skipped: List[Tuple[Path, str]] = field(default_factory=list)
    failed: List[Tuple[Path, str]] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    seconds: float = 0.0


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # parallelism comes from the processes


def _guarded(task_fn: Callable, item: Path, output: Path, args: tuple) -> tuple:
    """``(True, warnings)``, or ``(False, message)``: an error fails this item only."""
    try:
        return True, tuple(task_fn(output, *args))
    except AnimeError as err:  # its message already names the file
        return False, str(err)
    except Exception as err:  # OSError, cv2.error, MemoryError...: report it, keep going
        return False, f"{item}: {type(err).__name__}: {err}"


def _record(result: BatchResult, item: Path, output: Path, outcome: tuple, reporter: Reporter) -> None:
    ok, detail = outcome
    if not ok:
        result.failed.append((item, detail))
        return
    result.done.append(output)
    for message in detail:
        result.warnings.append(message)
        reporter.warn(message)


def run_batch(task_fn: Callable, tasks: Sequence[Tuple[Path, Path, tuple]], result: BatchResult, *,
              overwrite: bool = False, workers: Optional[int] = None, reporter: Optional[Reporter] = None,
              description: str = "Processing") -> BatchResult:
    """Call ``task_fn(output, *args)`` for each ``(item, output, args)`` and record the outcome in ``result``.

    An ``output`` that exists is skipped unless ``overwrite``. ``task_fn`` is a module-level function
    (it runs in worker processes when ``workers`` > 1, default: all cores) that writes ``output`` and
    returns warnings (strings); an exception it raises fails that item only. Warnings go to
    ``reporter.warn`` as they come; failures are left to the caller's summary. The lists end up sorted.
    """
    reporter = reporter or NullReporter()
    start = time.perf_counter()
    todo = []
    for item, output, args in tasks:
        if output.exists() and not overwrite:
            result.skipped.append((item, OUTPUT_EXISTS))
        else:
            todo.append((item, output, args))
    workers = min(workers or default_workers(), len(todo))
    reporter.start(description, total=len(todo), unit="images")
    try:
        if workers <= 1:
            for item, output, args in todo:
                _record(result, item, output, _guarded(task_fn, item, output, args), reporter)
                reporter.advance(1)
        else:
            # spawn: safe with the parent's threads (progress refresh, OpenCV's pool)
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
                futures = {pool.submit(_guarded, task_fn, item, output, args): (item, output)
                           for item, output, args in todo}
                for future in as_completed(futures):
                    item, output = futures[future]
                    try:
                        outcome = future.result()
                    except Exception as err:  # the worker process died (killed, out of memory)
                        outcome = (False, f"{item}: worker failed ({err!r})")
                    _record(result, item, output, outcome, reporter)
                    reporter.advance(1)
    finally:
        reporter.stop()
    result.seconds += time.perf_counter() - start
    result.done.sort()
    result.skipped.sort()
    result.failed.sort()
    return result
