"""Test helpers: make small videos with the real ffmpeg and inspect results independently of animecli."""

from __future__ import annotations

import os
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Sequence

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
# The same RGB conversion as animecli's reader, so decoded frames can be compared exactly.
SWS = ["-sws_flags", "accurate_rnd+full_chroma_int+bicubic"]


def ffmpeg(*args) -> subprocess.CompletedProcess:
    """Run ffmpeg (errors only), failing the test on a non-zero exit."""
    done = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)],
                          capture_output=True)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done


def make_video(path: Path, size: str = "160x96", rate: str = "24", frames: int = 12, audio: bool = False,
               codec: Sequence[str] = ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"),
               extra: Sequence[str] = ()) -> Path:
    """A moving test pattern, softened like camera footage (and a 440 Hz tone when ``audio``), by ffmpeg."""
    inputs = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate},gblur=sigma=1.5"]
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    seconds = frames / float(Fraction(rate))
    ffmpeg(*inputs, "-frames:v", frames, "-t", f"{seconds:.6f}", *codec,
           *(["-c:a", "aac"] if audio else []), *extra, path)
    return path


def decode(path: Path, autorotate: bool = False, size: Optional[tuple] = None) -> np.ndarray:
    """All frames of ``path`` as (N, H, W, 3) uint8, decoded by ffmpeg directly (no animecli code)."""
    args = [] if autorotate else ["-noautorotate"]
    out = subprocess.run([FFMPEG, "-v", "error", *args, "-i", str(path), "-map", "0:v:0", *SWS, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    width, height = size or stream_size(path, autorotate)
    return np.frombuffer(out, np.uint8).reshape(-1, height, width, 3)


def report(path: Path) -> str:
    """ffmpeg's own description of ``path`` (stderr of ``ffmpeg -i``)."""
    return subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def stream_size(path: Path, autorotate: bool = False) -> tuple:
    """(width, height) of the first video stream as ffmpeg decodes it."""
    import re

    text = report(path)
    width, height = map(int, re.search(r"Video: .*?, (\d+)x(\d+)", text).groups())
    rotated = re.search(r"rotation of -?(90|270)\.00 degrees", text)
    return (height, width) if autorotate and rotated else (width, height)


def packets(path: Path, stream: str) -> List[List[str]]:
    """framecrc rows (stream, dts, pts, duration, size, crc) of the copied packets of ``stream`` (e.g. 'a:0')."""
    out = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-c", "copy", "-f",
                          "framecrc", "-"], capture_output=True, text=True, check=True).stdout
    return [[field.strip() for field in line.split(",")] for line in out.splitlines() if line[:1].isdigit()]


def time_base(path: Path, stream: str) -> str:
    out = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-c", "copy", "-f",
                          "framecrc", "-"], capture_output=True, text=True, check=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("#tb"))


def audio_seconds(path: Path) -> float:
    """Duration of the first audio stream, from its decoded samples."""
    out = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1",
                          "-ar", "48000", "-"], capture_output=True, check=True).stdout
    return len(out) / 2 / 48000


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def ffmpeg_children() -> List[int]:
    """Process ids of live ffmpeg processes whose parent is this process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"ffmpeg" in cmdline:
            found.append(int(entry.name))
    return found


def ffmpeg_processes_mentioning(text: str) -> List[int]:
    """Process ids of any live ffmpeg whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"ffmpeg" in cmdline and text.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found
