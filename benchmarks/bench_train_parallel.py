"""Training throughput of ``anime train`` single-process and data-parallel over ``msrun`` workers: init step
and GAN step (one D + one G update) on fixed random batches, and the data pipeline apart
(``bench_train_step.py`` details the single-process steps).

Prints one JSON object. Each measurement runs in its own process (clean peak memory): compile time of the
first step, the mean of ``--steps`` further steps, images/s (all workers together) and the peak RSS of each
process. Baseline measured in the same run: one generator forward (inference) on the same batch.

    python benchmarks/bench_train_parallel.py --vgg ../shared/weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
    python benchmarks/bench_train_parallel.py --vgg ... --workers 2        # also 2 msrun workers (batch per worker)
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


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(phase: str, vgg: str, size: int, batch: int, steps: int, distributed: bool) -> dict:
    """Run in a worker process: build the networks, time ``phase`` steps, return the figures."""
    import numpy as np

    from animecli import runtime
    from animecli.pipelines.train import build_steps
    from animecli.training.config import build_config
    from animecli.training.distributed import Cluster, join_cluster

    runtime.configure("cpu", mode="graph")
    cluster = join_cluster() if distributed else Cluster()
    import mindspore as ms

    rng = np.random.default_rng(cluster.rank)
    photo, anime, gray, smooth = (ms.Tensor(rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32))
                                  for _ in range(4))
    if phase == "forward":  # the baseline: inference only
        from animecli.models.generator import Generator

        generator = Generator()
        call = lambda: generator(photo).asnumpy()  # noqa: E731
    else:
        config = build_config("Hayao", img_size=size, batch_size=batch)
        train_steps, _ = build_steps(config, Path(vgg), distributed)
        call = (lambda: train_steps.init_step(photo)) if phase == "init" else \
            (lambda: train_steps.gan_step(photo, anime, gray, smooth))
    result = {"rank": cluster.rank, "world_size": cluster.world_size}
    tick = time.perf_counter()
    call()
    result["first_step_s"] = round(time.perf_counter() - tick, 2)
    times = []
    for _ in range(steps):
        tick = time.perf_counter()
        call()
        times.append(time.perf_counter() - tick)
    result["step_s"] = round(sum(times) / len(times), 3)
    result["step_s_all"] = [round(t, 3) for t in times]
    result["peak_rss_mb"] = round(_peak_mb())
    return result


def measure_data(size: int, batch: int, folder: Path, workers: int = 2, count: int = 32) -> dict:
    """Images/s of the training data pipeline (decode, crop, resize, gray copies) on 640x480 JPEGs."""
    import cv2
    import numpy as np

    from animecli.training.data import BatchStream, find_dataset

    rng = np.random.default_rng(0)
    for sub in ("train_photo", "Bench/style", "Bench/smooth"):
        (folder / sub).mkdir(parents=True)
        for i in range(count):
            small = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / sub / f"{i:03d}.jpg"), cv2.resize(small, (640, 480)))
    files = find_dataset(folder, "Bench", batch)
    loader = BatchStream(files, img_size=size, batch_size=batch, seed=0, start_epoch=0, end_epoch=1,
                         workers=workers)
    tick = time.perf_counter()
    batches = sum(1 for _ in loader)
    seconds = time.perf_counter() - tick
    # each step decodes batch photos + batch style + batch smooth images
    return {"phase": "data", "workers": workers, "batch": batch, "img_size": size, "steps": batches,
            "steps_per_s": round(batches / seconds, 2), "decoded_images_per_s": round(3 * batches * batch / seconds, 1)}


def _worker_main(args) -> None:
    figures = measure(args.phase, args.vgg, args.size, args.batch, args.steps, args.distributed)
    target = Path(args.result_dir) / f"{args.phase}_rank{figures['rank']}.json"
    target.write_text(json.dumps(figures))


def _run(args, phase: str, workers: int, result_dir: Path) -> dict:
    base = [__file__, "--worker", "--phase", phase, "--vgg", args.vgg, "--size", str(args.size), "--batch",
            str(args.batch), "--steps", str(args.steps), "--result-dir", str(result_dir)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), GLOG_v="3")
    if workers == 1:
        command = [sys.executable, *base]
    else:
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # msrun runs `python`
        command = [sys.executable, "-m", "mindspore.parallel.cluster.run", f"--worker_num={workers}",
                   f"--local_worker_num={workers}", f"--master_port={args.port}",
                   f"--log_dir={result_dir / 'msrun_logs'}", "--join=True", "--", "python", *base, "--distributed"]
    tick = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=result_dir, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    if completed.returncode:
        raise SystemExit(f"{phase} x{workers} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    ranks = [json.loads((result_dir / f"{phase}_rank{r}.json").read_text()) for r in range(workers)]
    step = max(r["step_s"] for r in ranks)
    return {
        "phase": phase, "workers": workers, "batch_per_worker": args.batch, "img_size": args.size,
        "first_step_s": max(r["first_step_s"] for r in ranks), "step_s": step,
        "images_per_s": round(workers * args.batch / step, 3),
        "peak_rss_mb_per_worker": [r["peak_rss_mb"] for r in ranks], "process_wall_s": round(wall, 1),
        "step_s_all": [r["step_s_all"] for r in ranks],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vgg", required=True, help="VGG19 weights (Keras .h5)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4, help="images per step per worker")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the first")
    parser.add_argument("--workers", type=int, default=1, help="also measure with this many msrun workers")
    parser.add_argument("--phases", default="init,gan", help="which steps to time: init, gan or both")
    parser.add_argument("--port", type=int, default=8119)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker_main(args)
        return
    args.vgg = str(Path(args.vgg).resolve())
    report = {"cpu_count": os.cpu_count(), "load_avg_at_start": os.getloadavg(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="anime-bench-") as tmp:
        for workers in sorted({1, args.workers}):
            phases = [p for p in args.phases.split(",") if p in ("init", "gan")]
            phases = ["forward", *phases] if workers == 1 else phases
            for phase in phases:
                result_dir = Path(tmp) / f"{phase}_x{workers}"
                result_dir.mkdir()
                report["runs"].append(_run(args, phase, workers, result_dir))
        report["data"] = measure_data(args.size, args.batch, Path(tmp) / "data")
    baseline = next(r for r in report["runs"] if r["phase"] == "forward")
    for run in report["runs"]:
        run["vs_forward"] = round(run["step_s"] / baseline["step_s"], 2)
    report["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
