"""Run the real ``anime`` command on a pseudo-terminal of a given size and read back the screen it leaves."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

from tests.support.cli import child_env

_TOKEN = re.compile(r"(\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r|\n)")


@dataclass
class TerminalRun:
    returncode: int
    raw: str  # everything written, escape sequences included
    screen: List[str]  # the lines as a terminal of that width shows them at the end


def screen_lines(raw: str, columns: int) -> List[str]:
    """What a ``columns``-wide terminal shows after ``raw``: text wraps at the edge; cursor-up, carriage
    return and erase-line are followed (what rich's live display uses); colours are dropped."""
    lines: List[List[str]] = [[]]
    row = col = 0
    for token in _TOKEN.split(raw):
        if not token:
            continue
        if token == "\n":
            row, col = row + 1, 0
        elif token == "\r":
            col = 0
        elif token.startswith("\x1b["):
            if token[-1] == "A":
                row = max(0, row - int(token[2:-1] or 1))
            elif token[-1] == "K":
                lines[row] = [] if token[2:-1] == "2" else lines[row][:col]
            continue  # colours, cursor visibility
        elif token.startswith("\x1b]"):
            continue
        else:
            for char in token:
                if col == columns:
                    row, col = row + 1, 0
                while len(lines) <= row:
                    lines.append([])
                line = lines[row]
                line.extend(" " * (col - len(line) + 1) if len(line) <= col else "")
                line[col] = char
                col += 1
        while len(lines) <= row:
            lines.append([])
    return ["".join(line).rstrip() for line in lines]


def run_anime_in_terminal(*args, cwd=None, env=None, columns: int = 80, rows: int = 40, timeout: float = 600,
                          on_output: Optional[Callable[[str, subprocess.Popen], None]] = None) -> TerminalRun:
    """``python -m animecli ARGS`` with stdout and stderr on a ``columns`` x ``rows`` pseudo-terminal.

    ``on_output(text so far, process)`` is called after each read (e.g. to send a signal at some point)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = child_env({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows), **(env or {})})
    process = subprocess.Popen([sys.executable, "-m", "animecli", *map(str, args)], cwd=cwd, env=full_env,
                               stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks: List[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
                if on_output is not None:
                    on_output(b"".join(chunks).decode(errors="replace"), process)
            elif process.poll() is not None:
                break
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    raw = b"".join(chunks).decode(errors="replace")
    return TerminalRun(returncode, raw, screen_lines(raw, columns))
