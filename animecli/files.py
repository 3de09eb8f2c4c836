"""Writing files safely: atomic replacement with the mode ``open()`` would give, writable-folder checks,
and the removal of temporary files left by processes that were killed.

Every temporary file animecli writes beside a target is hidden and carries the writer's pid
(``.<name>.<pid>.<random>.tmp``), so a later run can tell a dead process's leftover from a live
process's work in progress.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, List, Optional

from animecli.errors import InvalidInputError

_TEMP_PATTERN = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp(\.\w+)?$")


def current_umask() -> int:
    """The process umask, read without changing it (``/proc``), else with the set-and-restore pair."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def mode_for(path: Path) -> int:
    """The permission bits a new version of ``path`` gets: the existing file's, else ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def temp_path_for(path: Path, suffix: str = "") -> Path:
    """A unique hidden name beside ``path`` that carries this process's pid, ending ``.tmp`` + ``suffix``
    (for writers that insist on a file extension); nothing is created."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")


@contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it gets ``mode_for(path)`` and replaces
    ``path`` in one rename, on error it is removed. ``path``'s folder is created when missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temp_path_for(path, suffix)
    try:
        yield temporary
        os.chmod(temporary, mode_for(path))
        os.replace(temporary, path)
    finally:
        if os.path.lexists(temporary):
            _remove(temporary)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_path``); ``durable`` also fsyncs before the rename."""
    with atomic_path(path) as temporary:
        with open(temporary, "xb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())


def process_is_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (one of another user's counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_leftovers(folder: Path, pattern: "re.Pattern[str]" = _TEMP_PATTERN) -> List[Path]:
    """Entries of ``folder`` whose name matches ``pattern`` (group 1: the writer's pid) and whose writer
    process is gone: what a killed process left, never the work of a running one."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in sorted(names):
        match = pattern.match(name)
        if match and not process_is_alive(int(match.group(1))):
            found.append(Path(folder) / name)
    return found


def remove_dead_leftovers(folder: Path, pattern: "re.Pattern[str]" = _TEMP_PATTERN) -> List[Path]:
    """Remove ``dead_leftovers(folder, pattern)`` (files or folders); returns what was removed."""
    removed = []
    for leftover in dead_leftovers(folder, pattern):
        try:
            _remove(leftover)
        except OSError:
            continue
        removed.append(leftover)
    return removed


def _remove(path: Path) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def check_writable_folders(folders: Iterable[Path]) -> None:
    """Check that each folder exists as a writable folder or can be created, without creating it; also
    remove what killed animecli processes left there. Raises ``InvalidInputError`` naming the folder."""
    for folder in sorted({Path(f).absolute() for f in folders}):
        existing = _nearest_existing(folder)
        if not existing.is_dir():
            raise InvalidInputError(f"{folder}: cannot create this output folder ({existing} is not a folder)")
        problem = _write_problem(existing)
        if problem:
            where = "cannot write in this output folder" if existing == folder else \
                f"cannot create this output folder (cannot write in {existing})"
            raise InvalidInputError(f"{folder}: {where}: {problem}")
        if existing == folder:
            remove_dead_leftovers(folder)


def _nearest_existing(folder: Path) -> Path:
    while not os.path.lexists(folder) and folder.parent != folder:
        folder = folder.parent
    return folder


def _write_problem(folder: Path) -> Optional[str]:
    """Why a file cannot be created in ``folder`` (tried for real, then removed), or None."""
    probe = temp_path_for(folder / "write-check")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as err:
        return err.strerror or str(err)
    os.unlink(probe)
    return None
