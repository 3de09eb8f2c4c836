"""The device layer: resolve ``--device``, prepare the environment and set the MindSpore context.

This module is the only caller of ``mindspore.set_context`` / ``set_device``. MindSpore is imported
lazily: importing this module is cheap.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Optional

from animecli import settings
from animecli.errors import DeviceUnavailableError, InvalidInputError

DEVICES = ("auto", "cpu", "gpu", "ascend")
_TARGETS = {"cpu": "CPU", "gpu": "GPU", "ascend": "Ascend"}

_lock = threading.Lock()
_configured: Optional["RuntimeInfo"] = None


@dataclass(frozen=True)
class RuntimeInfo:
    """What ``configure`` settled on."""

    device: str  # cpu | gpu | ascend
    mode: str  # graph | pynative
    threads: Optional[int]


def prepare_environment() -> None:
    """Set the environment MindSpore reads at import: quiet logs, and its files kept out of the cwd."""
    work = settings.anime_home() / "mindspore"
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GLOG_v", "3")  # errors only
    os.environ.setdefault("GLOG_logtostderr", "1")
    os.environ.setdefault("GLOG_log_dir", str(work / "logs"))
    os.environ.setdefault("MS_COMPILER_CACHE_PATH", str(work))
    # OpenMP threads of fused kernels must not spin against MindSpore's own pool.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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


def configure(device: str = "auto", mode: str = "graph", threads: Optional[int] = None) -> RuntimeInfo:
    """Select the device and execution mode once per process; later calls must agree on the device.

    ``mode`` is ``graph`` (compiled, for inference and training steps) or ``pynative``.
    ``threads`` caps MindSpore's CPU operator threads (default: all cores).
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
            if _configured.mode == mode and (threads is None or threads == _configured.threads):
                return _configured
        import mindspore as ms

        ms.set_device(_TARGETS[resolved])
        ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
        if threads and _configured is None:
            import mindspore.device_context as device_context

            device_context.cpu.op_tuning.threads_num(int(threads))
        _configured = RuntimeInfo(device=resolved, mode=mode, threads=threads or _configured_threads())
        return _configured


def _configured_threads() -> Optional[int]:
    return os.cpu_count()
