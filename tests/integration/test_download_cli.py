"""``anime download-weights`` as a real subprocess against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.cli import run_anime
from tests.support.paths import PROJECT_ROOT
from tests.integration.weights_server import H5, copy_with_flipped_byte

H5_NAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG_SHA256 = "bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35"
FAST_ENV = {"ANIME_DOWNLOAD_TIMEOUT": "2", "ANIME_DOWNLOAD_RETRIES": "1"}


def _home() -> Path:
    return Path(os.environ["ANIME_HOME"])


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_list_shows_every_entry_and_what_is_downloaded(mirror):
    fresh = run_anime("download-weights", "--list")
    assert fresh.returncode == 0, fresh.stderr
    for name in ("Hayao *", "Paprika", "Shinkai", "face_paint_512_v2", "face_paint_512_v1",
                 "celeba_distill", "paprika", "vgg19"):
        assert name in fresh.stdout
    assert "non-commercial" in fresh.stdout and "80.1 MB" in fresh.stdout
    assert str(_home() / "weights") in fresh.stdout.replace("\n", "")
    vgg_row = next(line for line in fresh.stdout.splitlines() if line.startswith("vgg19"))
    assert " no " in vgg_row

    assert run_anime("download-weights", "vgg19", "-q", env=FAST_ENV).returncode == 0
    after = run_anime("download-weights", "--list")
    vgg_row = next(line for line in after.stdout.splitlines() if line.startswith("vgg19"))
    assert " yes " in vgg_row
    hayao_row = next(line for line in after.stdout.splitlines() if line.startswith("Hayao"))
    assert " no " in hayao_row


def test_download_prints_the_path_and_is_idempotent(mirror, server):
    first = run_anime("download-weights", "vgg19", env=FAST_ENV)
    assert first.returncode == 0, first.stderr
    path = _home() / "weights" / "keras_h5" / "vgg19" / H5_NAME
    assert first.stdout.strip() == str(path)
    assert "vgg19: downloaded, verified (licence: CC BY 4.0)" in first.stderr
    assert _sha256(path) == VGG_SHA256

    second = run_anime("download-weights", "VGG19", env=FAST_ENV)
    assert second.returncode == 0 and second.stdout.strip() == str(path)
    assert "already in the cache, verified" in second.stderr
    assert len(server.requests(H5)) == 1


def test_cache_dir_option_wins_over_anime_home(mirror, tmp_path):
    result = run_anime("download-weights", "vgg19", "--cache-dir", tmp_path / "elsewhere", "-q", env=FAST_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "elsewhere" / "weights" / "keras_h5" / "vgg19" / H5_NAME)
    assert not (_home() / "weights").exists()


def test_verify_reports_ok_then_a_corrupt_file(mirror, tmp_path):
    nothing = run_anime("download-weights", "--verify")
    assert nothing.returncode == 0 and "nothing downloaded yet" in nothing.stderr
    assert run_anime("download-weights", "vgg19", "-q", env=FAST_ENV).returncode == 0
    path = _home() / "weights" / "keras_h5" / "vgg19" / H5_NAME

    good = run_anime("download-weights", "--verify")
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == f"vgg19: ok {path}"

    copy_with_flipped_byte(path, tmp_path / "bad.h5", 40_000_000).replace(path)
    bad = run_anime("download-weights", "--verify")
    assert bad.returncode == 1
    assert f"vgg19: FAILED: {path} does not match the sha256 in the manifest" in bad.stdout.replace("\n", "")
    assert "1 of 1 cached weights failed verification" in bad.stderr

    named = run_anime("download-weights", "--verify", "Hayao")
    assert named.returncode == 1 and "Hayao: FAILED: not downloaded" in named.stdout

    fixed = run_anime("download-weights", "vgg19", env=FAST_ENV)
    assert fixed.returncode == 0, fixed.stderr
    assert "corrupt" in fixed.stderr and _sha256(path) == VGG_SHA256


def test_unknown_and_ambiguous_names_are_one_line_errors():
    unknown = run_anime("download-weights", "Ghibli")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: unknown weights 'Ghibli'; known: Hayao, Paprika")
    assert "Traceback" not in unknown.stderr
    ambiguous = run_anime("download-weights", "PAPRIKA")
    assert ambiguous.returncode == 1 and "ambiguous weights name 'PAPRIKA'" in ambiguous.stderr


def test_offline_message_names_the_file_and_the_fixes(mirror, server):
    result = run_anime("download-weights", "vgg19", env={"ANIME_OFFLINE": "1"})
    assert result.returncode == 1
    expected = _home() / "weights" / "keras_h5" / "vgg19" / H5_NAME
    text = " ".join(result.stderr.split())
    assert f"error: vgg19 weights are not in the cache ({expected} is missing) and ANIME_OFFLINE is set" in text
    assert "hint: run `anime download-weights vgg19` on a connected machine" in text
    assert "--cache-dir" in text and "--weights" not in text  # only options download-weights has
    assert server.requests(H5) == []


def test_404_fails_with_the_url(mirror, server):
    server.fault(H5, not_found=True)
    result = run_anime("download-weights", "vgg19", env=FAST_ENV)
    assert result.returncode == 1
    assert f"{server.url(H5)}: HTTP 404" in " ".join(result.stderr.split())
    assert result.stdout == ""


def test_one_failure_among_several_names_is_reported_and_exits_1(mirror, server, tmp_path, monkeypatch):
    override = tmp_path / "registry2.json"
    override.write_text(json.dumps({
        "vgg19": {"urls": [server.url(H5)], "replace": True},
        "face_paint_512_v2": {"urls": [server.url("/nope.pt")], "replace": True},
    }))
    monkeypatch.setenv("ANIME_REGISTRY", str(override))
    result = run_anime("download-weights", "face_paint_512_v2", "vgg19", env=FAST_ENV)
    assert result.returncode == 1
    assert result.stdout.strip().endswith(H5_NAME)
    assert "face_paint_512_v2: could not download face_paint_512_v2.pt" in " ".join(result.stderr.split())
    assert "1 ready, 1 failed" in result.stderr


def test_two_processes_downloading_the_same_name_share_one_download(mirror, server):
    """The second process waits on the lock while the first streams, then finds the verified file."""
    release = threading.Event()
    server.fault(H5, hold=release)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), ANIME_DOWNLOAD_TIMEOUT="60")
    command = [sys.executable, "-m", "animecli", "download-weights", "vgg19"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        assert server.state.arrived.wait(120), "the first download never started"
        second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in second.stderr], daemon=True).start()
        seen = []
        while not any("waiting for it" in line for line in seen):
            seen.append(lines.get(timeout=120))  # the second process reports that it waits on the lock
        release.set()
        out1, err1 = first.communicate(timeout=120)
        out2, _ = second.communicate(timeout=120)
    finally:
        release.set()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert first.returncode == 0, err1
    assert second.returncode == 0
    assert "another process is downloading vgg19" in "".join(seen)
    path = _home() / "weights" / "keras_h5" / "vgg19" / H5_NAME
    assert out1.strip() == out2.strip() == str(path)
    assert len(server.requests(H5)) == 1
    assert _sha256(path) == VGG_SHA256
    assert sorted(p.name for p in path.parent.iterdir()) == [".lock", "manifest.json", H5_NAME]
