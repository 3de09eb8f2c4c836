"""Time the compiled training steps (init step; GAN step = one D + one G update) and print JSON.

Each step kind runs in its own child process, so each reports its own peak RSS (MindSpore's CPU
convolution-gradient kernels keep a large per-kernel workspace, so memory depends on which graphs exist).
Baseline measured in the same run: fp32 matmul throughput (GFLOP/s) through MindSpore, before and
after, so numbers from machines of different speed (or a CPU shared with other work) can be compared.

    PYTHONPATH=. python benchmarks/bench_train_step.py --batch 4 --size 256 --steps 3 [--fusion off]

``--fusion on`` (the default) is what ``anime train`` runs: MindSpore's operator fusion on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_VGG = (Path(__file__).resolve().parents[2] / "shared" / "weights"
               / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")


def _matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    import mindspore as ms
    import numpy as np

    a = ms.Tensor(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32))
    ms.ops.matmul(a, a).asnumpy()
    start = time.perf_counter()
    for _ in range(repeats):
        out = ms.ops.matmul(a, a)
    out.asnumpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def _time_calls(fn, steps: int) -> dict:
    start = time.perf_counter()
    fn()  # compiles the graph
    first = time.perf_counter() - start
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()  # returns python floats: the step has finished
        times.append(time.perf_counter() - start)
    return {"first_call_s": round(first, 3), "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3), "max_s": round(max(times), 3), "timed_calls": steps}


def _run_step(args) -> dict:
    """Build TrainSteps and time one step kind in this process."""
    import mindspore as ms
    import numpy as np

    from animecli.models.discriminator import Discriminator
    from animecli.models.generator import Generator
    from animecli.models.vgg19 import load_vgg19
    from animecli.training.steps import LossConfig, TrainSteps

    ms.set_seed(0)
    steps = TrainSteps(Generator(), Discriminator(), load_vgg19(args.vgg), LossConfig())
    rng = np.random.default_rng(0)
    shape = (args.batch, 3, args.size, args.size)
    photo, anime, gray, smooth = (ms.Tensor(rng.uniform(-1, 1, shape).astype(np.float32)) for _ in range(4))
    from animecli import runtime

    if args.step == "init":
        step = lambda: steps.init_step(photo)  # noqa: E731
    else:
        step = lambda: steps.gan_step(photo, anime, gray, smooth)  # noqa: E731
    with runtime.compiling():  # the fusion compiler writes into the cwd
        result = _time_calls(step, args.steps)
    result["images_per_s"] = round(args.batch / result["median_s"], 3)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def _child(args, step: str) -> dict:
    command = [sys.executable, __file__, "--step", step, "--batch", str(args.batch), "--size", str(args.size),
               "--steps", str(args.steps), "--device", args.device, "--vgg", str(args.vgg), "--fusion", args.fusion]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}" + (" (killed: out of memory?)" if done.returncode < 0 else ""),
                "stderr_tail": done.stderr[-500:]}
    return json.loads(done.stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3, help="timed calls per step kind (after one compile call)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vgg", type=Path, default=DEFAULT_VGG)
    parser.add_argument("--step", choices=("init", "gan"), help="time only this step kind, in this process")
    parser.add_argument("--fusion", choices=("on", "off"), default="on", help="MindSpore's operator fusion")
    args = parser.parse_args(argv)

    from animecli import runtime

    info = runtime.configure(args.device, "graph", graph_kernel=args.fusion == "on")
    if args.step:
        json.dump(_run_step(args), sys.stdout)
        return 0

    import mindspore as ms

    load_start = os.getloadavg()[0]
    baseline_before = _matmul_gflops()
    init = _child(args, "init")
    gan = _child(args, "gan")
    baseline_after = _matmul_gflops()
    report = {
        "benchmark": "train_step",
        "device": info.device,
        "mindspore": ms.__version__,
        "cpu_count": os.cpu_count(),
        "batch": args.batch,
        "size": args.size,
        "fusion": info.graph_kernel,
        "baseline_matmul_gflops": {"before": round(baseline_before, 1), "after": round(baseline_after, 1)},
        "init_step": init,
        "gan_step": gan,
        "loadavg_1m": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
    }
    if "median_s" in init and "median_s" in gan:
        report["gan_over_init"] = round(gan["median_s"] / init["median_s"], 2)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
