"""Peak RSS of one piece of the training step, compiled and run alone, in this process; print JSON.

Bisects where the GAN step's memory goes (one stage per process, so each peak is its own):
``g_fwd`` generator forward; ``g_grad`` generator weight gradients (of the output's sum); ``vgg_fwd`` VGG19
on two images (the batched photo/style features); ``vgg_grad`` VGG19's input gradient; ``g_vgg_grad`` the
init loss's generator gradients (G + VGG content); ``d_fwd`` / ``d_grad`` the discriminator on four
batches, forward / weight gradients; ``init`` and ``gan`` the real steps (``TrainSteps``, Adam included).

    for s in g_fwd g_grad vgg_fwd vgg_grad g_vgg_grad d_fwd d_grad init gan; do
        PYTHONPATH=. python benchmarks/bench_train_memory.py $s [--size 256 --batch 1]; done
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_VGG = HERE.parents[1] / "shared" / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
STAGES = ("g_fwd", "g_grad", "vgg_fwd", "vgg_grad", "g_vgg_grad", "d_fwd", "d_grad", "init", "gan")


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _stage_call(stage: str, size: int, batch: int, vgg_path: Path):
    """(callable, arguments) of one stage, compiled on its first call."""
    import mindspore as ms
    import numpy as np
    from mindspore import ops

    from animecli import losses
    from animecli.models.discriminator import Discriminator
    from animecli.models.generator import Generator
    from animecli.models.vgg19 import load_vgg19
    from animecli.training.steps import LossConfig, TrainSteps

    ms.set_seed(0)
    rng = np.random.default_rng(0)
    batches = [ms.Tensor(rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)) for _ in range(4)]
    generator, discriminator = Generator(), Discriminator()
    vgg = load_vgg19(vgg_path) if stage not in ("g_fwd", "g_grad", "d_fwd", "d_grad") else None

    def g_sum(x):
        return generator(x).sum()

    def vgg_sum(x):
        return vgg(x).sum()

    def d_sum(x):
        return discriminator(x).sum()

    def content(x, photo_features):
        return losses.content_loss(photo_features, vgg(generator(x)))

    content_grad = ms.grad(content, None, generator.trainable_params())

    def g_vgg_grad(x):
        return content_grad(x, vgg(x))

    four = ops.concat(batches)
    calls = {
        "g_fwd": (ms.jit(generator), (batches[0],)),
        "g_grad": (ms.jit(ms.grad(g_sum, None, generator.trainable_params())), (batches[0],)),
        "vgg_fwd": (ms.jit(vgg), (ops.concat(batches[:2]),)),
        "vgg_grad": (ms.jit(ms.grad(vgg_sum, 0)), (batches[0],)),
        "g_vgg_grad": (ms.jit(g_vgg_grad), (batches[0],)),
        "d_fwd": (ms.jit(discriminator), (four,)),
        "d_grad": (ms.jit(ms.grad(d_sum, None, discriminator.trainable_params())), (four,)),
    }
    if stage in ("init", "gan"):
        steps = TrainSteps(generator, discriminator, vgg, LossConfig())
        return (steps.init_step, (batches[0],)) if stage == "init" else (steps.gan_step, tuple(batches))
    return calls[stage]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--vgg", type=Path, default=DEFAULT_VGG)
    args = parser.parse_args(argv)
    from animecli import runtime

    runtime.configure("cpu", "graph", graph_kernel=True)  # as anime train
    before = _peak_mb()
    fn, call_args = _stage_call(args.stage, args.size, args.batch, args.vgg)
    start = time.perf_counter()
    with runtime.compiling():
        fn(*call_args)
    first = time.perf_counter() - start
    fn(*call_args)
    import mindspore as ms

    ms.runtime.synchronize()
    print(json.dumps({"stage": args.stage, "size": args.size, "batch": args.batch, "peak_rss_mb_before": before,
                      "peak_rss_mb": _peak_mb(), "first_call_s": round(first, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
