"""Convolution kernels alone, MindSpore against PyTorch on the same CPU, at the training step's shapes; print JSON.

For each stride-1 convolution shape (batch, in, out, kernel, output size) of the generator, discriminator and
VGG19 at 256x256, each pass is timed on its own (best of ``--reps`` calls after a first one):

- ``forward``: the convolution (MindSpore ``Conv2D``, PyTorch ``conv2d``);
- ``input_grad``: the input gradient as ``anime train`` computes it (a forward convolution of the output
  gradient with the flipped, transposed kernel: ``models.layers.ForwardGradConv``) and MindSpore's own
  ``Conv2DBackpropInput``; PyTorch ``conv2d_input``;
- ``weight_grad``: the weight gradient as ``anime train`` computes it (a forward convolution with the batch
  and channels swapped) and MindSpore's own ``Conv2DBackpropFilter``; PyTorch ``conv2d_weight``.

It answers whether a gap between the two frameworks' training steps is in these kernels or around them.
Each framework runs in its own child process, on all cores; numpy's fp32 matmul rate is the same-run
baseline.

    PYTHONPATH=. python benchmarks/bench_conv_kernels.py [--torch-python PYTHON] [--reps 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_infer import matmul_gflops  # noqa: E402

#: (batch, in channels, out channels, kernel, output side): the GAN step's costliest convolution shapes at
#: 256x256 (MindSpore profiler, 2026-12-05): generator and discriminator layers, then VGG19's.
SHAPES = ((1, 32, 32, 3, 256), (1, 64, 64, 3, 256), (1, 128, 64, 3, 256), (4, 64, 128, 3, 128),
          (1, 128, 128, 3, 128), (4, 256, 256, 3, 64), (1, 256, 512, 1, 64), (1, 256, 256, 3, 64),
          (1, 512, 512, 3, 32))
PASSES = ("forward", "input_grad", "input_grad_native", "weight_grad", "weight_grad_native")


def _best_ms(fn, reps: int) -> float:
    fn()
    best = float("inf")
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1e3


def _mindspore_calls(batch, cin, cout, k, side):
    """The MindSpore callables of each pass for one shape."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn, ops
    from mindspore.ops.operations import _grad_ops

    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.standard_normal((batch, cin, side + k - 1, side + k - 1)).astype(np.float32))
    weight = ms.Tensor(rng.standard_normal((cout, cin, k, k)).astype(np.float32))
    dout = ms.Tensor(rng.standard_normal((batch, cout, side, side)).astype(np.float32))

    class Forward(nn.Cell):
        def __init__(self):
            super().__init__()
            self.conv = ops.Conv2D(cout, k)

        def construct(self, a, w):
            return self.conv(a, w)

    class InputGrad(nn.Cell):  # ForwardGradConv.bprop's input gradient
        def __init__(self):
            super().__init__()
            self.conv = ops.Conv2D(cin, k, pad_mode="pad", pad=(k - 1,) * 4)

        def construct(self, d, w):
            return self.conv(d, ops.flip(w, (2, 3)).transpose(1, 0, 2, 3))

    class NativeGrad(nn.Cell):  # MindSpore's own gradient kernel: op(dout, other operand, result shape)
        def __init__(self, op, shape):
            super().__init__()
            self.grad = op
            self.shape = shape

        def construct(self, d, operand):
            return self.grad(d, operand, self.shape)

    class WeightGrad(nn.Cell):  # ForwardGradConv.bprop's weight gradient
        def __init__(self):
            super().__init__()
            self.conv = ops.Conv2D(cout, (side, side))

        def construct(self, a, d):
            return self.conv(a.transpose(1, 0, 2, 3), d.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)

    cells = {"forward": (Forward(), (x, weight)), "input_grad": (InputGrad(), (dout, weight)),
             "input_grad_native": (NativeGrad(ops.Conv2DBackpropInput(cout, k), x.shape), (dout, weight)),
             "weight_grad": (WeightGrad(), (x, dout)),
             "weight_grad_native": (NativeGrad(_grad_ops.Conv2DBackpropFilter(cout, k), weight.shape), (dout, x))}
    return {name: (lambda cell=cell, args=args: cell(*args).asnumpy()) for name, (cell, args) in cells.items()}


def _pytorch_calls(batch, cin, cout, k, side):
    """The PyTorch callables of each pass for one shape (its native kernels only)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    x = torch.randn((batch, cin, side + k - 1, side + k - 1), generator=generator)
    weight = torch.randn((cout, cin, k, k), generator=generator)
    dout = torch.randn((batch, cout, side, side), generator=generator)

    def forward():
        with torch.no_grad():
            torch.nn.functional.conv2d(x, weight)

    return {"forward": forward, "input_grad": lambda: torch.nn.grad.conv2d_input(x.shape, weight, dout),
            "weight_grad": lambda: torch.nn.grad.conv2d_weight(x, weight.shape, dout)}


def _child(framework: str, reps: int) -> dict:
    context = contextlib.nullcontext()
    make = _pytorch_calls
    if framework == "mindspore":
        from animecli import runtime

        runtime.configure("cpu", "graph", graph_kernel=True)  # as ``anime train`` runs
        context = runtime.compiling()  # keeps the fusion compiler's files out of the cwd
        make = _mindspore_calls
    rows = []
    with context:
        for shape in SHAPES:
            times = {name: _best_ms(fn, reps) for name, fn in make(*shape).items()}
            rows.append({"shape": list(shape), "ms": {name: round(value, 2) for name, value in times.items()}})
    return {"framework": framework, "rows": rows}


def _gflop(batch, cin, cout, k, side) -> float:
    return 2 * batch * cin * cout * k * k * side * side / 1e9


def _run_child(python: str, framework: str, reps: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([python, __file__, "--child", framework, "--reps", str(reps)], capture_output=True,
                          text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{framework} child failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", default=sys.executable, help="Python with torch")
    parser.add_argument("--reps", type=int, default=5, help="timed calls per pass (best is kept)")
    parser.add_argument("--child", choices=("mindspore", "pytorch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.reps)))
        return 0
    report = {"machine": {"cpus": os.cpu_count(), "loadavg_1m_start": os.getloadavg()[0]},
              "matmul_gflops_before": round(matmul_gflops(), 1)}
    mindspore = _run_child(sys.executable, "mindspore", args.reps)
    pytorch = _run_child(args.torch_python, "pytorch", args.reps)
    report["matmul_gflops_after"] = round(matmul_gflops(), 1)
    rows = []
    for ours, theirs in zip(mindspore["rows"], pytorch["rows"]):
        gflop = _gflop(*ours["shape"])
        row = {"shape": dict(zip(("batch", "in", "out", "kernel", "side"), ours["shape"])), "gflop": round(gflop, 3)}
        for name in PASSES:
            reference = theirs["ms"][name.removesuffix("_native")]
            row[name] = {"mindspore_ms": ours["ms"][name], "pytorch_ms": reference,
                         "mindspore_gflops": round(gflop / ours["ms"][name] * 1e3, 1),
                         "pytorch_gflops": round(gflop / reference * 1e3, 1),
                         "ratio": round(ours["ms"][name] / reference, 2)}
        rows.append(row)
    report["rows"] = rows
    totals = {}
    for name in PASSES:
        ours = sum(row[name]["mindspore_ms"] for row in rows)
        theirs = sum(row[name]["pytorch_ms"] for row in rows)
        totals[name] = {"mindspore_ms": round(ours, 1), "pytorch_ms": round(theirs, 1),
                        "ratio": round(ours / theirs, 2)}
    report["totals"] = totals
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
