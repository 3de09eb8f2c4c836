"""Peak RSS of a compiled stack of 3x3 64->64 convs at 256x256 by what is differentiated; print JSON.

Shows where MindSpore's training memory goes on CPU: a forward-only graph does not grow with the number
of convs beyond its activations, but every convolution-gradient kernel keeps its own im2col workspace
(measured 2026-12-04, shared machine: ~165 MB per conv with input gradients, ~310 MB with weight
gradients too, against 32 MB of activations per conv). Each case runs in its own child process.
The ``*_forward`` cases use ``animecli.models.layers.Conv2d``, whose gradients are forward convolutions
(2026-12-04: 525/596 MB for 2/6 convs with input gradients, 559/714 MB with weight gradients too, against
811/1485 and 941/2181 MB with MindSpore's gradient kernels).

    PYTHONPATH=. python benchmarks/bench_conv_grad_memory.py [--convs 2,6]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

CASES = ("forward", "input_grad", "weight_grad", "input_grad_forward", "weight_grad_forward")


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _run(convs: int, case: str) -> dict:
    from animecli import runtime

    runtime.configure("cpu", "graph", graph_kernel=True)
    import mindspore as ms
    import numpy as np
    from mindspore import nn, ops

    from animecli.models.layers import Conv2d

    conv_class = Conv2d if case.endswith("_forward") else nn.Conv2d
    kind = case.removesuffix("_forward")

    class Stack(nn.Cell):
        def __init__(self):
            super().__init__()
            self.convs = nn.CellList([conv_class(64, 64, 3, pad_mode="pad", padding=1) for _ in range(convs)])

        def construct(self, x):
            for conv in self.convs:
                x = ops.relu(conv(x))
            return x.sum()

    net = Stack()
    x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 64, 256, 256)).astype(np.float32))
    before = _peak_mb()
    if kind == "input_grad":
        fn = ms.jit(ms.grad(net, 0))
    elif kind == "weight_grad":
        fn = ms.jit(ms.grad(net, None, net.trainable_params()))
    else:
        fn = ms.jit(net)
    with runtime.compiling():
        fn(x)
    fn(x)
    return {"convs": convs, "case": case, "peak_rss_mb_before": before, "peak_rss_mb": _peak_mb()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--convs", default="2,6", help="comma-separated numbers of convs")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_run(int(args.child[0]), args.child[1])))
        return 0
    results = []
    for case in CASES:
        for convs in (int(n) for n in args.convs.split(",")):
            done = subprocess.run([sys.executable, __file__, "--child", str(convs), case], capture_output=True,
                                  text=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                           else {"convs": convs, "case": case, "error": done.stderr[-300:]})
    json.dump({"benchmark": "conv_grad_memory", "results": results}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
