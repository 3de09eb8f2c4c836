"""Where a MindSpore training step's time goes, by operator, from MindSpore's profiler; print JSON.

Runs the step of ``bench_train_step.py`` (``mindspore_step``: fixed random batches, fusion on) twice to
compile and warm up, then once under ``mindspore.Profiler``, and sums the host operators' times: by operator
type, and for the convolutions by what they compute (a forward pass or an input gradient; a weight
gradient, which ``models.layers.ForwardGradConv`` computes as a convolution whose kernel is the output
gradient; grouped). GFLOP/s per class come from the profiler's recorded shapes; numpy's fp32 matmul rate,
measured after the step, is the same-run baseline.

    PYTHONPATH=. python benchmarks/profile_train_step.py [--step gan] [--size 256] [--batch 1] [--top 15]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_infer import matmul_gflops  # noqa: E402
from bench_train_step import DEFAULT_VGG, mindspore_step  # noqa: E402


def _conv_class(shapes: str):
    """(class, GFLOP) of one Conv2D call from its recorded input shapes ``input_1:[...];input_2:[...]``."""
    data, kernel = ([int(v) for v in dims.split(",")] for dims in re.findall(r"\[([^\]]*)\]", shapes)[:2])
    out_h, out_w = data[2] - kernel[2] + 1, data[3] - kernel[3] + 1
    gflop = 2 * data[0] * kernel[0] * kernel[1] * kernel[2] * kernel[3] * out_h * out_w / 1e9
    if kernel[2] * kernel[3] > 49:  # an output gradient as the kernel
        return "weight_grad", gflop
    return ("grouped" if kernel[1] != data[1] else "forward_or_input_grad"), gflop


def _summary(framework_dir: Path, top: int) -> dict:
    types = list(csv.DictReader(open(next(framework_dir.glob("cpu_op_type_info_*.csv")))))
    total = sum(float(row["total_compute_time"]) for row in types)
    types.sort(key=lambda row: -float(row["total_compute_time"]))
    shapes = {}
    for line in open(next(framework_dir.glob("cpu_framework_*.txt"))):
        fields = line.strip().split(";")
        if len(fields) >= 4 and fields[0] == "Conv2D":
            shapes[fields[1]] = ";".join(fields[3:])
    classes = {}
    for row in csv.DictReader(open(next(framework_dir.glob("cpu_op_detail_info_*.csv")))):
        if row["op_type"] == "Conv2D" and row["op_name"] in shapes:
            name, gflop = _conv_class(shapes[row["op_name"]])
            entry = classes.setdefault(name, {"calls": 0, "ms": 0.0, "gflop": 0.0})
            entry["calls"] += 1
            entry["ms"] += float(row["op_total_time(ms)"])
            entry["gflop"] += gflop
    for entry in classes.values():
        entry["gflops"] = round(entry["gflop"] / entry["ms"] * 1e3, 1)
        entry["ms"], entry["gflop"] = round(entry["ms"], 1), round(entry["gflop"], 1)
    return {"operator_ms": round(total, 1),
            "by_type": [{"type": row["op_type"], "calls": int(row["type_occurrences"]),
                         "ms": round(float(row["total_compute_time"]), 1),
                         "percent": round(100 * float(row["total_compute_time"]) / total, 1)} for row in types[:top]],
            "conv2d_by_role": classes}


def _to_stderr(fn) -> None:
    """Call ``fn`` with file descriptor 1 pointing at stderr (subprocesses included)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        fn()
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", choices=("init", "gan"), default="gan")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--vgg", type=Path, default=DEFAULT_VGG)
    parser.add_argument("--top", type=int, default=15, help="operator types listed")
    args = parser.parse_args(argv)

    from animecli import runtime

    step = mindspore_step(args.step, args.size, args.batch, args.vgg)  # fusion on, as ``anime train``
    from mindspore import Profiler

    with runtime.compiling(), tempfile.TemporaryDirectory() as folder:  # compiler and profiler files
        step()
        step()
        profiler = Profiler(output_path=folder)
        started = time.perf_counter()
        step()
        wall = time.perf_counter() - started
        _to_stderr(profiler.analyse)  # it prints its progress on stdout, which carries the JSON
        report = {"step": args.step, "size": args.size, "batch": args.batch, "profiled_step_s": round(wall, 2),
                  "matmul_gflops": round(matmul_gflops(), 1)}  # the same-run baseline of the GFLOP/s below
        report.update(_summary(next(Path(folder).glob("*/FRAMEWORK")), args.top))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
