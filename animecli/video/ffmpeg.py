"""The ffmpeg binary (from imageio-ffmpeg) and running it with stderr drained and the process always reaped."""

from __future__ import annotations

import functools
import re
import subprocess
import threading
from collections import deque
from typing import List, Sequence

from animecli.errors import AnimeError

MIN_VERSION = (7, 1)  # -apply_cropping: reading sources with container cropping (MP4 clap, Matroska PixelCrop)


@functools.lru_cache(maxsize=None)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg executable, checked to be recent enough (imageio-ffmpeg's, or IMAGEIO_FFMPEG_EXE)."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    banner = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True,
                            errors="replace").stdout
    match = re.search(r"version n?(\d+)\.(\d+)", banner)
    if match and (int(match.group(1)), int(match.group(2))) < MIN_VERSION:
        version = ".".join(match.groups())
        raise AnimeError(f"video needs ffmpeg {'.'.join(map(str, MIN_VERSION))} or newer, {exe} is {version}",
                         hint="pip install -U 'imageio-ffmpeg>=0.8' (Python 3.10+), or point IMAGEIO_FFMPEG_EXE "
                              "at a newer ffmpeg")
    return exe


class FFmpegProcess:
    """One running ffmpeg; its stderr is drained by a thread (last lines kept) so pipes never stall."""

    def __init__(self, args: Sequence[str], stdin: bool = False, stdout: bool = False, loglevel: str = "error"):
        command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", loglevel, *args]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self._lines: deque = deque(maxlen=400)
        self._drain = threading.Thread(target=self._read_stderr, name="ffmpeg-stderr", daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            self._lines.append(raw.decode("utf-8", "replace").rstrip())

    @property
    def stderr_lines(self) -> List[str]:
        """What ffmpeg printed on stderr so far (the last few hundred lines)."""
        return list(self._lines)

    def last_error(self) -> str:
        """ffmpeg's last meaningful stderr line, for error messages."""
        for line in reversed(self._lines):
            text = re.sub(r"^\[[^\]]*\]\s*", "", line).strip()
            if text and not text.startswith("Conversion failed"):
                return text
        return "ffmpeg failed without a message"

    def wait(self) -> int:
        """Close our end of stdin, wait for ffmpeg to finish and return its exit code."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        code = self.proc.wait()
        self._drain.join()
        self._close_pipes()
        return code

    def kill(self) -> None:
        """Stop ffmpeg now (if it still runs) and reap it: no orphan, no zombie."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._drain.join()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def run(args: Sequence[str], loglevel: str = "error") -> tuple:
    """Run ffmpeg to completion; returns (exit code, stdout bytes, stderr lines)."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", loglevel, *args]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
    return done.returncode, done.stdout, done.stderr.decode("utf-8", "replace").splitlines()
