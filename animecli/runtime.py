"""The device layer: resolve ``--device``, prepare the environment and set the MindSpore context.

This module is the only caller of ``mindspore.set_context`` / ``set_device``. MindSpore is imported
lazily: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from animecli import settings
from animecli.errors import DeviceUnavailableError, InvalidInputError

DEVICES = ("auto", "cpu", "gpu", "ascend")
_TARGETS = {"cpu": "CPU", "gpu": "GPU", "ascend": "Ascend"}

_lock = threading.Lock()
_cwd_lock = threading.RLock()
_configured: Optional["RuntimeInfo"] = None
_teardown_skippable = False


@dataclass(frozen=True)
class RuntimeInfo:
    """What ``configure`` settled on."""

    device: str  # cpu | gpu | ascend
    mode: str  # graph | pynative
    threads: Optional[int]
    graph_kernel: bool = False


def prepare_environment() -> None:
    """Set the environment MindSpore (and OpenCV) read at import: quiet logs, and files kept out of the cwd."""
    work = settings.anime_home() / "mindspore"
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GLOG_v", "3")  # errors only
    os.environ.setdefault("GLOG_logtostderr", "1")
    os.environ.setdefault("GLOG_log_dir", str(work / "logs"))
    # OpenCV's "[ WARN:0@..." lines about a corrupt picture only repeat the one-line error that names it.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("MS_COMPILER_CACHE_PATH", str(work))
    # OpenMP threads of fused kernels must not spin against MindSpore's own pool.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # The fused tanh is an approximation (1.3e-4 off): keep MindSpore's exact one.
    os.environ.setdefault("MS_DEV_GRAPH_KERNEL_FLAGS", "--disable_cluster_ops=Tanh")
    # The fusion compiler reads its (empty) CPU tiling table only from a "white-listed" folder and prints
    # a complaint on stdout otherwise: point it at MindSpore's own copy.
    akg = _akg_folder()
    if akg is not None:
        os.environ.setdefault("AKG_WHITE_LIST_PATH", str(akg))


def _akg_folder() -> Optional[Path]:
    spec = importlib.util.find_spec("mindspore")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "_akg"


def compile_dir() -> Path:
    """The folder where MindSpore's compilers write (``MS_COMPILER_CACHE_PATH``, under the cache root)."""
    prepare_environment()
    return Path(os.environ["MS_COMPILER_CACHE_PATH"])


@contextlib.contextmanager
def compiling() -> Iterator[None]:
    """Run a graph compilation with the process working directory switched to ``compile_dir()``.

    The graph-kernel compiler starts a helper process in the current directory, and a library in it
    writes a log file there: this keeps the user's directory clean. The helper keeps the directory it
    started in, so only compilations need this. While it is active, relative paths resolve elsewhere:
    code that runs meanwhile in other threads must use absolute paths (the pipelines do).
    """
    target = compile_dir()
    with _cwd_lock:
        try:
            previous = os.getcwd()
        except OSError:  # the user's directory was removed: nothing to go back to
            previous = None
        os.chdir(target)
        try:
            yield
        finally:
            if previous is not None:
                os.chdir(previous)


def skip_teardown_at_exit() -> None:
    """Declare that, once the command returns, the process may end without MindSpore's teardown.

    For commands whose outputs are all written, closed and renamed when they return, and that leave no
    child processes behind (``anime infer``, ``anime video``). Measured gain: docs/performance.md,
    "Single mechanisms".
    """
    global _teardown_skippable
    _teardown_skippable = True


def teardown_skippable() -> bool:
    """Whether ``skip_teardown_at_exit`` was called in this process."""
    return _teardown_skippable


def _device_available(device: str) -> bool:
    if device == "cpu":
        return True
    import mindspore.device_context as device_context

    try:
        # Its warning about the missing plugin is silenced by GLOG_v=3 (prepare_environment).
        return bool(getattr(device_context, device).is_available())
    except Exception:  # noqa: BLE001 - a broken plugin means "not available"
        return False


def resolve_device(requested: str) -> str:
    """Map ``auto|cpu|gpu|ascend`` to an available device, or raise ``DeviceUnavailableError``."""
    name = (requested or "auto").strip().lower()
    if name not in DEVICES:
        raise InvalidInputError(f"unknown device {requested!r}: choose one of {', '.join(DEVICES)}")
    prepare_environment()
    if name == "auto":
        for candidate in ("ascend", "gpu"):
            if _device_available(candidate):
                return candidate
        return "cpu"
    if not _device_available(name):
        raise DeviceUnavailableError(
            f"device {name!r} is not available: this MindSpore build or machine has no {_TARGETS[name]}",
            hint="use --device cpu (or auto)",
        )
    return name


def graph_kernel_available() -> bool:
    """Whether graph-kernel fusion can compile here (its compiler needs the ``decorator`` package)."""
    return importlib.util.find_spec("decorator") is not None


def configure(device: str = "auto", mode: str = "graph", threads: Optional[int] = None,
              graph_kernel: bool = False) -> RuntimeInfo:
    """Select the device and execution mode once per process; later calls must agree on the device.

    ``mode`` is ``graph`` (compiled, for inference and training steps) or ``pynative``.
    ``threads`` caps MindSpore's CPU operator threads (default: all cores).
    ``graph_kernel`` turns on operator fusion for graphs compiled from now on, on CPU in graph mode
    (the fast inference path: with the layer norm of ``models.layers`` it cuts time and memory); it is
    left off where fusion is not available. Compile such graphs inside ``compiling()``.
    """
    global _configured
    with _lock:
        resolved = resolve_device(device)
        if _configured is not None:
            if _configured.device != resolved:
                raise DeviceUnavailableError(
                    f"MindSpore is already running on {_configured.device}; cannot switch to {resolved} "
                    "in the same process"
                )
        fuse = bool(graph_kernel) and mode == "graph" and resolved == "cpu" and graph_kernel_available()
        if _configured is not None:
            if (_configured.mode == mode and _configured.graph_kernel == fuse
                    and (threads is None or threads == _configured.threads)):
                return _configured
        import mindspore as ms

        ms.set_device(_TARGETS[resolved])
        ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
        if _configured is None or _configured.graph_kernel != fuse:
            ms.set_context(enable_graph_kernel=fuse)
        if threads and _configured is None:
            import mindspore.device_context as device_context

            device_context.cpu.op_tuning.threads_num(int(threads))
        _configured = RuntimeInfo(device=resolved, mode=mode, threads=threads or _configured_threads(),
                                  graph_kernel=fuse)
        return _configured


def _configured_threads() -> Optional[int]:
    return os.cpu_count()
