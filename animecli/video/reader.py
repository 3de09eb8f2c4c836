"""Decode a video into RGB uint8 frames, upright (as a player shows them), through an ffmpeg pipe.

ffmpeg decodes the frames as stored (``-noautorotate``, codec cropping only); container cropping and
the display rotation are applied here, exactly (ffmpeg's own cropping rounds odd sizes to even), so
``VideoWriter`` can undo the rotation and store the frames the way the input did.
"""

from __future__ import annotations

from typing import Iterator, List, Optional

import numpy as np

from animecli.video.ffmpeg import FFmpegProcess
from animecli.video.probe import VideoInfo


def seek_args(start: float, end: Optional[float]) -> List[str]:
    """Input options selecting [start, end) seconds of a file (frame-accurate when decoding)."""
    args = ["-ss", f"{start:.6f}"] if start > 0 else []
    if end is not None:
        args += ["-t", f"{end - start:.6f}"]
    return args


def to_display(frame: np.ndarray, rotation: int) -> np.ndarray:
    """A stored frame turned the way a player shows it (``rotation`` degrees counter-clockwise)."""
    return np.ascontiguousarray(np.rot90(frame, rotation // 90)) if rotation else frame


def from_display(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Undo ``to_display``."""
    return np.ascontiguousarray(np.rot90(frame, -(rotation // 90))) if rotation else frame


class FrameReader:
    """Iterates over the RGB uint8 (H, W, 3) frames of ``info.path`` between ``start`` and ``end`` seconds.

    A variable-frame-rate input is sampled at ``info.rate`` (its average rate, frames repeated or dropped
    to keep the timing); otherwise every decoded frame comes out exactly once.
    """

    def __init__(self, info: VideoInfo, start: float = 0.0, end: Optional[float] = None):
        self.info = info
        self.frames_read = 0
        timing = ["-fps_mode", "cfr", "-r", str(info.rate)] if info.variable_rate else ["-fps_mode", "passthrough"]
        self._process = FFmpegProcess(
            ["-noautorotate", "-apply_cropping", "codec", *seek_args(start, end), "-i", str(info.path),
             "-map", "0:V:0", "-an", "-sn", "-dn", *timing, "-sws_flags", "accurate_rnd+full_chroma_int+bicubic",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
            stdout=True)
        self._exit_code: Optional[int] = None

    def __iter__(self) -> Iterator[np.ndarray]:
        width, height = self.info.width, self.info.height
        left, right, top, bottom = self.info.crop
        size = width * height * 3
        stdout = self._process.proc.stdout
        while True:
            buffer = bytearray(size)
            if stdout.readinto(buffer) != size:
                break
            frame = np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
            if left or right or top or bottom:
                frame = np.ascontiguousarray(frame[top:height - bottom, left:width - right])
            self.frames_read += 1
            yield to_display(frame, self.info.rotation)
        self._exit_code = self._process.wait()

    @property
    def errors(self) -> List[str]:
        """What ffmpeg reported while decoding (damaged or truncated data), empty for a clean file."""
        lines = self._process.stderr_lines
        if self._exit_code:
            lines.append(f"ffmpeg exited with code {self._exit_code}")
        return lines

    def close(self) -> None:
        """Stop decoding (if still running) and reap ffmpeg."""
        self._process.kill()
