"""``mindspore.export`` to any path: MindSpore refuses file names outside ``[0-9a-zA-Z@_-.:/\\]`` (a
space, a bracket or an accent anywhere in the path, measured on 2.8), so the file is exported under a
plain name in a private temporary folder, then copied into place atomically (``files.atomic_path``:
complete or absent, with the mode a new file gets under the umask)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from animecli.files import atomic_path


def export_to(cell, inputs: Sequence, path: Path, file_format: str) -> None:
    """Write ``cell`` run on ``inputs`` to ``path`` as ``file_format`` (``"MINDIR"`` or ``"ONNX"``)."""
    import mindspore as ms

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="anime-export-") as folder:
        plain = Path(folder) / f"graph{path.suffix}"
        ms.export(cell, *inputs, file_name=str(plain), file_format=file_format)
        with atomic_path(path, suffix=path.suffix) as temporary:
            shutil.copyfile(plain, temporary)
