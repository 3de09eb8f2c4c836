"""Inference benchmark: animecli (MindSpore) against PyTorch on the same network, weights and CPU.

Prints one JSON document (and writes it with ``--out``). Everything is measured in this run, with
the configurations interleaved and repeated (medians), because the CPU may be shared:

- ``matmul``: the CPU's fp32 matrix-multiply rate (numpy, 2048^2, all cores), sampled between runs;
- ``startup``: ``anime --help`` and ``anime infer --help`` wall time;
- ``forward``: seconds per image of the generator alone per size and configuration, the first call
  (compile), CPU time, peak RSS, achieved GFLOP/s, its share of the matmul rate, and the time per pixel
  against ``ms-fast`` at 720x1280 (``per_pixel_vs_720p``). Configurations:
  ``ms-plain`` (GRAPH_MODE, reduce-based layer norm, no fusion: the straightforward port),
  ``ms-fast`` (what ``anime infer`` runs, through ``open_stylizer``: the size's own graph, or the tiled
  executor above the engine's limit), ``ms-fast-stored`` (the same in a second process: its graph
  loaded from the graph store), ``ms-tiled`` (the tiled executor at any size), ``torch`` and
  ``torch-cl`` (PyTorch NCHW / channels_last);
- ``end_to_end``: ``anime infer`` on 4 photos at 512x512 (``--e2e-size``; process start, weights, compile,
  compute, writing PNGs) against a PyTorch script doing the same, cold (empty cache) and warm;
- ``folder``: 20 photos of mixed sizes through ``anime infer``'s pipeline (images/s, graphs stored),
  first with an empty cache and again with the graphs it stored, and through the PyTorch script;
- ``video``: 720p frames through ``Stylizer.stylize_batch`` (frames/s) against the single-image rate.

PyTorch runs in ``--torch-python`` (default: this interpreter), which needs torch, numpy and
opencv-python-headless (``pip install animecli[bench]``). Run from the project root:

    python benchmarks/bench_infer.py --torch-python /path/to/python-with-torch --out bench.json
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
WEIGHTS = FIXTURES / "generator" / "random_generator_bl.pt"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
GFLOP_512 = 210.28  # multiply-adds x 2 of the generator's convolutions at 512x512
FOLDER_SIZES = ((640, 480),) * 4 + ((480, 640),) * 3 + ((800, 600),) * 3 + ((1024, 768),) * 2 + \
    ((512, 512),) * 2 + ((400, 300), (720, 540), (960, 640), (300, 400), (1280, 720), (600, 800))

#: ``--folder-set distinct``: 12 photos, every one its own size (3.0 MP in all).
DISTINCT_SIZES = tuple((320 + 40 * i, 240 + 36 * i) for i in range(12))


def gflop(height: int, width: int) -> float:
    return GFLOP_512 * height * width / (512 * 512)


def _size(text: str):
    height, width = map(int, text.lower().split("x"))
    return height, width


def _photo(height: int, width: int, index: int = 0):
    import cv2
    import numpy as np

    data = np.fromfile(str(FIXTURES / "photos" / PHOTOS[index % len(PHOTOS)]), np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)[:, :, ::-1].copy()


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def _time_calls(call, reps: int) -> dict:
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    walls, cpus = [], []
    for _ in range(reps):
        cpu, wall = time.process_time(), time.perf_counter()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"first_call_s": first, "seconds": statistics.median(walls), "runs": walls,
            "cpu_seconds": statistics.median(cpus)}


# -- workers (each runs in its own process) ------------------------------------------------------------
def _huge_calls(call, warm_up) -> dict:
    """One timed call at a huge size, after ``warm_up`` (the call itself where it compiles this size's
    graphs, else a small picture); the warm-up's time is reported as ``warm_up_s``."""
    wall = time.perf_counter()
    warm_up()
    warm = time.perf_counter() - wall
    cpu, wall = time.process_time(), time.perf_counter()
    call()
    seconds = time.perf_counter() - wall
    return {"first_call_s": None, "warm_up_s": round(warm, 2),
            "seconds": seconds, "runs": [seconds],
            "cpu_seconds": time.process_time() - cpu}


def _memory_guard(reserve_gb: float = 2.5) -> None:
    """Stop this process if the machine gets low on memory (a whole-picture graph at 12 MP is ~14 GB)."""
    import threading

    def watch():
        while True:
            with open("/proc/meminfo") as info:
                fields = dict(line.split(":", 1) for line in info)
            if int(fields["MemAvailable"].split()[0]) / 1e6 < reserve_gb:
                print(f"stopped: less than {reserve_gb} GB of memory left on the machine", file=sys.stderr,
                      flush=True)
                os._exit(3)
            time.sleep(0.2)

    if os.path.exists("/proc/meminfo"):
        threading.Thread(target=watch, daemon=True).start()


def worker_ms_forward(config: str, height: int, width: int, reps: int, save: str = "") -> None:
    import numpy as np

    from animecli import runtime

    runtime.prepare_environment()
    from animecli.inference.stylizer import StylizeSettings, open_stylizer, to_model_input
    from animecli.weights.resolve import read_generator_file

    weights = read_generator_file(WEIGHTS)
    x = to_model_input(_photo(height, width)[None])
    outputs = []
    if config == "ms-plain":
        import mindspore as ms
        from mindspore import nn

        from animecli.models import generator, layers

        class ReduceNorm(nn.Cell):
            """The straightforward layer norm: mean / variance reductions, then scale and shift."""

            def __init__(self, channels, eps=1e-12):
                super().__init__()
                self.eps = eps
                self.weight = ms.Parameter(ms.ops.ones((channels,), ms.float32), name="weight")
                self.bias = ms.Parameter(ms.ops.zeros((channels,), ms.float32), name="bias")

            def construct(self, x):
                mean = x.mean(axis=(1, 2, 3), keep_dims=True)
                var = ((x - mean) ** 2).mean(axis=(1, 2, 3), keep_dims=True)
                return (x - mean) / ms.ops.sqrt(var + self.eps) * self.weight.reshape(1, -1, 1, 1) \
                    + self.bias.reshape(1, -1, 1, 1)

        layers.LayerNorm = ReduceNorm
        runtime.configure("cpu", mode="graph", graph_kernel=False)
        net = generator.Generator(weights.meta.upsample, weights.meta.eps)
        net.set_train(False)
        ms.load_param_into_net(net, {k: ms.Parameter(ms.Tensor(v), name=k) for k, v in weights.params.items()})

        def call():
            with runtime.compiling():
                net(ms.Tensor(x)).asnumpy()
    elif config == "ms-tiled":
        runtime.configure("cpu", mode="graph", graph_kernel=True)
        from animecli.inference.tiled import TiledGenerator

        tiled = TiledGenerator(weights.params, upsample=weights.meta.upsample, eps=weights.meta.eps)

        def call():
            outputs[:] = [tiled(x)]
    else:  # ms-fast(-stored): the engine as anime infer runs it
        stylizer = open_stylizer(weights, StylizeSettings(device="cpu"))

        def call():
            outputs[:] = [stylizer._run(x)]
    _memory_guard()
    if reps == 0:  # a huge picture: one timed call after a first one (which compiles the band graphs)
        result = _huge_calls(call, call)
    else:
        result = _time_calls(call, reps)
    if save:
        np.save(save, outputs[0])
    _emit({**result, "peak_rss_gb": _peak_rss_gb()})


def worker_torch_forward(config: str, height: int, width: int, reps: int, save: str = "") -> None:
    import numpy as np
    import torch

    sys.path.insert(0, str(HERE))
    from torch_generator import load_generator

    torch.set_grad_enabled(False)
    channels_last = config == "torch-cl"
    net = load_generator(WEIGHTS, channels_last=channels_last)
    rgb = _photo(height, width)
    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32) / 127.5 - 1.0)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    outputs = []

    def call():
        outputs[:] = [net(x).numpy()]
    if reps == 0:  # a huge picture
        small = torch.zeros((1, 3, 256, 256))
        _memory_guard()
        result = _huge_calls(call, lambda: net(small))
    else:
        result = _time_calls(call, reps)
    if save:
        np.save(save, outputs[0])
    _emit({**result, "peak_rss_gb": _peak_rss_gb()})


def worker_torch_infer(inputs: str, output: str) -> None:
    """The PyTorch script that does what ``anime infer INPUTS OUTPUT`` does (PNG/JPEG in, same format out)."""
    import cv2
    import numpy as np
    import torch

    sys.path.insert(0, str(HERE))
    from torch_generator import load_generator

    torch.set_grad_enabled(False)
    net = load_generator(WEIGHTS)
    Path(output).mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(inputs).iterdir()):
        bgr = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
        x = torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1)[None], np.float32))
        y = net(x / 127.5 - 1.0)[0].numpy().transpose(1, 2, 0)
        out = np.clip((y + 1.0) * 127.5, 0, 255).astype(np.uint8)[:, :, ::-1]
        ok, data = cv2.imencode(path.suffix, out)
        (Path(output) / path.name).write_bytes(data.tobytes())
    _emit({"peak_rss_gb": _peak_rss_gb()})


def worker_ms_folder(inputs: str, output: str) -> None:
    """``anime infer``'s own pipeline on a folder, reporting the graphs the store holds afterwards."""
    from animecli import runtime

    runtime.prepare_environment()
    from animecli.inference import graph_store
    from animecli.inference.stylizer import StylizeSettings, open_stylizer
    from animecli.pipelines.infer import InferOptions, plan_jobs, run_infer
    from animecli.weights.resolve import load_generator_weights

    started = time.perf_counter()
    stored_before = len(graph_store.stored_graphs())
    options = InferOptions(engine=StylizeSettings(device="cpu"))
    jobs, _, _ = plan_jobs([inputs], Path(output), options)
    stylizer = open_stylizer(load_generator_weights(weights=WEIGHTS), options.engine)
    result = run_infer(jobs, stylizer, options)
    _emit({"seconds": time.perf_counter() - started, "pipeline_seconds": result.seconds, "done": len(result.done),
           "graphs_stored_before": stored_before, "graphs_stored_after": len(graph_store.stored_graphs()),
           "store_mb": graph_store.folder_size(graph_store.store_dir())[1] / 2**20, "peak_rss_gb": _peak_rss_gb()})


def worker_ms_video(height: int, width: int, frames: int, batch: int) -> None:
    """720p frames through ``Stylizer.stylize_batch`` (the frame function ``anime video`` uses)."""
    import numpy as np

    from animecli import runtime

    runtime.prepare_environment()
    from animecli.inference.stylizer import StylizeSettings, open_stylizer
    from animecli.weights.resolve import read_generator_file

    stylizer = open_stylizer(read_generator_file(WEIGHTS), StylizeSettings(device="cpu"))
    base = _photo(height + 64, width + 64)
    clip = [np.ascontiguousarray(base[i * 4 % 64:][:height, i * 8 % 64:][:, :width]) for i in range(frames)]
    started = time.perf_counter()
    stylizer.stylize_batch(clip[:1])
    first = time.perf_counter() - started
    started = time.perf_counter()
    for index in range(0, frames, batch):
        stylizer.stylize_batch(clip[index:index + batch])
    seconds = time.perf_counter() - started
    _emit({"first_frame_s": first, "frames": frames, "frames_per_s": frames / seconds,
           "peak_rss_gb": _peak_rss_gb()})


# -- driver ----------------------------------------------------------------------------------------------
class Runner:
    def __init__(self, torch_python: str, workdir: Path):
        self.torch_python = torch_python
        self.workdir = workdir

    def run(self, argv, python=None, home=None, timeout=3600):
        """Run a command; returns (wall seconds, child peak RSS GB, parsed RESULT or None, error or None)."""
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["ANIME_HOME"] = str(home or self.workdir / "home")
        started = time.perf_counter()
        proc = subprocess.Popen([python or sys.executable, *map(str, argv)], cwd=self.workdir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        wall = time.perf_counter() - started
        result = next((json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")), None)
        lines = [line for line in err.strip().splitlines() if "libpng warning" not in line]
        error = None if proc.returncode == 0 else f"exit {proc.returncode}: {lines[-1] if lines else ''}"
        return wall, result, error

    def worker(self, mode, *args, python=None, home=None, timeout=3600):
        return self.run([__file__, mode, *args], python=python, home=home, timeout=timeout)


def matmul_gflops(repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of a 2048^2 numpy matrix product over a few tries."""
    import numpy as np

    a = np.random.default_rng(0).random((2048, 2048), np.float32)
    b = np.random.default_rng(1).random((2048, 2048), np.float32)
    a @ b
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = max(best, 2 * 2048 ** 3 / (time.perf_counter() - started) / 1e9)
    return best


def write_photos(folder: Path, sizes) -> None:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for index, (width, height) in enumerate(sizes):
        cv2.imwrite(str(folder / f"photo_{index:02d}.png"), _photo(height, width, index)[:, :, ::-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch-python", default=sys.executable, help="Python with torch + opencv")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (interleaved) of each measurement")
    parser.add_argument("--sizes", default="256x256,512x512,720x1280,3024x4032", help="HxW list")
    parser.add_argument("--huge-from", type=int, default=10_000_000, help="pixels from which a size is huge: "
                        "one timed call per process after a small warm-up, outputs compared, no whole graph")
    parser.add_argument("--e2e-size", default="512x512", help="HxW of the 4 photos of the end-to-end section")
    parser.add_argument("--huge-reps", type=int, default=1, help="repetitions at huge sizes")
    parser.add_argument("--skip", default="", help="comma list of sections to skip: "
                        "startup,forward,end_to_end,folder,video")
    parser.add_argument("--folder-set", choices=("mixed", "distinct"), default="mixed",
                        help="folder section: 20 photos in 11 sizes, or 12 photos each of its own size")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    workdir = Path(tempfile.mkdtemp(prefix="anime-bench-"))
    atexit.register(shutil.rmtree, workdir, True)  # photos, outputs and caches: hundreds of MB
    runner = Runner(args.torch_python, workdir)
    report = {"machine": {"cpus": os.cpu_count()}, "matmul_gflops_samples": [matmul_gflops()]}

    if "startup" not in skip:
        helps = {"anime --help": [], "anime infer --help": []}
        for _ in range(5):
            for name, argv in (("anime --help", ["-m", "animecli", "--help"]),
                               ("anime infer --help", ["-m", "animecli", "infer", "--help"])):
                helps[name].append(runner.run(argv)[0])
        report["startup_s"] = {name: statistics.median(times) for name, times in helps.items()}

    if "forward" not in skip:
        report["forward"] = forward_section(runner, args, report)

    if "end_to_end" not in skip:
        photos = workdir / "e2e_photos"
        e2e_height, e2e_width = _size(args.e2e_size)
        write_photos(photos, [(e2e_width, e2e_height)] * 4)
        rows = {"anime infer (cold cache)": [], "anime infer (warm cache)": [], "pytorch script": []}
        for rep in range(args.reps):
            cold = workdir / f"cold-home-{rep}"
            for name, argv, python, home in (
                    ("anime infer (cold cache)", ["-m", "animecli", "infer", photos, workdir / "o1", "--weights",
                                                  WEIGHTS, "-q", "--overwrite"], None, cold),
                    ("anime infer (warm cache)", ["-m", "animecli", "infer", photos, workdir / "o2", "--weights",
                                                  WEIGHTS, "-q", "--overwrite"], None, cold),
                    ("pytorch script", [__file__, "torch-infer", photos, workdir / "o3"], args.torch_python, None)):
                wall, _, error = runner.run(argv, python=python, home=home)
                rows[name].append(None if error else wall)
            report["matmul_gflops_samples"].append(matmul_gflops())
        torch_s = _median(rows["pytorch script"])
        report["end_to_end_size"] = args.e2e_size
        report["end_to_end"] = {name: {"seconds": _median(times), "runs": times,
                                       "vs_pytorch": _ratio(_median(times), torch_s)}
                                for name, times in rows.items()}

    if "folder" not in skip:
        folder = workdir / "folder_photos"
        sizes = FOLDER_SIZES if args.folder_set == "mixed" else DISTINCT_SIZES
        write_photos(folder, sizes)
        pixels = sum(w * h for w, h in sizes)
        names = ("anime infer pipeline, empty cache", "anime infer pipeline, graphs stored")
        runs = {name: [] for name in names}
        runs["pytorch script"] = []
        for rep in range(args.reps):
            home = workdir / f"folder-home-{rep}"
            for run, name in enumerate(names):
                _, result, error = runner.worker("ms-folder", folder, workdir / f"f-ms-{rep}-{run}", home=home)
                runs[name].append(result if not error else {"error": error})
            wall, _, error = runner.worker("torch-infer", folder, workdir / f"f-pt-{rep}", python=args.torch_python)
            runs["pytorch script"].append({"seconds": wall} if not error else {"error": error})
        summary = {}
        torch_s = _median([r.get("seconds") for r in runs["pytorch script"]])
        for name, results in runs.items():
            seconds = _median([r.get("seconds") for r in results])
            summary[name] = {"seconds": seconds, "images_per_s": _ratio(len(sizes), seconds),
                             "vs_pytorch": _ratio(seconds, torch_s), "runs": results}
        summary["pictures"] = len(sizes)
        summary["distinct_sizes"] = len(set(sizes))
        summary["megapixels"] = pixels / 1e6
        report["folder"] = summary

    if "video" not in skip:
        results = [runner.worker("ms-video", 720, 1280, 12, 4)[1] for _ in range(max(1, args.reps - 1))]
        fps = _median([r and r["frames_per_s"] for r in results])
        single = (report.get("forward", {}).get("720x1280", {}).get("ms-fast") or {}).get("seconds")
        report["video_720p"] = {"frames_per_s": fps, "single_image_rate": _ratio(1, single), "runs": results}

    samples = report["matmul_gflops_samples"]
    report["matmul_gflops"] = statistics.median(samples)
    reference = (report.get("forward", {}).get("720x1280", {}).get("ms-fast") or {}).get("seconds")
    for size, configs in report.get("forward", {}).items():
        pixels = _size(size)[0] * _size(size)[1]
        for row in configs.values():
            if row.get("seconds"):
                row["gflops"] = gflop(*_size(size)) / row["seconds"]
                row["pct_of_matmul"] = 100 * row["gflops"] / report["matmul_gflops"]
                row["per_pixel_vs_720p"] = _ratio(row["seconds"] / pixels, reference and reference / (720 * 1280))
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)


def forward_section(runner: Runner, args, report) -> dict:
    configs = ("ms-plain", "ms-fast", "ms-fast-stored", "ms-tiled", "torch", "torch-cl")
    sizes = [s for s in args.sizes.split(",") if s]
    table = {size: {c: [] for c in configs} for size in sizes}
    for size in sizes:
        height, width = _size(size)
        huge = height * width >= args.huge_from
        reps = args.huge_reps if huge else args.reps
        for rep in range(reps):
            for config in configs:
                if huge and config in ("ms-plain", "torch-cl", "ms-fast-stored", "ms-tiled"):
                    continue  # ms-fast is the tiled executor there
                if config == "ms-plain" and height * width > 512 * 512:
                    continue  # its peak memory grows ~8 GB per 512x512: 720p needs more than 23 GB
                python = args.torch_python if config.startswith("torch") else None
                # cold: compile time included; ms-fast-stored runs where ms-fast stored its graph
                home = runner.workdir / f"home-{config.replace('-stored', '')}-{size}-{rep}"
                save = runner.workdir / f"out-{config}-{size}.npy" if huge and rep == 0 else ""
                _, result, error = runner.worker(
                    "torch-forward" if python else "ms-forward", config, height, width,
                    0 if huge else 3, save, python=python, home=home)
                table[size][config].append(result if not error else {"error": error})
            report["matmul_gflops_samples"].append(matmul_gflops())
        if huge:
            report.setdefault("huge_output_agreement", {})[size] = output_agreement(runner.workdir, size)
    summary = {}
    for size, rows in table.items():
        summary[size] = {}
        torch_s = _median([r.get("seconds") for r in rows["torch"]])
        for config, results in rows.items():
            if not results:
                continue
            seconds = _median([r.get("seconds") for r in results])
            first = _median([r.get("first_call_s") for r in results])
            summary[size][config] = {
                "seconds": seconds, "first_call_s": first,
                "compile_s": (first - seconds) if first and seconds else None,
                "cpu_seconds": _median([r.get("cpu_seconds") for r in results]),
                "peak_rss_gb": max((r.get("peak_rss_gb") or 0 for r in results), default=None),
                "vs_pytorch": _ratio(seconds, torch_s),
                "errors": [r["error"] for r in results if "error" in r] or None,
            }
    return summary


def output_agreement(workdir: Path, size: str) -> dict:
    """Max differences of the engine's (tiled) output from PyTorch's whole-picture one at a huge size."""
    import numpy as np

    def load(config):
        path = workdir / f"out-{config}-{size}.npy"
        return np.load(path) if path.exists() else None

    def pixels(output):
        return np.clip((output + 1.0) * 127.5, 0, 255).astype(np.uint8).astype(np.int16)

    tiled = load("ms-fast")
    agreement = {}
    for config in ("torch",):
        other = load(config)
        if tiled is None or other is None:
            agreement[f"ms-fast_vs_{config}"] = None
            continue
        agreement[f"ms-fast_vs_{config}"] = {
            "max_abs_diff": float(np.abs(tiled - other).max()),
            "max_pixel_diff": int(np.abs(pixels(tiled) - pixels(other)).max()),
            "pixels_equal_pct": float(100 * (pixels(tiled) == pixels(other)).mean()),
        }
    for path in workdir.glob(f"out-*-{size}.npy"):
        path.unlink()
    return agreement


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _ratio(a, b):
    return a / b if a is not None and b else None


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "ms-forward":
        worker_ms_forward(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif len(sys.argv) > 1 and sys.argv[1] == "torch-forward":
        worker_torch_forward(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif len(sys.argv) > 1 and sys.argv[1] == "torch-infer":
        worker_torch_infer(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "ms-folder":
        worker_ms_folder(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "ms-video":
        worker_ms_video(*map(int, sys.argv[2:6]))
    else:
        main()
