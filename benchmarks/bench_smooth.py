"""Throughput of edge smoothing (``anime smooth``) against the per-pixel reference, in the same run.

Prints JSON. Two levels, at 256 (the default ``--size``) and at 1920x1080 with ``--size 0``:
- ``kernel``: ``edge_smooth`` on decoded images vs a straightforward per-pixel Python implementation
  of the reference (outputs checked bit-identical);
- ``files``: the whole pipeline (decode, smooth, encode, atomic write) over a folder, with 1 worker
  and with all cores, vs the reference script's read / per-pixel loop / ``cv2.imwrite``.

    PYTHONPATH=. python benchmarks/bench_smooth.py [--files 128] [--hd-files 16] [--hd-reference 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from animecli.ops.smooth import edge_mask, edge_smooth  # noqa: E402
from animecli.pipelines._batch import default_workers  # noqa: E402
from animecli.pipelines.smooth import smooth_folder  # noqa: E402
from benchmarks.smooth_oracle import per_pixel_edge_smooth  # noqa: E402

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 3)


def _kernel(pictures, size, reference_count, min_seconds=2.0):
    """Images/s of ``edge_smooth`` (repeated for at least ``min_seconds``) and of the per-pixel loop."""
    subset = pictures[:reference_count]
    start = time.perf_counter()
    expected = [per_pixel_edge_smooth(p, size) for p in subset]
    reference_seconds = time.perf_counter() - start
    identical = all(np.array_equal(edge_smooth(p, size), e) for p, e in zip(subset, expected))
    done, start = 0, time.perf_counter()
    while True:
        for picture in subset:
            edge_smooth(picture, size)
        done += len(subset)
        ours_seconds = time.perf_counter() - start
        if ours_seconds >= min_seconds:
            break
    ours = _rate(done, ours_seconds)
    reference = _rate(len(subset), reference_seconds)
    return {"images": len(subset), "ours_images_per_s": ours, "reference_images_per_s": reference,
            "speedup": round(ours / reference, 1), "bit_identical": identical,
            "smoothed_fraction": round(float(np.mean([_smoothed_fraction(p, size) for p in subset])), 3)}


def _smoothed_fraction(bgr, size):
    """Share of pixels near edges: the per-pixel loop's work grows with it."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return float((edge_mask(cv2.resize(gray, (size, size)) if size else gray) != 0).mean())


def _reference_files(files, output, size):
    """The reference script's per-file work: ``cv2.imread``, the per-pixel loop, ``cv2.imwrite``."""
    start = time.perf_counter()
    for path in files:
        cv2.imwrite(str(output / path.name), per_pixel_edge_smooth(cv2.imread(str(path)), size))
    return time.perf_counter() - start


def _files(folder, tmp, size, reference_count, worker_counts):
    files = sorted(folder.iterdir())
    rates = {}
    for workers in worker_counts:
        output = tmp / f"out_{size}_{workers}"
        result = smooth_folder(folder, output, size=size, workers=workers)
        assert not result.failed, result.failed
        rates[str(workers)] = _rate(len(result.done), result.seconds)
        shutil.rmtree(output)
    reference_out = tmp / "reference"
    reference_out.mkdir(exist_ok=True)
    reference = _rate(reference_count, _reference_files(files[:reference_count], reference_out, size))
    return {"files": len(files), "ours_images_per_s_by_workers": rates, "reference_images_per_s": reference,
            "reference_files": reference_count,
            "speedup_1_worker": round(rates[str(worker_counts[0])] / reference, 1),
            "speedup_all_workers": round(rates[str(worker_counts[-1])] / reference, 1)}


def _mosaics(photos, count):
    """1920x1080 pictures with photo-like detail: the photos at about native scale, in rolled strips."""
    strip = np.concatenate([cv2.resize(p, (round(p.shape[1] * 360 / p.shape[0]), 360), interpolation=cv2.INTER_AREA)
                            for p in photos], axis=1)
    rows = [np.roll(strip, -shift * strip.shape[1] // 7, axis=1) for shift in range(3 * count)]
    return [np.concatenate(rows[3 * i:3 * i + 3], axis=0)[:, :1920].copy() for i in range(count)]


def _fill(folder, pictures, count, ext):
    folder.mkdir()
    for index in range(count):
        cv2.imwrite(str(folder / f"{index:04d}{ext}"), pictures[index % len(pictures)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("ANIME_SHARED", ROOT.parent / "shared")))
    parser.add_argument("--files", type=int, default=128, help="files in the 256 folder run")
    parser.add_argument("--hd-files", type=int, default=16, help="files in the 1920x1080 folder run")
    parser.add_argument("--hd-reference", type=int, default=2, help="1920x1080 images given to the per-pixel loop")
    args = parser.parse_args()

    photos = [cv2.imread(str(args.shared / "fixtures" / "photos" / name)) for name in PHOTOS]
    hd = _mosaics(photos, 4)
    upscaled = [cv2.resize(p, (1920, 1080), interpolation=cv2.INTER_CUBIC) for p in photos]
    worker_counts = sorted({1, default_workers()})
    report = {
        "machine": {"cpus": default_workers(), "load_average_1min": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "opencv": cv2.__version__, "processor": platform.processor() or platform.machine()},
        "inputs": {"256": f"the fixture photos {', '.join(PHOTOS)} (read, resized to 256 by the tool)",
                   "1920x1080": "mosaics of the photos at about native scale (photo-like edge density)",
                   "1920x1080_upscaled": "the photos upscaled to 1920x1080: few edges, the per-pixel loop's best case"},
        "kernel": {"256": _kernel(photos, 256, len(photos)),
                   "1920x1080_size0": _kernel(hd, 0, args.hd_reference),
                   "1920x1080_upscaled_size0": _kernel(upscaled, 0, 1)},
    }
    with tempfile.TemporaryDirectory(prefix="bench_smooth_") as tmp:
        tmp = Path(tmp)
        _fill(tmp / "style256", photos, args.files, ".png")
        _fill(tmp / "stylehd", hd, args.hd_files, ".png")
        report["files"] = {
            "256": _files(tmp / "style256", tmp, 256, len(photos), worker_counts),
            "1920x1080_size0": _files(tmp / "stylehd", tmp, 0, args.hd_reference, worker_counts),
        }
    report["machine"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
