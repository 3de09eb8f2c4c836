"""Helper processes for ``anime infer`` on CPU: more pictures at once than one MindSpore process runs.

One MindSpore process keeps a 2-core CPU about 1.8 cores busy, and its start (import, graph load) and
its compiles run on one core. Two processes that each run a picture at once finish more pictures per
second (measured: 3.0 s per 512x512 picture each, against 1.65 s for one process alone: +9 %; +5 % at
800x600 and 1024x768), a helper's start overlaps the main process's own, and one process compiles while
the other computes. Helpers and the main process take jobs one at a time from a shared queue; when one
runs alone (the last picture), it has every core to itself.

Helpers take only pictures under ``SHARED_MAX_PIXELS`` (sizes read from the file headers); larger ones
run in the main process, before it joins in on the small ones. On this project's CPU two processes gain
nothing from 1280x720 up (12 photos at 1280x720: 68.0 s against 66.6 s), and a second process's first
call at that size took 10.6 s instead of 6.2 s (allocating its memory while the other holds its own):
4 photos at 1280x720 took 27.8 s against 23.9 s when both took any picture.

By default (``default_processes``, ``plan_processes``) a run of 2+ pictures on a CPU with 2+ cores and
``MEMORY_FOR_HELPERS`` available starts one helper, if at least one picture is small enough for it.

A helper is a fresh interpreter (``spawn``): MindSpore must not be forked. It receives the resolved
weights (never a file to parse again), builds its own ``Stylizer`` (graphs come from the shared graph
store), writes its outputs itself (atomically, like the main process) and reports each job back.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as connection_wait
from typing import Callable, Collection, Dict, Iterator, List, Optional, Sequence, Tuple

from animecli import images
from animecli.pipelines._batch import default_workers
from animecli.pipelines.infer import InferOptions, Job, stylize_jobs
from animecli.weights.generator_ckpt import GeneratorWeights

#: Pictures this large (after ``--max-size``) run in the main process only: two processes at once gain
#: about 9 % at 512x512 and 5 % at 800x600 and 1024x768, nothing from 1280x720 up (see above).
SHARED_MAX_PIXELS = 750_000
#: A helper holds its own graphs (a whole-picture call under SHARED_MAX_PIXELS peaks below 2.5 GB), so by
#: default one starts only with this much memory available.
MEMORY_FOR_HELPERS = 8 * 2**30

#: With helpers, every new size gets its own graph at once (``Stylizer``'s ``compile_worth_pixels``)
#: instead of running tiled until compiling pays: one process compiles (mostly on one core) while the
#: other computes, and a whole-picture graph runs about 2x faster than tiles. Measured, 2 processes,
#: empty cache, against compiling a size on its third picture: 20 photos in 11 sizes 93 s against
#: 109 s; 12 photos in 12 sizes 52 s against 57 s; later runs load every graph from the store.
COMPILE_WORTH_PIXELS_WITH_HELPERS = 0
_STOP_WAITING = 15.0  # seconds a stopped helper gets to finish its current write


def default_processes(device: str) -> int:
    """Processes when ``--workers`` is not given: 2 on a CPU (``auto`` included: a helper that finds an
    accelerator quits) with 2+ cores and ``MEMORY_FOR_HELPERS`` available, else 1."""
    if device not in ("auto", "cpu") or default_workers() < 2:
        return 1
    available = _available_memory()
    return 2 if available is not None and available >= MEMORY_FOR_HELPERS else 1


def plan_processes(requested: Optional[int], device: str, jobs: Sequence[Job], max_size: Optional[int],
                   crop_size: int = 0) -> Tuple[int, List[Job]]:
    """How many processes stylize ``jobs`` (``requested``: ``--workers``; None: ``default_processes``),
    and the jobs only the main process runs (``main_process_jobs``: helpers take the smaller pictures)."""
    processes = min(requested or default_processes(device), max(1, len(jobs)))
    if processes == 1:
        return 1, []
    large = main_process_jobs(jobs, max_size, crop_size)
    return min(processes, 1 + len(jobs) - len(large)), large


def start_processes(weights: GeneratorWeights, device: str, jobs: Sequence[Job], settings: Dict,
                    options: InferOptions, workers: Optional[int] = None):
    """``(stylizer, helpers)`` for stylizing ``jobs``: plans the processes (``plan_processes``; ``workers``
    is ``--workers``), starts the helpers first (their start-up overlaps this process's own), then builds
    this process's ``Stylizer`` (``settings``: its keyword arguments). ``helpers`` is None for one
    process; they are stopped again if the Stylizer cannot be built."""
    from animecli.stylize import build_stylizer

    processes, large = plan_processes(workers, device, jobs, settings.get("max_size"), weights.meta.face_crop_size)
    if processes == 1:
        return build_stylizer(weights, device, **settings), None
    helpers = HelperProcesses(processes - 1, weights, device, settings, options, main_only=large)
    try:
        return build_stylizer(weights, device, **helpers.stylizer_settings), helpers
    except BaseException:
        helpers.stop()
        raise


def main_process_jobs(jobs: Sequence[Job], max_size: Optional[int], crop_size: int = 0) -> List[Job]:
    """The jobs whose picture, as the network will see it, has ``SHARED_MAX_PIXELS`` or more (read from
    PNG and JPEG headers; a picture of unknown size may go to a helper)."""
    if crop_size:
        return list(jobs) if crop_size * crop_size >= SHARED_MAX_PIXELS else []
    large = []
    for job in jobs:
        size = images.peek_size(job.source)
        if size is not None:
            width, height = images.max_side_size(size[0], size[1], max_size)
            if width * height >= SHARED_MAX_PIXELS:
                large.append(job)
    return large


def _available_memory() -> Optional[int]:
    """MemAvailable in bytes (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class HelperProcesses:
    """Started helper processes of one ``anime infer`` run; ``run_infer`` shares its jobs with them.

    Jobs go out on one shared queue, except ``main_only`` ones (see ``main_process_jobs``), which this
    process runs first; each helper reports back on its own pipe, whose end-of-file tells that the helper
    has ended, however it ended.
    """

    def __init__(self, count: int, weights: GeneratorWeights, device: str, stylizer_settings: Dict,
                 options: InferOptions, main_only: Collection[Job] = ()):
        context = multiprocessing.get_context("spawn")
        self._main_only = frozenset(main_only)
        #: ``Stylizer`` keyword arguments of every process of the run (this one's included): every new
        #: size compiles at once (``COMPILE_WORTH_PIXELS_WITH_HELPERS``).
        self.stylizer_settings = dict(stylizer_settings, compile_worth_pixels=COMPILE_WORTH_PIXELS_WITH_HELPERS)
        self.stats: List = []  # the GraphStats of each helper that ran on a CPU, once it has ended
        self._jobs = context.Queue()
        self._processes = []
        self._reports = []
        for index in range(count):
            reading, writing = context.Pipe(duplex=False)
            process = context.Process(target=_helper_main, name=f"anime-infer-helper-{index}", daemon=True,
                                      args=(os.getpid(), weights, device, self.stylizer_settings, options,
                                            self._jobs, writing))
            process.start()
            writing.close()  # the helper holds the only writing end: its exit is our end-of-file
            self._processes.append(process)
            self._reports.append(reading)

    @contextlib.contextmanager
    def sharing(self, jobs: Sequence[Job], done: Callable[[Job], None], failed: Callable[[Job, str], None],
                warn: Callable[[str], None]) -> Iterator[Callable[[], Optional[Job]]]:
        """Queue ``jobs`` for the helpers and this process; yields this process's ``take()``, which hands
        out the ``main_only`` jobs first.

        Helpers report each job to ``done`` / ``failed``; a job a helper had taken when it died fails
        with a message, and a helper that cannot start is reported to ``warn`` (this process then
        takes its share). On leaving, waits for the helpers to finish (or, on an error or Ctrl-C here,
        stops them first).
        """
        own = deque(job for job in jobs if job in self._main_only)
        for job in jobs:
            if job not in self._main_only:
                self._jobs.put(job)
        for _ in range(len(self._processes) + 1):
            self._jobs.put(None)  # one "no more jobs" for each taker
        collector = threading.Thread(target=self._collect, args=(done, failed, warn), name="anime-helper-reports",
                                     daemon=True)
        collector.start()
        try:
            yield lambda: own.popleft() if own else self._jobs.get()
        except BaseException:
            self.stop()
            raise
        finally:
            collector.join()
            self._release_queue()

    def _release_queue(self) -> None:
        """Let the job queue's semaphores go now: ``anime infer`` ends with ``os._exit``, which skips the
        exit handlers that would otherwise remove them (and the resource tracker would warn of leaks)."""
        self._jobs.close()
        self._jobs.join_thread()
        self._jobs = None

    def _collect(self, done: Callable[[Job], None], failed: Callable[[Job, str], None],
                 warn: Callable[[str], None]) -> None:
        """Relay the helpers' reports until every helper's pipe is closed."""
        taken: Dict[Connection, Job] = {}
        open_reports = list(self._reports)
        while open_reports:
            for report in connection_wait(open_reports):
                try:
                    kind, job, detail = report.recv()
                except EOFError:  # the helper has ended
                    open_reports.remove(report)
                    lost = taken.pop(report, None)
                    if lost is not None:
                        failed(lost, f"{lost.source}: the helper process stylizing it ended first")
                    continue
                if kind == "taken":
                    taken[report] = job
                elif kind == "done":
                    taken.pop(report, None)
                    done(job)
                elif kind == "failed":
                    taken.pop(report, None)
                    failed(job, detail)
                elif kind == "error":
                    warn(f"a helper process stopped: {detail}; the other processes take its pictures")
                elif kind == "stats" and detail is not None:  # None: it found an accelerator, not a CPU
                    self.stats.append(detail)
        for process in self._processes:
            process.join()

    def stop(self) -> None:
        """Stop the helpers (SIGTERM: each one finishes or removes its current write) and wait for them."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(_STOP_WAITING)
            if process.is_alive():
                process.kill()
                process.join()


def _helper_main(parent: int, weights: GeneratorWeights, device: str, stylizer_settings: Dict,
                 options: InferOptions, jobs, report) -> None:
    """A helper process: report every job it takes and how it went, then its GraphStats, then exit."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    sending = threading.Lock()  # the main thread and the writer thread both report

    def send(kind: str, job: Optional[Job] = None, detail=None) -> None:
        with sending:
            report.send((kind, job, detail))

    code = 0
    try:
        send("stats", detail=_serve(parent, weights, device, stylizer_settings, options, jobs, send))
    except KeyboardInterrupt:
        code = 130
    except Exception as err:  # noqa: BLE001 - the other processes take this one's share
        code = 1
        send("error", detail=f"{type(err).__name__}: {err}")
    report.close()
    # MindSpore's teardown at exit (~0.5 s) has nothing of ours to finish: outputs are written and renamed.
    os._exit(code)


def _serve(parent: int, weights: GeneratorWeights, device: str, stylizer_settings: Dict,
           options: InferOptions, jobs, send: Callable):
    """Build a Stylizer, then stylize jobs from ``jobs`` until a None (or until the main process
    ``parent`` is gone); returns its GraphStats (None where the device is not a CPU: one process then)."""
    from animecli import runtime
    from animecli.stylize import build_stylizer

    runtime.prepare_environment()
    if runtime.resolve_device(device) != "cpu":  # checked without touching the accelerator
        return None
    stylizer = build_stylizer(weights, "cpu", **stylizer_settings)

    def take() -> Optional[Job]:
        while True:
            try:
                job = jobs.get(timeout=1.0)
                break
            except queue.Empty:
                if os.getppid() != parent:
                    return None
        if job is not None:
            send("taken", job)
        return job

    stylize_jobs(take, stylizer, options, done=lambda job: send("done", job),
                 failed=lambda job, message: send("failed", job, message), ahead=0)
    return stylizer.stats
