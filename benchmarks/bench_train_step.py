"""Time the compiled training steps (init step, GAN step = D + G update) and print JSON.

Baseline measured in the same run: fp32 matmul throughput (GFLOP/s) through MindSpore, so numbers from
machines of different speed (or a CPU shared with other work) can be compared. Usage:

    PYTHONPATH=. python benchmarks/bench_train_step.py --batch 4 --size 256 --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

DEFAULT_VGG = Path(__file__).resolve().parents[2] / "shared" / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


def _matmul_gflops(ms, np, n: int = 1024, repeats: int = 20) -> float:
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
            "min_s": round(min(times), 3), "max_s": round(max(times), 3), "steps": steps}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="timed calls per step kind (after one compile call)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vgg", type=Path, default=DEFAULT_VGG)
    args = parser.parse_args(argv)

    from animecli import runtime

    info = runtime.configure(args.device, "graph")
    import mindspore as ms
    import numpy as np

    from animecli.models.discriminator import Discriminator
    from animecli.models.generator import Generator
    from animecli.models.vgg19 import load_vgg19
    from animecli.training.steps import LossConfig, TrainSteps

    load_start = os.getloadavg()
    baseline_before = _matmul_gflops(ms, np)
    ms.set_seed(0)
    steps = TrainSteps(Generator(), Discriminator(), load_vgg19(args.vgg), LossConfig())
    rng = np.random.default_rng(0)
    shape = (args.batch, 3, args.size, args.size)
    photo, anime, gray, smooth = (ms.Tensor(rng.uniform(-1, 1, shape).astype(np.float32)) for _ in range(4))
    init = _time_calls(lambda: steps.init_step(photo), args.steps)
    gan = _time_calls(lambda: steps.gan_step(photo, anime, gray, smooth), args.steps)
    baseline_after = _matmul_gflops(ms, np)
    for result in (init, gan):
        result["images_per_s"] = round(args.batch / result["median_s"], 3)
    report = {
        "benchmark": "train_step",
        "device": info.device,
        "mindspore": ms.__version__,
        "cpu_count": os.cpu_count(),
        "batch": args.batch,
        "size": args.size,
        "baseline_matmul_gflops": {"before": round(baseline_before, 1), "after": round(baseline_after, 1)},
        "init_step": init,
        "gan_step": gan,
        "gan_over_init": round(gan["median_s"] / init["median_s"], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loadavg_1m": {"start": round(load_start[0], 2), "end": round(os.getloadavg()[0], 2)},
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
