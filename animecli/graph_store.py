"""Compiled graphs kept across runs, so that later runs skip most of MindSpore's compilation.

MindSpore compiles a graph per cell and input shape; on CPU with operator fusion that takes 8-10 s.
A cell's graph is exported once per input shape (``mindspore.export``, MindIR) into the cache folder,
and every run, the first included, runs it as an ``nn.GraphCell`` loaded from that file. Because the
loaded graph is the same in every process, the fused kernels the first run builds are found by name in
MindSpore's kernel cache afterwards (a graph compiled from Python code gets new kernel names in every
process), and in a later run the first call of a stored graph costs 0.6-0.8 s more than the next ones
(256x256 to 1280x720), instead of 8-9 s. Processes that need a new graph at once (``anime infer``'s
helpers) take turns through its export and first call, so its kernels are built once.

The GraphCell is given the cell's own parameters, so a stored graph serves any weights of that shape
(every weight of the networks stored here is a Parameter; a constant derived from weights would need
to be part of the key).
Keys name everything else a graph depends on: MindSpore and animecli versions, the fusion settings,
the source of the model modules, the cell and its input shapes.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import NamedTuple, Sequence, Tuple

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent first runs then export twice, harmlessly
    fcntl = None  # type: ignore[assignment]

from animecli import settings


class TensorSpec(NamedTuple):
    """The shape and dtype of an input, for ``graph_key`` without a tensor at hand."""

    shape: Tuple[int, ...]
    dtype: str = "float32"


def store_dir() -> Path:
    """Where exported graphs live: ``<cache>/mindspore/graphs``, beside MindSpore's kernel cache."""
    return settings.anime_home() / "mindspore" / "graphs"


def graph_key(name: str, inputs: Sequence) -> str:
    """A file-name-safe key for ``name`` (the cell and its settings) run on ``inputs`` (tensors, arrays or
    ``TensorSpec``s)."""
    import mindspore as ms

    from animecli import __version__

    digest = hashlib.sha256()
    for part in (ms.__version__, __version__, os.environ.get("MS_DEV_GRAPH_KERNEL_FLAGS", ""),
                 str(ms.get_context("enable_graph_kernel")), _model_code_digest(), name,
                 repr([(tuple(t.shape), str(t.dtype).lower()) for t in inputs])):
        digest.update(part.encode() + b"\0")
    shape = "x".join(str(d) for d in inputs[0].shape)
    safe_name = "".join(c if c.isalnum() or c in "-." else "-" for c in name)
    return f"{safe_name}-{shape}-{digest.hexdigest()[:16]}"


@functools.lru_cache(maxsize=None)
def _model_code_digest() -> str:
    """Hash of the source of the modules that define the networks (their graphs depend on it)."""
    from animecli.models import generator, layers, tiled

    digest = hashlib.sha256()
    for module in (generator, layers, tiled):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def is_stored(key: str) -> bool:
    """Whether a graph for ``key`` was exported by an earlier run."""
    return (store_dir() / f"{key}.mindir").is_file()


def count_sighting(key: str) -> int:
    """Record that a picture needing ``key``'s graph ran without it; returns how many times that has
    happened, in this run and earlier ones (0 where the store cannot be written).

    Each sighting appends one byte to ``<key>.seen``: a single small append is atomic, so processes
    running at once count correctly without a lock, and a count is never half-written.
    """
    folder = store_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{key}.seen", "ab") as sightings:
            sightings.write(b".")
            return sightings.tell()
    except OSError:
        return 0


def load_and_run(cell, inputs: Sequence, key: str):
    """``(graph, output)``: an ``nn.GraphCell`` that computes ``cell(*inputs)`` for inputs of these shapes
    (sharing the cell's parameters; exported on first use) and its first result. Call it inside
    ``runtime.compiling()``.

    A process that exports a graph holds ``key``'s lock through its first call, where MindSpore builds
    the graph's fused kernels: a process that needs the same graph meanwhile waits, then finds the
    kernels built instead of building them at the same time. A graph loaded from the store runs its
    first call unlocked (other processes load it in parallel), and other graphs are never held up.
    Where the store cannot be written (read-only or full disk), the cell itself compiles and runs in
    this process as if there were no store.
    """
    folder = store_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / f"{key}.lock", "a+b")
    except OSError:
        return cell, cell(*inputs)
    with lock:
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        graph, exported = _stored_graph(cell, inputs, key)
        if exported:
            return graph, graph(*inputs)
    return graph, graph(*inputs)


def _stored_graph(cell, inputs: Sequence, key: str):
    """``(graph, exported)``: the GraphCell of ``key``'s stored graph, and whether this call exported it
    (``cell`` itself on OSError)."""
    import mindspore as ms

    folder = store_dir()
    path = folder / f"{key}.mindir"
    exported = False
    try:
        graph = _load(path)
        if graph is None:
            _export(cell, inputs, path)
            exported = True
            graph = ms.load(str(path))
            (folder / f"{key}.seen").unlink(missing_ok=True)  # stored: no more sightings to count
    except OSError:
        return cell, exported
    parameters = {parameter.name: parameter for parameter in cell.get_parameters()}
    return ms.nn.GraphCell(graph, params_init=parameters), exported


def _load(path: Path):
    """The stored graph at ``path``, or None when there is none (a damaged file is removed)."""
    import mindspore as ms

    if not path.is_file():
        return None
    try:
        return ms.load(str(path))
    except Exception:  # noqa: BLE001 - whatever MindSpore raises for a damaged file: export it again
        path.unlink()
        return None


def _export(cell, inputs: Sequence, path: Path) -> None:
    """Export to a temporary file beside ``path``, then rename (no half-written graph is ever found)."""
    import mindspore as ms

    temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.mindir")
    try:
        ms.export(cell, *inputs, file_name=str(temporary), file_format="MINDIR")
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
