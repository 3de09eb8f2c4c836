"""A real HTTP file server on 127.0.0.1 for download tests, with switches for the faults a network has
(and a Reporter that records progress).

Serves ``{url path: local file}`` with HTTP Range support. Per path, a ``Fault`` can: answer 404,
answer 500 to the first requests, drop the connection part-way, ignore Range, corrupt one byte,
sleep before answering (past a client's timeout), or hold the body until released.
"""

from __future__ import annotations

import re
import shutil
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import urlsplit

CHUNK = 64 * 1024
#: Where the tests serve the real VGG19 h5.
H5 = "/vgg19.h5"


@dataclass
class Fault:
    """What goes wrong for one path. Counts apply to the first N requests of that path."""

    not_found: bool = False
    errors_first: int = 0  # answer HTTP 500 to this many requests
    drop_at: Optional[int] = None  # close the connection once the body reaches this file offset...
    drop_times: int = 1  # ...in this many requests
    ignore_range: bool = False  # always answer 200 with the whole file
    corrupt_at: Optional[int] = None  # flip the bits of the byte at this offset, in every response
    delay: float = 0.0  # seconds to sleep before answering...
    delay_times: int = 1_000_000  # ...in this many requests
    hold: Optional[threading.Event] = None  # send the headers and the first chunk, then wait for this event


@dataclass
class Request:
    path: str
    range: Optional[str]
    status: int


@dataclass
class _State:
    files: Dict[str, Path]
    faults: Dict[str, Fault] = field(default_factory=dict)
    log: List[Request] = field(default_factory=list)
    arrivals: Dict[str, int] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "FixtureServer"

    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass

    def do_GET(self):  # noqa: N802 - http.server API
        state = self.server.state
        path = urlsplit(self.path).path
        range_header = self.headers.get("Range")
        fault = state.faults.get(path, Fault())
        with state.lock:
            number = state.arrivals[path] = state.arrivals.get(path, 0) + 1
        if fault.delay and number <= fault.delay_times:
            threading.Event().wait(fault.delay)
        if path not in state.files or fault.not_found:
            return self._status(path, range_header, 404)
        if number <= fault.errors_first:
            return self._status(path, range_header, 500)
        source = state.files[path]
        size = source.stat().st_size
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and not fault.ignore_range:
            start = int(match.group(1))
            if start >= size:
                return self._status(path, range_header, 416)
        status = 206 if start else 200
        self._record(path, range_header, status)
        self.send_response(status)
        self.send_header("Content-Length", str(size - start))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        drop_at = fault.drop_at if number <= fault.drop_times else None
        self._send_body(source, start, size if drop_at is None else max(start, min(drop_at, size)), fault)
        if drop_at is not None:
            self.close_connection = True

    def _send_body(self, source: Path, start: int, stop: int, fault: Fault) -> None:
        with open(source, "rb") as f:
            f.seek(start)
            position = start
            first = True
            while position < stop:
                block = bytearray(f.read(min(CHUNK, stop - position)))
                if fault.corrupt_at is not None and position <= fault.corrupt_at < position + len(block):
                    block[fault.corrupt_at - position] ^= 0xFF
                try:
                    self.wfile.write(block)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return
                position += len(block)
                if first and fault.hold is not None:
                    self.server.state.arrived.set()
                    fault.hold.wait()
                first = False

    def _status(self, path: str, range_header: Optional[str], status: int) -> None:
        self._record(path, range_header, status)
        body = f"{status}\n".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self, path: str, range_header: Optional[str], status: int) -> None:
        with self.server.state.lock:
            self.server.state.log.append(Request(path, range_header, status))


class FixtureServer(ThreadingHTTPServer):
    """``with FixtureServer({"/a.h5": path}) as server: server.url("/a.h5")``."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, files: Dict[str, Path]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = _State(files=dict(files))
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> "FixtureServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for fault in self.state.faults.values():
            if fault.hold is not None:
                fault.hold.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address) -> None:
        """Clients that time out close their end: nothing to report."""

    def url(self, path: str) -> str:
        """Full URL of a served path."""
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def fault(self, path: str, **switches) -> Fault:
        """Set the faults of ``path`` (see ``Fault``)."""
        self.state.faults[path] = Fault(**switches)
        return self.state.faults[path]

    def requests(self, path: str) -> List[Request]:
        """The requests received for ``path`` so far."""
        with self.state.lock:
            return [r for r in self.state.log if r.path == path]


def copy_with_flipped_byte(source: Path, dest: Path, offset: int) -> Path:
    """A copy of ``source`` with one byte changed (for cache-corruption tests)."""
    shutil.copyfile(source, dest)
    with open(dest, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    return dest


class Recorder:
    """A Reporter that remembers what it was told."""

    def __init__(self):
        self.starts, self.advanced, self.warnings, self.stops = [], 0, [], 0

    def start(self, description, total, unit="items"):
        self.starts.append((description, total, unit))

    def advance(self, amount=1):
        self.advanced += amount

    def warn(self, message):
        self.warnings.append(message)

    def stop(self):
        self.stops += 1
