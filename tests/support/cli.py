"""Run the real ``anime`` command as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.paths import PROJECT_ROOT


def child_env(env=None) -> dict:
    """This process's environment for an ``anime`` child (this checkout first on the path), plus ``env``."""
    full_env = dict(os.environ)
    # Set by runtime.prepare_environment() in this process for an earlier test's ANIME_HOME: the child
    # must derive them from its own.
    for var in ("GLOG_log_dir", "MS_COMPILER_CACHE_PATH"):
        full_env.pop(var, None)
    full_env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    return full_env


def run_anime(*args, cwd=None, env=None, timeout=600, input=None, preexec_fn=None):
    """Run ``python -m animecli ARGS`` as a real subprocess (``preexec_fn`` runs in the child before
    it starts); returns CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "animecli", *map(str, args)],
        cwd=cwd, env=child_env(env), capture_output=True, text=True, timeout=timeout, input=input,
        preexec_fn=preexec_fn,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_msrun(*args, log_dir, workers=2, cwd=None, env=None, timeout=900):
    """Run ``python -m animecli ARGS`` as ``workers`` msrun workers on 127.0.0.1 (a free port, logs in
    ``log_dir``, MindSpore's logs at errors only); returns the launcher's CompletedProcess (text)."""
    env = child_env({"GLOG_v": "3", **(env or {})})
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # msrun runs `python`
    command = [sys.executable, "-m", "mindspore.parallel.cluster.run", f"--worker_num={workers}",
               f"--local_worker_num={workers}", "--master_addr=127.0.0.1", f"--master_port={free_port()}",
               f"--log_dir={log_dir}", "--join=True", "--", "python", "-m", "animecli", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
