"""Encode RGB frames into OUT with the source's audio, atomically.

ffmpeg runs in passes, each writing a hidden temporary file next to OUT:
1. the frames arrive on a pipe and are encoded (H.264 yuv420p BT.709 by default) into a video-only file;
   H.264/HEVC 4:2:0 cannot hold an odd width or height, so such frames are coded 4:4:4 (yuv444p) at their
   exact size: every decoder returns that size, where padding plus a container crop came back 1 pixel off;
2. every audio stream of the source is cut to the span of the written video (packets copied as they are);
3. both are remuxed (``-c:v copy``, ``-c:a copy``), video first as in the source; only when OUT's container cannot hold an audio codec is
   it re-encoded (AAC, or Opus for WebM). The source's display rotation is set again on the stored frames.
OUT appears only at the end (``os.replace``); ``abort`` kills ffmpeg and removes the temporary files.
Temporary names carry the writer's pid: a new writer removes those of killed processes beside OUT.
GIF output is one pass (per-frame palettes, so nothing is buffered) and keeps frames upright.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from animecli import files
from animecli.errors import AnimeError, InvalidInputError
from animecli.progress import Reporter
from animecli.video import ffmpeg
from animecli.video.probe import VideoInfo
from animecli.video.reader import from_display

FORMATS: Dict[str, str] = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
                           ".gif": "gif"}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _yuv(pixel_format: str) -> List[str]:
    """RGB -> BT.709 limited-range ``pixel_format``, tagged as such (players assume BT.709 for HD anyway)."""
    return ["-vf", f"scale=out_color_matrix=bt709:out_range=tv,format={pixel_format},"
                   "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"]

#: The temporary files of a writer (group 1: its pid), e.g. ``.clip.4242-1a2b3c4d.video.mp4``.
TEMP_NAME = re.compile(r"^\..*\.(\d+)-[0-9a-f]{8}\.(partial|video|audio)\.")


@dataclass(frozen=True)
class Codec:
    """How to drive one encoder."""

    args: Tuple[str, ...]  # fixed options
    containers: Tuple[str, ...]  # muxers that hold it
    default_crf: Optional[int] = None  # None: no quality knob (lossless)
    max_crf: int = 51
    presets: bool = False
    pixels: str = "yuv"  # "yuv": BT.709 limited-range 4:2:0 (see odd_444), else ffmpeg's RGB pixel format
    odd_444: bool = False  # its 4:2:0 needs even sizes (H.264/HEVC): an odd width or height is coded 4:4:4

    def pixel_args(self, size: Tuple[int, int]) -> List[str]:
        """Pixel format options for frames of ``size`` (width, height)."""
        if self.pixels != "yuv":
            return ["-pix_fmt", self.pixels]
        odd = size[0] % 2 or size[1] % 2
        return _yuv("yuv444p" if odd and self.odd_444 else "yuv420p")


CODECS: Dict[str, Codec] = {
    "libx264": Codec((), ("mp4", "mov", "matroska"), 18, presets=True, odd_444=True),
    "libx265": Codec(("-x265-params", "log-level=error"), ("mp4", "mov", "matroska"), 22, presets=True,
                     odd_444=True),
    "libvpx-vp9": Codec(("-b:v", "0", "-row-mt", "1"), ("mp4", "matroska", "webm"), 31, max_crf=63),
    "libx264rgb": Codec((), ("mp4", "mov", "matroska"), 18, presets=True, pixels="rgb24"),
    "ffv1": Codec((), ("matroska",), pixels="bgr0"),
}
_GIF = ("-vf", "split[a][b];[a]palettegen=stats_mode=single[p];[b][p]paletteuse=new=1", "-loop", "0")


@dataclass(frozen=True)
class OutputPlan:
    """Where and how OUT is written (validated before any work starts)."""

    path: Path
    format: str  # ffmpeg muxer
    codec: Optional[str]  # None for GIF
    crf: Optional[int]
    preset: Optional[str]

    @property
    def holds_audio(self) -> bool:
        return self.format != "gif"

    def encoder_args(self, size: Tuple[int, int]) -> List[str]:
        """ffmpeg output options of the encoding pass, for frames of ``size`` (width, height) as stored."""
        if self.codec is None:
            return list(_GIF)
        codec = CODECS[self.codec]
        args = ["-c:v", self.codec, *codec.pixel_args(size), *codec.args]
        if self.crf is not None:
            args += ["-crf", str(self.crf)]
        if self.preset is not None:
            args += ["-preset", self.preset]
        return args


def plan_output(path: Path, codec: Optional[str] = None, crf: Optional[int] = None,
                preset: Optional[str] = None) -> OutputPlan:
    """Check OUT's extension and the encoder options against each other; InvalidInputError if they clash."""
    path = Path(path)
    muxer = FORMATS.get(path.suffix.lower())
    if muxer is None:
        raise InvalidInputError(f"{path}: unsupported output type {path.suffix or '(none)'}; use one of "
                                f"{', '.join(sorted(FORMATS))}")
    if muxer == "gif":
        if codec or crf is not None or preset:
            raise InvalidInputError(f"{path}: --codec, --crf and --preset do not apply to GIF output")
        return OutputPlan(path, muxer, None, None, None)
    name = codec or ("libvpx-vp9" if muxer == "webm" else "libx264")
    spec = CODECS.get(name)
    if spec is None:
        raise InvalidInputError(f"unknown codec {name}; choose one of {', '.join(CODECS)}")
    if muxer not in spec.containers:
        raise InvalidInputError(f"{path}: {path.suffix} files cannot hold {name}; use "
                                f"{' or '.join(e for e, m in FORMATS.items() if m in spec.containers)}")
    if spec.default_crf is None and crf is not None:
        raise InvalidInputError(f"{name} is lossless: --crf does not apply")
    if crf is not None and not 0 <= crf <= spec.max_crf:
        raise InvalidInputError(f"--crf for {name} goes from 0 to {spec.max_crf}, not {crf}")
    if preset is not None and not spec.presets:
        raise InvalidInputError(f"--preset does not apply to {name}")
    if preset is not None and preset not in PRESETS:
        raise InvalidInputError(f"unknown preset {preset}; choose one of {', '.join(PRESETS)}")
    return OutputPlan(path, muxer, name, spec.default_crf if crf is None else crf,
                      (preset or "medium") if spec.presets else None)


class VideoWriter:
    """Takes upright RGB uint8 frames of ``size`` (width, height) and produces ``plan.path`` at ``finish``."""

    def __init__(self, plan: OutputPlan, info: VideoInfo, size: Tuple[int, int], rate: Fraction,
                 start: float = 0.0, audio: bool = True, reporter: Optional[Reporter] = None):
        self.plan = plan
        self.info = info
        self.rate = rate
        self.start = start
        self.audio = audio and plan.holds_audio and bool(info.audio)
        self.reporter = reporter
        self.frames = 0
        gif = plan.format == "gif"
        self.rotation = 0 if gif else info.rotation
        width, height = size if not self.rotation % 180 else size[::-1]
        self.size = (width, height)
        files.remove_dead_leftovers(plan.path.parent, TEMP_NAME)
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        stem = f".{plan.path.stem}.{token}"
        self.final_temp = plan.path.with_name(f"{stem}.partial{plan.path.suffix}")
        self.video_temp = self.final_temp if gif else plan.path.with_name(
            f"{stem}.video{'.mkv' if plan.codec == 'ffv1' else '.mp4'}")
        self._temps = {self.final_temp, self.video_temp}
        self._process = ffmpeg.FFmpegProcess(
            ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
             "-framerate", str(rate), "-i", "pipe:0", "-map", "0:v", *plan.encoder_args(self.size),
             "-f", "gif" if gif else ("matroska" if plan.codec == "ffv1" else "mp4"), "-y", str(self.video_temp)],
            stdin=True)

    def write(self, frame: np.ndarray) -> None:
        """Encode one upright frame."""
        frame = from_display(frame, self.rotation)
        if frame.shape[:2] != self.size[::-1]:
            raise ValueError(f"frame of {frame.shape[1]}x{frame.shape[0]}, expected {self.size[0]}x{self.size[1]}")
        try:
            self._process.proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).data)
        except (BrokenPipeError, ValueError) as exc:
            self._process.wait()
            raise AnimeError(f"{self.plan.path}: encoding failed: {self._process.last_error()}") from exc
        self.frames += 1

    def finish(self) -> str:
        """Complete OUT; returns what happened to the audio ("copied", "re-encoded to aac", "none")."""
        if self._process.wait() != 0:
            raise AnimeError(f"{self.plan.path}: encoding failed: {self._process.last_error()}")
        outcome = "none"
        if self.plan.format != "gif":
            outcome = self._mux()
        os.replace(self.final_temp, self.plan.path)
        self._temps.discard(self.final_temp)
        self.cleanup()
        return outcome

    def _mux(self) -> str:
        audio = self._cut_audio() if self.audio else None
        attempts = [("none", [])]
        if audio is not None:
            encoder = "libopus" if self.plan.format == "webm" else "aac"
            attempts = [("copied", ["-c:a", "copy"]),
                        (f"re-encoded to {encoder.replace('lib', '')}", ["-c:a", encoder, "-b:a", "192k"])]
        for outcome, audio_args in attempts:
            args = ["-display_rotation:v:0", str(self.rotation)] if self.rotation else []
            args += ["-i", str(self.video_temp), "-i", str(self.info.path)]
            args += ["-i", str(audio)] if audio is not None else []
            args += ["-map", "0:v:0", "-c:v", "copy", "-map_metadata", "1"]  # video first, as in the source
            args += ["-map", "2:a", *audio_args] if audio is not None else []
            if self.plan.format in ("mp4", "mov"):
                args += ["-movflags", "+faststart"] + (["-tag:v", "hvc1"] if self.plan.codec == "libx265" else [])
            code, _, errors = ffmpeg.run([*args, "-f", self.plan.format, "-y", str(self.final_temp)])
            if code == 0:
                if outcome.startswith("re-encoded") and self.reporter is not None:
                    codecs = ", ".join(sorted({a.codec for a in self.info.audio}))
                    self.reporter.warn(f"{self.plan.path.suffix} files cannot hold {codecs} audio: {outcome}")
                return outcome
        raise AnimeError(f"{self.plan.path}: writing the file failed: {errors[-1] if errors else code}")

    def _cut_audio(self) -> Path:
        """Every audio stream of the source over the span of the written video, copied into a Matroska file.

        The cut is made on the output side: an input -ss makes ffmpeg seek every stream to the video
        keyframe before --start (and copy audio from there); audio packets are all keyframes.
        """
        cut = self.final_temp.with_name(self.final_temp.name.replace(".partial", ".audio") + ".mka")
        self._temps.add(cut)
        duration = float(self.frames / self.rate)
        span = (["-ss", f"{self.start:.6f}"] if self.start else []) + ["-t", f"{duration:.6f}"]
        code, _, errors = ffmpeg.run(["-i", str(self.info.path), "-map", "0:a", "-c", "copy", *span,
                                      "-f", "matroska", "-y", str(cut)])
        if code != 0:
            raise AnimeError(f"{self.info.path}: reading its audio failed: {errors[-1] if errors else code}")
        return cut

    def abort(self) -> None:
        """Stop encoding and remove every temporary file; OUT is left untouched."""
        self._process.kill()
        self.cleanup()

    def cleanup(self) -> None:
        """Remove the temporary files that remain."""
        for path in list(self._temps):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            self._temps.discard(path)
