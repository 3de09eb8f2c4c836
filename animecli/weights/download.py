"""Streaming HTTP download of one file: resume with Range, bounded retries with backoff, timeout.

Only the standard library (urllib). Bytes go straight to disk as they arrive (up to 1 MiB at a time); progress counts
bytes received, never bytes requested. A server that has not answered after ``WAIT_NOTE_SECONDS``
gets a warning naming it, so a silent wait never looks like a hang.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Optional, Sequence

from animecli import __version__, settings
from animecli.errors import DownloadError
from animecli.progress import NullReporter, Reporter

CHUNK = 1 << 20
WAIT_NOTE_SECONDS = 3.0  # a slow answer worth mentioning; most servers answer well within a second
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
                   socket.timeout)


@dataclass(frozen=True)
class DownloadPolicy:
    """How patient a download is: socket ``timeout`` (s), ``retries`` per URL, first ``backoff`` delay (s)."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0

    @classmethod
    def from_env(cls) -> "DownloadPolicy":
        """The policy with ``ANIME_DOWNLOAD_TIMEOUT`` / ``ANIME_DOWNLOAD_RETRIES`` applied."""
        return cls(timeout=settings.download_timeout(), retries=settings.download_retries())

    def delay(self, failure: int) -> float:
        """Seconds to wait before retry number ``failure`` (1-based): exponential, capped."""
        return min(self.backoff * 2 ** (failure - 1), self.max_backoff)


class _Retry(Exception):
    """An attempt failed in a way that another attempt may fix."""


class _Progress:
    """Reports received bytes to a reporter, never counting a byte twice after a restart."""

    def __init__(self, reporter: Reporter, description: str, expected: Optional[int]):
        self.reporter, self.description, self.expected = reporter, description, expected
        self.shown = 0
        self.started = False

    def begin(self, total: Optional[int]) -> None:
        if not self.started:
            self.reporter.start(self.description, self.expected or total, unit="bytes")
            self.started = True

    def update(self, position: int) -> None:
        if position > self.shown:
            self.reporter.advance(position - self.shown)
            self.shown = position

    def end(self) -> None:
        if self.started:
            self.reporter.stop()


def download(urls: Sequence[str], dest: Path, *, expected_size: Optional[int] = None,
             description: str = "", reporter: Optional[Reporter] = None,
             policy: Optional[DownloadPolicy] = None, resume: bool = False) -> str:
    """Fetch the first URL that works into ``dest`` (created or truncated) and return that URL.

    With ``resume``, the first URL continues ``dest``'s partial content with a Range request (a server
    that ignores it sends the whole file again). Mirrors are tried in order; each gets ``policy.retries``
    retries after failures that made no progress (connection errors, timeouts, 5xx). Raises
    ``DownloadError`` naming every failure.
    """
    policy = policy or DownloadPolicy.from_env()
    reporter = reporter or NullReporter()
    progress = _Progress(reporter, description or dest.name, expected_size)
    failures = []
    try:
        for number, url in enumerate(urls):
            try:
                with open(dest, "r+b" if resume and number == 0 and dest.is_file() else "wb") as out:
                    out.seek(0, io.SEEK_END)
                    _download_url(url, out, progress, policy, reporter)
                return url
            except DownloadError as err:
                failures.append(str(err))
    finally:
        progress.end()
    raise DownloadError(f"could not download {dest.name}: " + "; ".join(failures))


def _download_url(url: str, out: BinaryIO, progress: _Progress, policy: DownloadPolicy, reporter: Reporter) -> None:
    offset = high_water = out.tell()
    failures = 0
    while True:
        try:
            note = _wait_note(url, reporter, policy, failures + 1)
            try:
                offset = _attempt(url, out, offset, progress, policy, on_data=note.cancel)
            finally:
                note.cancel()
            return
        except _Retry as err:
            offset = out.tell()
            if offset > high_water:
                high_water, failures = offset, 0  # progress was made: the budget starts again
            failures += 1
            if failures > policy.retries:
                attempts = f"{failures} attempts" if failures > 1 else "1 attempt"
                raise DownloadError(f"{url}: {err} (gave up after {attempts})") from err
            time.sleep(policy.delay(failures))


def _wait_note(url: str, reporter: Reporter, policy: DownloadPolicy, attempt: int) -> threading.Timer:
    """A started timer that warns, after ``WAIT_NOTE_SECONDS``, that the attempt still waits for data;
    cancel it when data arrives."""
    host = urllib.parse.urlsplit(url).netloc or url
    tries = f", attempt {attempt} of {policy.retries + 1}" if policy.retries else ""
    note = threading.Timer(WAIT_NOTE_SECONDS, reporter.warn, args=(
        f"waiting for {host} to answer ({url}): giving up after {policy.timeout:g} s without data{tries}",))
    note.daemon = True
    note.start()
    return note


def _attempt(url: str, out: BinaryIO, offset: int, progress: _Progress, policy: DownloadPolicy,
             on_data: Callable[[], None]) -> int:
    """One HTTP request; appends to ``out`` from ``offset`` and returns the final size."""
    headers = {"User-Agent": f"animecli/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=policy.timeout) as response:
            offset = _position_for(response, out, offset)
            length = response.headers.get("Content-Length")
            end = offset + int(length) if length and length.isdigit() else None
            progress.begin(end)
            while True:
                chunk = response.read1(CHUNK)  # what has arrived: a killed process keeps it for a resume
                if not chunk:
                    break
                on_data()
                out.write(chunk)
                offset += len(chunk)
                progress.update(offset)
    except urllib.error.HTTPError as err:
        if err.code in _RETRYABLE_STATUS:
            raise _Retry(f"HTTP {err.code} {err.reason}") from err
        if err.code == 416:  # our partial file is no prefix of what is there now: start again
            out.seek(0)
            out.truncate()
            raise _Retry("HTTP 416 (range not satisfiable), restarting") from err
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from err
    except _NETWORK_ERRORS as err:
        raise _Retry(_describe(err, policy)) from err
    if end is not None and offset < end:
        raise _Retry(f"connection closed after {offset} of {end} bytes")
    return offset


def _position_for(response, out: BinaryIO, offset: int) -> int:
    """Where the response's bytes go: resume at ``offset`` on a 206, restart when Range was ignored."""
    if offset and response.status == 206:
        match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
        start = int(match.group(1)) if match else None
        if start is not None and start <= offset:
            out.seek(start)
            out.truncate()
            return start
    elif response.status in (200, None):  # None: a file:// URL
        if offset:  # Range was ignored: the body is the whole file again
            out.seek(0)
            out.truncate()
        return 0
    raise _Retry(f"unexpected HTTP {response.status} response")


def _describe(err: BaseException, policy: DownloadPolicy) -> str:
    reason = getattr(err, "reason", None)
    if isinstance(err, (TimeoutError, socket.timeout)) or isinstance(reason, (TimeoutError, socket.timeout)):
        return f"timed out (no data for {policy.timeout:g} s)"
    if reason is not None:
        return f"cannot connect: {reason}"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
