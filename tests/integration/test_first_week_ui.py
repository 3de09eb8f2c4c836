"""What a new user hits in the first week (issue 14, items 2, 3, 4, 9, 12, 13): names with square brackets
through every command, the plain install, resuming a run, odd-size video and the display at 80 columns.

Everything runs the real ``anime`` command in a subprocess (a pseudo-terminal where the display matters) on
tiny pictures and videos with the small fixture weights.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from tests.support.paths import PROJECT_ROOT


# -- item 3 and 9: the plain `pip install .` ---------------------------------------------------------------

def _requirement_name(requirement: str) -> str:
    return re.split(r"[ <>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _third_party_imports() -> set:
    """Top-level modules that animecli's code imports, standard library and animecli itself left out."""
    found = set()
    for path in (PROJECT_ROOT / "animecli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in ("animecli", "__future__")}


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_module_animecli_imports_comes_with_the_plain_install():
    from importlib.metadata import packages_distributions

    required = {_requirement_name(r) for r in _pyproject()["project"]["dependencies"]}
    owners = packages_distributions()
    imported = _third_party_imports()
    assert {"mindspore", "cv2", "h5py", "imageio_ffmpeg", "typer", "rich"} <= imported  # the walk sees them
    missing = {module: owners.get(module) for module in imported
               if not {_requirement_name(d) for d in owners.get(module, [module])} & required}
    assert missing == {}, f"imported by animecli but not in [project] dependencies: {missing}"


def test_opencv_is_capped_at_releases_that_accept_numpy_below_2():
    dependencies = _pyproject()["project"]["dependencies"]
    assert "numpy<2" in dependencies
    # opencv-python-headless 4.12.0.88 requires numpy>=2 (its metadata, checked with pip): pip would
    # download every 4.12+ wheel before settling on 4.11.
    assert "opencv-python-headless>=4.8,<4.12" in dependencies
