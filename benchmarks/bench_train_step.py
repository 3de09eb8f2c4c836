"""Time the training steps of MindSpore (animecli) and of a same-work PyTorch baseline; print JSON.

Rows: init 128/2, GAN 128/2, init 256/1, GAN 256/1, GAN 256/4 (step, size, batch). Each (row, framework)
runs in its own child process, so each reports its own peak RSS; MindSpore and PyTorch alternate row by
row, and ``--repeats`` runs the whole list again (figures: medians over repeats of each child's median
step time). The first call (MindSpore: graph compilation) is reported apart and excluded from the step
time. GFLOP per step is counted once on the PyTorch step (convolutions and matmuls, forward and backward;
the same work for both) and gives each framework's GFLOP/s. The PyTorch step is
``benchmarks/torch_train_step.py`` (needs torch and h5py in the same Python).

    PYTHONPATH=. python benchmarks/bench_train_step.py [--rows gan:256:1,gan:256:4] [--steps 3] [--repeats 2]

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

HERE = Path(__file__).resolve().parent
DEFAULT_VGG = HERE.parents[1] / "shared" / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
DEFAULT_ROWS = "init:128:2,gan:128:2,init:256:1,gan:256:1,gan:256:4"
FRAMEWORKS = ("mindspore", "pytorch")


def _batches(batch: int, size: int):
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (batch, 3, size, size)
    return [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(4)]


def _time_calls(fn, steps: int) -> dict:
    start = time.perf_counter()
    fn()  # MindSpore: compiles the graph
    first = time.perf_counter() - start
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()  # returns python floats: the step has finished
        times.append(time.perf_counter() - start)
    return {"first_call_s": round(first, 3), "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3), "max_s": round(max(times), 3)}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def mindspore_step(step: str, size: int, batch: int, vgg: Path, device: str = "cpu", fusion: bool = True):
    """The MindSpore training step ``step`` (init | gan) on fixed random batches, as a callable (compiles on
    its first call, under ``runtime.compiling()``)."""
    from animecli import runtime

    runtime.configure(device, "graph", graph_kernel=fusion)
    import mindspore as ms

    from animecli.models.discriminator import Discriminator
    from animecli.models.generator import Generator
    from animecli.models.vgg19 import load_vgg19
    from animecli.training.steps import LossConfig, TrainSteps

    ms.set_seed(0)
    steps = TrainSteps(Generator(), Discriminator(), load_vgg19(vgg), LossConfig())
    photo, anime, gray, smooth = (ms.Tensor(b) for b in _batches(batch, size))
    if step == "init":
        return lambda: steps.init_step(photo)
    return lambda: steps.gan_step(photo, anime, gray, smooth)


def _run_mindspore(args) -> dict:
    from animecli import runtime

    step = mindspore_step(args.step, args.size, args.batch, args.vgg, args.device, args.fusion == "on")
    with runtime.compiling():  # the fusion compiler writes into the cwd
        result = _time_calls(step, args.steps)
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def _run_pytorch(args) -> dict:
    sys.path.insert(0, str(HERE))
    import torch
    from torch_train_step import TorchTrainSteps, step_gflop

    steps = TorchTrainSteps(args.vgg)
    batches = [torch.from_numpy(b) for b in _batches(args.batch, args.size)]
    if args.step == "init":
        step = lambda: steps.init_step(batches[0])  # noqa: E731
    else:
        step = lambda: steps.gan_step(*batches)  # noqa: E731
    result = _time_calls(step, args.steps)
    result["peak_rss_mb"] = _peak_rss_mb()
    result["gflop_per_step"] = round(step_gflop(steps, args.step, batches), 1)
    result["threads"] = torch.get_num_threads()
    return result


def _child(args, framework: str, step: str, size: int, batch: int) -> dict:
    command = [sys.executable, __file__, "--child", framework, "--step", step, "--batch", str(batch),
               "--size", str(size), "--steps", str(args.steps), "--device", args.device, "--vgg", str(args.vgg),
               "--fusion", args.fusion]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}" + (" (killed: out of memory?)" if done.returncode < 0 else ""),
                "stderr_tail": done.stderr[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(runs: list) -> dict:
    good = [r for r in runs if "median_s" in r]
    if not good:
        return runs[0]
    out = {"median_s": round(statistics.median(r["median_s"] for r in good), 3),
           "step_s_per_repeat": [r["median_s"] for r in good],
           "first_call_s": round(statistics.median(r["first_call_s"] for r in good), 2),
           "peak_rss_gb": round(max(r["peak_rss_mb"] for r in good) / 1024, 2)}
    if "gflop_per_step" in good[0]:
        out["gflop_per_step"] = good[0]["gflop_per_step"]
    return out


def _compare(args) -> dict:
    rows = [(s, int(z), int(b)) for s, z, b in (r.split(":") for r in args.rows.split(","))]
    runs = {(row, fw): [] for row in rows for fw in FRAMEWORKS}
    load_start = os.getloadavg()[0]
    for repeat in range(args.repeats):
        for row in rows:
            order = FRAMEWORKS if repeat % 2 == 0 else FRAMEWORKS[::-1]
            for framework in order:
                runs[(row, framework)].append(_child(args, framework, *row))
    table = []
    for row in rows:
        ms_, pt = _summary(runs[(row, "mindspore")]), _summary(runs[(row, "pytorch")])
        entry = {"step": row[0], "size": row[1], "batch": row[2], "mindspore": ms_, "pytorch": pt}
        if "median_s" in ms_ and "median_s" in pt:
            gflop = pt["gflop_per_step"]
            ms_["gflop_per_s"] = round(gflop / ms_["median_s"], 1)
            pt["gflop_per_s"] = round(gflop / pt["median_s"], 1)
            entry["time_ratio"] = round(ms_["median_s"] / pt["median_s"], 2)
            entry["memory_ratio"] = round(ms_["peak_rss_gb"] / pt["peak_rss_gb"], 2)
        table.append(entry)
    import mindspore as ms
    import torch

    return {"benchmark": "train_step", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "mindspore": ms.__version__, "pytorch": torch.__version__, "cpu_count": os.cpu_count(),
            "fusion": args.fusion, "steps_per_child": args.steps, "repeats": args.repeats,
            "loadavg_1m": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)}, "rows": table}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=DEFAULT_ROWS, help="comma-separated step:size:batch")
    parser.add_argument("--steps", type=int, default=3, help="timed calls per child (after one first call)")
    parser.add_argument("--repeats", type=int, default=2, help="times the whole row list runs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vgg", type=Path, default=DEFAULT_VGG)
    parser.add_argument("--fusion", choices=("on", "off"), default="on", help="MindSpore's operator fusion")
    parser.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=("init", "gan"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = (_run_mindspore if args.child == "mindspore" else _run_pytorch)(args)
        print(json.dumps(result))
        return 0
    json.dump(_compare(args), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
