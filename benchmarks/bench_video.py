"""Benchmark ``anime video``: pipeline frames/s against the stylization-only rate measured in the same run,
and the peak memory of a 1-minute 720p conversion. Prints JSON.

    python benchmarks/bench_video.py [--frames 12] [--rounds 3] [--max-size 256] [--weights W] [--memory-seconds 60]

Throughput: for each size (640x360, 1280x720) a clip is made with ffmpeg, its frames decoded into memory
and stylized one by one (the baseline: stylization alone, no I/O), then the same warm stylizer runs through
the whole pipeline (decode + stylize + encode to H.264 + audio), interleaved over a few rounds; the best
time of each is kept (the machine may be shared). overhead_pct = pipeline time / stylization time - 1:
what decoding and encoding add when they overlap with stylization. ``io_only_fps`` is the
pipeline with an identity frame function (decode + encode alone).

Memory: a child process converts a ``--memory-seconds`` 720p clip with a cheap frame function (colour
inversion: with the real generator a minute of video takes ~25 minutes at --max-size 256 on 2 CPU cores);
the peak RSS of Python, of its ffmpeg children and of both together are reported next to what holding
every frame would take. The generator's own memory depends on the batch and processing size, not on the
video's length (``stylizer_peak_rss_gb``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_WEIGHTS = ROOT.parent / "shared" / "fixtures" / "generator" / "random_generator_bl.pt"
SIZES = ((640, 360), (1280, 720))


def make_clip(path: Path, width: int, height: int, frames: int, rate: int = 24) -> Path:
    """A moving pattern with a tone, H.264 + AAC, like a camera clip."""
    from animecli.video import ffmpeg

    code, _, errors = ffmpeg.run([
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={rate}", "-f", "lavfi", "-i",
        "sine=frequency=440", "-frames:v", str(frames), "-t", f"{frames / rate:.4f}", "-c:v", "libx264",
        "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-y", str(path)])
    if code:
        raise RuntimeError(errors[-1] if errors else code)
    return path


def throughput(stylizer, folder: Path, width: int, height: int, frames: int, rounds: int) -> dict:
    from animecli.pipelines.video import VideoOptions, prepare_video, run_video
    from animecli.video.probe import probe
    from animecli.video.reader import FrameReader

    clip = make_clip(folder / f"clip_{width}x{height}.mp4", width, height, frames)
    decoded = list(FrameReader(probe(clip)))
    stylizer.stylize_batch(decoded[:1])  # compile for this size (not timed)
    job = prepare_video(clip, folder / f"out_{width}x{height}.mp4", VideoOptions(overwrite=True))
    stylize_times, pipeline_times, io_times = [], [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        began = time.perf_counter()
        for frame in decoded:
            stylizer.stylize_batch([frame])
        stylize_times.append(time.perf_counter() - began)
        pipeline_times.append(run_video(job, stylizer.stylize_batch).seconds)
        io_times.append(run_video(job, lambda batch: batch).seconds)
    best_stylize, best_pipeline = min(stylize_times), min(pipeline_times)
    return {
        "size": f"{width}x{height}", "frames": frames, "rounds": rounds,
        "stylize_only_fps": round(frames / best_stylize, 3),
        "pipeline_fps": round(frames / best_pipeline, 3),
        "overhead_pct": round(100 * (best_pipeline / best_stylize - 1), 1),
        "io_only_fps": round(frames / min(io_times), 2),
        "stylize_only_s": [round(t, 2) for t in stylize_times],
        "pipeline_s": [round(t, 2) for t in pipeline_times],
    }


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(status.split(f"{field}:")[1].split()[0]) if f"{field}:" in status else 0


def _children(pid: int) -> list:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def memory_child(seconds: int) -> None:
    """Run in a fresh process: convert a long 720p clip with a cheap frame function, print peak memory.

    Memory is sampled every 0.1 s from /proc (this process + its ffmpeg children, RSS), since
    getrusage's maxrss carries over the parent's figure through fork/exec.
    """
    import threading

    from animecli.pipelines.video import VideoOptions, prepare_video, run_video

    peaks = {"ffmpeg": 0, "total": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            ffmpeg_kb = sum(_rss_kb(pid) for pid in _children(os.getpid()))
            peaks["ffmpeg"] = max(peaks["ffmpeg"], ffmpeg_kb)
            peaks["total"] = max(peaks["total"], ffmpeg_kb + _rss_kb(os.getpid()))

    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "long_720p.mp4", 1280, 720, seconds * 24)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.perf_counter()
        result = run_video(prepare_video(clip, Path(tmp) / "out.mp4", VideoOptions()),
                           lambda batch: [255 - frame for frame in batch])
        wall = time.perf_counter() - began
        done.set()
        sampler.join()
    print(json.dumps({
        "clip": f"{seconds} s, 1280x720, 24 fps, H.264 + AAC", "frames": result.frames,
        "frame_function": "colour inversion (cheap stand-in for the generator)", "batch_size": 1,
        "python_peak_rss_mb": round(_rss_kb(os.getpid(), "VmHWM") / 1024, 1),
        "ffmpeg_peak_rss_mb": round(peaks["ffmpeg"] / 1024, 1),
        "total_peak_rss_mb": round(peaks["total"] / 1024, 1),
        "all_frames_would_take_mb": round(result.frames * 1280 * 720 * 3 / 2 ** 20, 1),
        "wall_s": round(wall, 1), "fps": round(result.frames / wall, 2),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=12, help="frames per throughput clip")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats; the best of each is kept")
    parser.add_argument("--max-size", type=int, default=256,
                        help="stylizer --max-size (0: full size; full 720p needs ~20+ GB on CPU)")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--memory-seconds", type=int, default=60, help="0 skips the memory run")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    from animecli import runtime

    runtime.prepare_environment()  # before anything imports MindSpore (the weights reader may)
    from animecli.inference.stylizer import StylizeSettings, open_stylizer
    from animecli.weights.resolve import load_generator_weights

    report = {"device": args.device, "cpu_count": os.cpu_count(), "weights": args.weights.name,
              "max_size": args.max_size or None, "batch_size": 1}
    stylizer = open_stylizer(load_generator_weights(weights=args.weights),
                             StylizeSettings(device=args.device, max_size=args.max_size or None))
    with tempfile.TemporaryDirectory() as tmp:
        report["throughput"] = [throughput(stylizer, Path(tmp), w, h, args.frames, args.rounds) for w, h in SIZES]
    report["stylizer_peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)
    if args.memory_seconds:
        child = subprocess.run([sys.executable, __file__, "--memory-child", str(args.memory_seconds)],
                               capture_output=True, text=True, check=True)
        report["memory"] = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
