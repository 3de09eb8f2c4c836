"""Stylize a video: decode, apply a frame function, encode, in three overlapping stages.

A reader thread decodes into a bounded queue, the calling thread runs the frame function on batches,
and a writer thread encodes from a second bounded queue, so about six batches of frames at most are in
memory whatever the video's length. Any error or Ctrl-C stops all three, kills the
ffmpeg processes and removes the temporary files: OUT only appears once everything succeeded.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from animecli.errors import InvalidInputError
from animecli.progress import NullReporter, Reporter
from animecli.video.probe import VideoInfo, probe
from animecli.video.reader import FrameReader
from animecli.video.writer import OutputPlan, VideoWriter, plan_output

FrameFunction = Callable[[List[np.ndarray]], Sequence[np.ndarray]]


@dataclass(frozen=True)
class VideoOptions:
    """What to convert and how to encode it."""

    start: float = 0.0
    end: Optional[float] = None
    audio: bool = True
    codec: Optional[str] = None
    crf: Optional[int] = None
    preset: Optional[str] = None
    batch_size: int = 1
    overwrite: bool = False


@dataclass(frozen=True)
class VideoJob:
    """A checked conversion, ready to run: the probed input and the output plan."""

    info: VideoInfo
    plan: OutputPlan
    options: VideoOptions


@dataclass(frozen=True)
class VideoResult:
    """What ``run_video`` produced."""

    source: Path
    output: Path
    frames: int
    expected_frames: int
    rate: Fraction
    size: Tuple[int, int]  # width, height as displayed
    audio: str  # "copied", "re-encoded to aac", "none", "dropped"
    seconds: float  # wall time
    damaged: Optional[str]  # why fewer frames than expected came out of a truncated/damaged input

    @property
    def duration(self) -> float:
        """Seconds of video written."""
        return float(self.frames / self.rate)

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def prepare_video(source: Path, output: Path, options: VideoOptions) -> VideoJob:
    """Check the paths and options and probe the input; raises InvalidInputError before any work."""
    source, output = Path(source), Path(output)
    plan = plan_output(output, options.codec, options.crf, options.preset)
    if output.exists() or output.is_symlink():
        if source.exists() and os.path.samefile(source, output):
            raise InvalidInputError(f"{output}: is the input; choose another output file")
        if output.is_dir():
            raise InvalidInputError(f"{output}: is a folder; give an output file name")
        if not options.overwrite:
            raise InvalidInputError(f"{output}: already exists (use --overwrite to replace it)")
    if options.batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    if options.start < 0 or (options.end is not None and options.end <= options.start):
        raise InvalidInputError(f"--start {options.start:g} / --end {options.end:g}: the segment is empty"
                                if options.end is not None else "--start must be 0 or more")
    info = probe(source)
    span = max(info.duration, info.container_duration or 0.0)
    if options.start >= span:
        raise InvalidInputError(f"{source}: --start {options.start:g} s is past the end ({span:.2f} s)")
    return VideoJob(info, plan, options)


class _Stopped(Exception):
    """Another stage failed or the run was cancelled."""


class _Stage(threading.Thread):
    def __init__(self, name: str, body: Callable[[], None], stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self.body, self.stop, self.error = body, stop, None

    def run(self) -> None:
        try:
            self.body()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the main thread
            self.error = exc
            self.stop.set()


_END = object()


def _put(channel: queue.Queue, item, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            channel.put(item, timeout=0.1)
            return
        except queue.Full:
            pass
    raise _Stopped


def _get(channel: queue.Queue, stop: threading.Event):
    while not stop.is_set():
        try:
            return channel.get(timeout=0.1)
        except queue.Empty:
            pass
    raise _Stopped


def run_video(job: VideoJob, frame_function: FrameFunction, reporter: Optional[Reporter] = None) -> VideoResult:
    """Decode ``job``'s input, pass frames through ``frame_function`` in batches, and write OUT."""
    reporter = reporter or NullReporter()
    info, options = job.info, job.options
    began = time.perf_counter()
    if info.variable_rate:
        reporter.warn(f"{info.path}: variable frame rate; writing a constant {_rate_text(info.rate)} fps "
                      "(frames repeated or dropped to keep the timing)")
    audio = "none"
    if info.audio and not options.audio:
        audio = "dropped"
    elif info.audio and not job.plan.holds_audio:
        audio = "dropped"
        reporter.warn(f"{job.plan.path}: GIF cannot hold sound; the audio is left out")
    expected = info.expected_frames(options.start, options.end)
    job.plan.path.parent.mkdir(parents=True, exist_ok=True)

    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * options.batch_size)
    styled: queue.Queue = queue.Queue(maxsize=2 * options.batch_size)
    reader = FrameReader(info, options.start, options.end)
    try:
        writer = VideoWriter(job.plan, info, info.display_size, info.rate, start=options.start,
                             audio=options.audio, reporter=reporter)
    except BaseException:
        reader.close()
        raise

    def decode() -> None:
        for frame in reader:
            _put(decoded, frame, stop)
        _put(decoded, _END, stop)

    def encode() -> None:
        while True:
            frame = _get(styled, stop)
            if frame is _END:
                return
            writer.write(frame)

    stages = [_Stage("video-decode", decode, stop), _Stage("video-encode", encode, stop)]
    reporter.start(f"Stylizing {info.path.name}", total=expected or None, unit="frames")
    try:
        for stage in stages:
            stage.start()
        try:
            _stylize(decoded, styled, frame_function, options.batch_size, stop, reporter)
            _put(styled, _END, stop)
            stages[1].join()
        except _Stopped:
            pass
        for stage in stages:
            if stage.error is not None:
                raise stage.error
        stages[0].join()
        if writer.frames == 0:
            raise InvalidInputError(f"{info.path}: no frame could be decoded"
                                    + (f" ({reader.errors[-1]})" if reader.errors else ""))
        outcome = writer.finish()
    except BaseException:
        stop.set()
        reader.close()
        writer.abort()
        for stage in stages:
            if stage.is_alive():
                stage.join()
        raise
    finally:
        reporter.stop()
    return VideoResult(
        source=info.path, output=job.plan.path, frames=writer.frames, expected_frames=expected, rate=info.rate,
        size=info.display_size, audio=audio if audio == "dropped" or not info.audio else outcome,
        seconds=time.perf_counter() - began, damaged=_damage(info, reader, writer.frames, expected, options),
    )


def _stylize(decoded: queue.Queue, styled: queue.Queue, frame_function: FrameFunction, batch_size: int,
             stop: threading.Event, reporter: Reporter) -> None:
    batch: List[np.ndarray] = []
    while True:
        item = _get(decoded, stop)
        if item is not _END:
            batch.append(item)
        if batch and (item is _END or len(batch) == batch_size):
            results = list(frame_function(batch))
            if len(results) != len(batch):
                raise ValueError(f"the frame function returned {len(results)} frames for {len(batch)}")
            for before, after in zip(batch, results):
                if after.shape != before.shape or after.dtype != np.uint8:
                    raise ValueError(f"the frame function returned a {after.dtype} {after.shape} frame for a "
                                     f"uint8 {before.shape} one")
                _put(styled, after, stop)
            reporter.advance(len(batch))
            batch = []
        if item is _END:
            return


def _damage(info: VideoInfo, reader: FrameReader, frames: int, expected: int, options: VideoOptions) -> Optional[str]:
    """A description of a truncated or damaged input, None when everything expected was decoded."""
    errors = list(info.read_errors) + reader.errors
    if not errors or frames >= expected - 1:
        return None
    decoded_until = options.start + float(frames / info.rate)
    return (f"{info.path}: truncated or damaged: decoded {frames} of {expected} frames "
            f"(up to {decoded_until:.2f} s); ffmpeg said: {errors[-1]}")


def _rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate} (~{float(rate):.3f})"
