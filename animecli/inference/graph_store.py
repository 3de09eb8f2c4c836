"""Compiled graphs kept across runs, within a size budget, so that later runs skip most of MindSpore's compilation.

MindSpore compiles a graph per cell and input shape; on CPU with operator fusion that takes seconds.
A cell's graph is exported once per input shape (``mindspore.export``, MindIR) into the store, and every
run, the first included, runs it as an ``nn.GraphCell`` loaded from that file. Because the loaded graph
is the same in every process, the fused kernels the first run builds are found by name in MindSpore's
kernel cache afterwards, and in a later run the first call of a stored graph costs 0.6-0.8 s more than
the next ones (256x256 to 1280x720), instead of 6-9 s. Where the store cannot be written, the cell
itself compiles in this process: the same bytes come out (tested), only slower.

The store keeps to ``BUDGET_BYTES``: after an export, the least recently used graphs go first. The
GraphCell is given the cell's own parameters, so a stored graph serves any weights of that shape (every
weight of the networks stored here is a Parameter). Keys name everything else a graph depends on:
MindSpore and animecli versions, the fusion settings, the source of the network modules, the cell and
its input shapes. No lock: a graph file appears by rename, whole, and two runs that export the same
graph at once just write it twice.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
from pathlib import Path
from typing import List, NamedTuple, Sequence, Tuple

from animecli import files, settings
from animecli.ms_export import export_to

#: The store's size budget: about 50 whole-picture graphs (one is ~10 MB: it embeds its weights).
BUDGET_BYTES = 500 * 2**20
GRAPH_SUFFIX = ".mindir"


class TensorSpec(NamedTuple):
    """The shape and dtype of an input, for ``graph_key`` without a tensor at hand."""

    shape: Tuple[int, ...]
    dtype: str = "float32"


def compile_cache_dir() -> Path:
    """MindSpore's own compile folder (``runtime.prepare_environment``): the store and the kernel cache."""
    return settings.anime_home() / "mindspore"


def store_dir() -> Path:
    """Where exported graphs live: ``<cache>/mindspore/graphs``, beside MindSpore's kernel cache."""
    return compile_cache_dir() / "graphs"


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
    from animecli.inference import tiled
    from animecli.models import generator, layers

    digest = hashlib.sha256()
    for module in (generator, layers, tiled):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def load_and_run(cell, inputs: Sequence, key: str, budget: int = BUDGET_BYTES):
    """``(graph, output)``: an ``nn.GraphCell`` that computes ``cell(*inputs)`` for inputs of these shapes
    (sharing the cell's parameters; exported on first use, then the store is trimmed to ``budget``) and
    its first result. Call it inside ``runtime.compiling()``. Where the store cannot be written (read-only
    or full disk), the cell itself compiles and runs in this process.
    """
    import mindspore as ms

    path = store_dir() / f"{key}{GRAPH_SUFFIX}"
    graph = _load(path)
    if graph is None:
        try:
            export_to(cell, inputs, path, "MINDIR")
            graph = ms.load(str(path))
        except OSError:
            return cell, cell(*inputs)
    with contextlib.suppress(OSError):  # a store we may read but not write still serves its graphs
        os.utime(path)  # recently used: trimmed last
        trim(budget, keep=path)
    parameters = {parameter.name: parameter for parameter in cell.get_parameters()}
    graph = ms.nn.GraphCell(graph, params_init=parameters)
    return graph, graph(*inputs)


def _load(path: Path):
    """The stored graph at ``path``, or None when there is none (a damaged file is removed)."""
    import mindspore as ms

    if not path.is_file():
        return None
    try:
        return ms.load(str(path))
    except Exception:  # noqa: BLE001 - whatever MindSpore raises for a damaged file: export it again
        path.unlink(missing_ok=True)
        return None


def stored_graphs() -> List[Path]:
    """The stored graphs, least recently used first (temporary files of exports in progress aside)."""
    entries = []
    for path in store_dir().glob(f"[!.]*{GRAPH_SUFFIX}"):
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except FileNotFoundError:  # trimmed by another run meanwhile
            pass
    return [path for _, path in sorted(entries)]


def trim(budget: int, keep: Path = None) -> List[Path]:
    """Remove the least recently used graphs until the store holds at most ``budget`` bytes (never
    ``keep``, the graph just exported); returns what was removed. Temporary files that killed runs left
    behind go too."""
    removed = files.remove_dead_leftovers(store_dir())
    graphs = stored_graphs()
    sizes = {path: _size(path) for path in graphs}
    total = sum(sizes.values())
    for path in graphs:
        if total <= budget:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            total -= sizes[path]
            removed.append(path)
    return removed


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def folder_size(folder: Path) -> Tuple[int, int]:
    """``(files, bytes)`` under ``folder`` (0, 0 when it does not exist)."""
    files = total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            files += 1
            total += _size(path)
    return files, total


def clear() -> Tuple[int, int]:
    """Remove the stored graphs and MindSpore's kernel cache (the whole compile folder; downloaded
    weights live elsewhere); returns the ``(files, bytes)`` removed."""
    folder = compile_cache_dir()
    removed = folder_size(folder)
    shutil.rmtree(folder, ignore_errors=True)
    return removed
