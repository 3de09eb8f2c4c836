"""Run the real ``anime`` command as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

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
