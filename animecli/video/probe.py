"""What is in a video file: size, exact frame rate, frame count, rotation, cropping and audio streams.

imageio-ffmpeg ships no ffprobe, so one ffmpeg call does both jobs: its ``-i`` report (parsed from stderr)
describes the streams, and copying the video packets to the ``framecrc`` muxer (stdout) lists every
packet's timestamps in the stream's own time base without decoding anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Tuple

from animecli.errors import InvalidInputError
from animecli.video import ffmpeg

# Demuxers that read a single picture (or an image sequence), not a video.
_IMAGE_DEMUXER = re.compile(r"(_pipe|^image2|^webp)$")
_STREAM = re.compile(r"^\s*Stream #0:(\d+)\S*: (Video|Audio|Subtitle|Data|Attachment): (.*)$")


@dataclass(frozen=True)
class AudioStream:
    """One audio stream of the input (``index`` counts audio streams only)."""

    index: int
    codec: str
    description: str


@dataclass(frozen=True)
class VideoInfo:
    """The facts about a video file that decoding and encoding need."""

    path: Path
    container: str
    codec: str
    width: int  # decoded frame size, before container cropping and rotation
    height: int
    crop: Tuple[int, int, int, int]  # container cropping: left, right, top, bottom
    rotation: int  # display rotation, degrees counter-clockwise, a multiple of 90 in [0, 360)
    rate: Fraction  # frames per second, exact
    variable_rate: bool
    packets: int  # video packets that could be read (= frames for every common codec)
    duration: float  # seconds the video stream spans
    container_duration: Optional[float]  # what the file's header claims (None when unknown)
    audio: Tuple[AudioStream, ...]
    read_errors: Tuple[str, ...]  # what ffmpeg reported while reading the packets (a damaged file)

    @property
    def frame_size(self) -> Tuple[int, int]:
        """(width, height) of a frame after container cropping, in stored orientation."""
        left, right, top, bottom = self.crop
        return self.width - left - right, self.height - top - bottom

    @property
    def display_size(self) -> Tuple[int, int]:
        """(width, height) as a player shows it (cropped and rotated)."""
        width, height = self.frame_size
        return (height, width) if self.rotation % 180 else (width, height)

    def expected_frames(self, start: float = 0.0, end: Optional[float] = None) -> int:
        """How many frames decoding [start, end) should give, from the header's duration when it is longer."""
        span = max(self.duration, self.container_duration or 0.0)
        stop = span if end is None else min(end, span)
        return max(0, round((stop - start) * self.rate))


def probe(path: Path) -> VideoInfo:
    """Describe ``path``; raises InvalidInputError naming the file when it is not a readable video."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file")
    if path.is_dir():
        raise InvalidInputError(f"{path}: is a folder, not a video")
    code, out, err = ffmpeg.run(["-i", str(path), "-map", "0:V:0?", "-c", "copy", "-f", "framecrc", "-"],
                                loglevel="info")
    header = _input_section(err)
    if not header:
        if any("moov atom not found" in line for line in err) and _looks_like_mp4(path):
            raise InvalidInputError(f"{path}: truncated or damaged video (its index, the MP4 moov atom, is missing)")
        raise InvalidInputError(f"{path}: not a readable video ({_reason(err)})")
    container = re.match(r"Input #0, (.*?), from", header[0]).group(1)
    streams = _streams(header)
    video = next((s for s in streams if s["kind"] == "Video" and "(attached pic)" not in s["text"]), None)
    if video is None:
        raise InvalidInputError(f"{path}: has no video stream")
    if _IMAGE_DEMUXER.search(container):
        raise InvalidInputError(f"{path}: is a still picture, not a video (use `anime infer` for pictures)")
    audio = tuple(AudioStream(i, s["text"].split()[0].rstrip(","), s["text"])
                  for i, s in enumerate(x for x in streams if x["kind"] == "Audio"))
    time_base, timestamps = _packets(out)
    if not timestamps:
        raise InvalidInputError(f"{path}: no video frame could be read ({_reason(err)})")
    width, height = map(int, re.search(r", (\d+)x(\d+)", video["text"]).groups())
    rate, variable, span = _timing(time_base, timestamps, video["text"])
    read_errors = tuple(line for line in err if line.startswith("[") and _is_error(line))
    return VideoInfo(
        path=path, container=container, codec=video["text"].split()[0].rstrip(","), width=width, height=height,
        crop=video["crop"], rotation=video["rotation"], rate=rate, variable_rate=variable,
        packets=len(timestamps), duration=span, container_duration=_duration(header), audio=audio,
        read_errors=read_errors,
    )


def _input_section(lines: List[str]) -> List[str]:
    """The lines of ffmpeg's report on input #0."""
    for first, line in enumerate(lines):
        if line.startswith("Input #0,"):
            section = [line]
            for rest in lines[first + 1:]:
                if not rest.startswith(" "):
                    break
                section.append(rest)
            return section
    return []


def _streams(header: List[str]) -> List[dict]:
    streams: List[dict] = []
    for line in header:
        match = _STREAM.match(line)
        if match:
            streams.append({"kind": match.group(2), "text": match.group(3), "rotation": 0, "crop": (0, 0, 0, 0)})
            continue
        if not streams:
            continue
        rotation = re.search(r"rotation of (-?[\d.]+) degrees", line, re.IGNORECASE)
        if rotation:
            streams[-1]["rotation"] = round(float(rotation.group(1)) / 90) * 90 % 360
        crop = re.search(r"Frame Cropping: (\d+)/(\d+)/(\d+)/(\d+)", line)
        if crop:
            streams[-1]["crop"] = tuple(int(v) for v in crop.groups())
    return streams


def _packets(framecrc: bytes) -> Tuple[Fraction, List[Tuple[int, int]]]:
    """(time base, [(pts, duration), ...]) of the copied video packets."""
    time_base = Fraction(1, 1)
    timestamps = []
    for line in framecrc.decode("ascii", "replace").splitlines():
        if line.startswith("#tb 0:"):
            num, den = line.split(":", 1)[1].strip().split("/")
            time_base = Fraction(int(num), int(den))
        elif line.startswith("0,"):
            fields = [f.strip() for f in line.split(",")]
            timestamps.append((int(fields[2]), int(fields[3])))
    return time_base, timestamps


def _timing(time_base: Fraction, timestamps: List[Tuple[int, int]], text: str) -> Tuple[Fraction, bool, float]:
    """(frame rate, variable?, seconds spanned) from packet timestamps, helped by ffmpeg's own rate guess."""
    pts = sorted(p for p, _ in timestamps)
    durations = {d for _, d in timestamps if d > 0}
    last_duration = timestamps[-1][1] if timestamps[-1][1] > 0 else 0
    steps = [b - a for a, b in zip(pts, pts[1:])]
    if len(durations) == 1 and all(step % next(iter(durations)) == 0 for step in steps):
        # Every frame lasts the same number of ticks (gaps are whole frames lost): the rate is exact.
        tick = durations.pop()
        return 1 / (tick * time_base), False, float((pts[-1] - pts[0] + tick) * time_base)
    guess = _printed_rate(text, "tbr") or _printed_rate(text, "fps")
    if not steps:
        rate = guess or Fraction(25)
        return rate, False, float(1 / rate)
    span_ticks = pts[-1] - pts[0] + (last_duration or round(sum(steps) / len(steps)))
    average = len(pts) / (span_ticks * time_base)
    # Timestamps rounded to a coarse time base (e.g. Matroska's milliseconds) jitter by one tick.
    jitter_only = max(steps) - min(steps) <= 1 and min(steps) > 0
    if jitter_only and guess and abs(guess - average) / average < Fraction(1, 100):
        return guess, False, float(span_ticks * time_base)
    return _snap(average), True, float(span_ticks * time_base)


def _printed_rate(text: str, label: str) -> Optional[Fraction]:
    """ffmpeg prints rates rounded (29.97, 30k): recover the exact NTSC-style or integer rate."""
    match = re.search(rf"([\d.]+)(k?) {label}\b", text)
    if not match:
        return None
    value = float(match.group(1)) * (1000 if match.group(2) else 1)
    return _snap(Fraction(value)) if value > 0 else None


def _snap(value: Fraction) -> Fraction:
    """The common rate nearest ``value`` (n, n*1000/1001, n/2) when within 0.1%, else ``value`` simplified."""
    for candidate in (Fraction(round(value)), Fraction(round(value * Fraction(1001, 1000)) * 1000, 1001),
                      Fraction(round(value * 2), 2)):
        if candidate > 0 and abs(candidate - value) / value < Fraction(1, 1000):
            return candidate
    return value.limit_denominator(1001)


def _duration(header: List[str]) -> Optional[float]:
    match = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", "\n".join(header))
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _looks_like_mp4(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8)[4:] in (b"ftyp", b"mdat", b"moov", b"free", b"wide", b"skip")


def _is_error(line: str) -> bool:
    lowered = line.lower()
    return any(word in lowered for word in ("error", "invalid", "partial file", "corrupt", "truncat", "missing"))


def _reason(lines: List[str]) -> str:
    for line in reversed(lines):
        text = re.sub(r"^\[[^\]]*\]\s*", "", line).strip()
        if text and not text.startswith(("Error opening input file", "At least one output", "Exiting")):
            return re.sub(r"^Error opening input: ", "", text).rstrip(".")
    return "ffmpeg cannot read it"
