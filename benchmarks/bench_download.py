"""Download the real 80 MB VGG19 h5 from a local HTTP server through the weights cache; print JSON.

Each measurement runs in a fresh child process that reports its own wall time and peak RSS. Baselines
from the same run: a child that only imports the cache module (memory floor), one that hashes the file
from disk in chunks (time floor for the verification), and one that reads the whole file into memory
(what a non-streaming download would cost).

    python benchmarks/bench_download.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
H5 = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

CHILD = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
what, arg = sys.argv[1], sys.argv[2]
from animecli.weights import cache
start = time.perf_counter()
if what == "download":
    path = cache.ensure_weights("vgg19", cache_dir=Path(arg))
    assert path.stat().st_size == 80_134_624
elif what == "hash":
    h = hashlib.sha256()
    with open(arg, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
elif what == "read_all":
    data = Path(arg).read_bytes()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": round(seconds, 3),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - http.server API
        pass


def _child(what: str, arg: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, what, arg], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    weights = (args.shared / "weights").resolve()
    handler = functools.partial(_QuietHandler, directory=str(weights))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            override = Path(tmp) / "registry.json"
            url = f"http://127.0.0.1:{server.server_address[1]}/{H5}"
            override.write_text(json.dumps({"vgg19": {"urls": [url], "replace": True}}))
            env = dict(os.environ, PYTHONPATH=str(ROOT), ANIME_REGISTRY=str(override),
                       ANIME_HOME=str(Path(tmp) / "home"))
            env.pop("ANIME_OFFLINE", None)
            result = {
                "file_bytes": (weights / H5).stat().st_size,
                "download_verify_manifest": _child("download", str(Path(tmp) / "cache"), env),
                "cached_load_rehash": _child("download", str(Path(tmp) / "cache"), env),
                "baseline_import_only": _child("none", "", env),
                "baseline_sha256_from_disk": _child("hash", str(weights / H5), env),
                "baseline_read_whole_file": _child("read_all", str(weights / H5), env),
            }
    finally:
        server.shutdown()
        server.server_close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
