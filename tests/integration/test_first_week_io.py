"""Fault suite for issue 14 (files, exit codes, hostile inputs, kills, silent servers, noise), as a user
meets them: the real ``anime`` command in subprocesses, real files, real signals, real sockets."""

from __future__ import annotations

import ctypes
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from animecli import images
from animecli.weights import registry
from tests.integration.weights_server import H5
from tests.support.cli import run_anime
from tests.support.paths import PROJECT_ROOT
from tests.support.torch_files import Tensor, storage, write_torch_file
from tests.support.video_tools import make_video

H5_NAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.fixture(scope="module")
def weights(fixtures) -> Path:
    return fixtures / "generator" / "random_generator_bl.pt"


@contextmanager
def umask(mask: int):
    """Run the block (and the processes it starts) under ``mask``."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def ls_mode(path: Path) -> str:
    """The permission column of ``ls -l``."""
    return stat.filemode(os.stat(path).st_mode)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def png_claiming(width: int, height: int, rows: int = 0) -> bytes:
    """An 8-bit RGB PNG whose header says ``width`` x ``height``; its first ``rows`` rows are really there
    (all of them for a valid file), streamed through zlib so no full image is ever held."""
    packer = zlib.compressobj(9)
    row = bytes(1 + 3 * width)
    idat = b"".join(packer.compress(row) for _ in range(rows)) + packer.flush()
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def png_with_icc_profile(path: Path, fixtures: Path, size=(40, 32)) -> Path:
    """A small photo carrying the ICC profile of the shared astronaut.png, which libpng warns about."""
    source = (fixtures / "photos" / "astronaut.png").read_bytes()
    start = source.index(b"iCCP") - 4
    iccp = source[start:start + 12 + int.from_bytes(source[start:start + 4], "big")]
    rgb = np.random.default_rng(1).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    plain = images.encode_image(".png", rgb)
    after_ihdr = 8 + 25
    path.write_bytes(plain[:after_ihdr] + iccp + plain[after_ihdr:])
    return path


# ---- 1. file modes, 6. non-pictures skipped, 7. one input to a file, 11. libpng noise ---------------------

@pytest.fixture(scope="module")
def batch(tmp_path_factory, fixtures, weights):
    """One folder run under umask 027, then the same picture again to a file under umask 077 with
    --overwrite and -q, after giving the output mode 0604."""
    root = tmp_path_factory.mktemp("batch")
    photos = root / "photos"
    photos.mkdir()
    png_with_icc_profile(photos / "cat.png", fixtures)
    (photos / "notes.txt").write_text("not a picture")
    (photos / "Thumbs.db").write_bytes(b"\0" * 64)
    env = {"ANIME_HOME": str(root / "home")}
    with umask(0o027):
        first = run_anime("infer", photos, root / "out", "-w", weights, env=env)
    mode_after_first = ls_mode(root / "out" / "cat.png") if first.returncode == 0 else None
    os.chmod(root / "out" / "cat.png", 0o604)
    before = (root / "out" / "cat.png").read_bytes()
    (root / "out" / "cat.png").write_bytes(b"stale")
    with umask(0o077):
        second = run_anime("infer", photos / "cat.png", root / "out" / "cat.png", "--overwrite", "-q",
                           "-w", weights, env=env)
    return dict(root=root, first=first, second=second, mode_after_first=mode_after_first, before=before)


def test_new_outputs_get_the_umask_mode_and_replaced_ones_keep_theirs(batch):
    assert batch["first"].returncode == 0, batch["first"].stderr
    assert batch["mode_after_first"] == "-rw-r-----"  # 0666 & ~027, as open() gives; mkstemp gave -rw-------
    assert batch["second"].returncode == 0, batch["second"].stderr
    output = batch["root"] / "out" / "cat.png"
    assert output.read_bytes() == batch["before"]  # rewritten: the stale bytes are gone
    assert ls_mode(output) == "-rw----r--"  # the replaced file's mode, not 0600 nor 0666 & ~077


def test_smooth_and_brightness_outputs_get_the_umask_mode(tmp_path, fixtures):
    source = fixtures / "photos" / "chelsea.png"
    (tmp_path / "style").mkdir()
    shutil.copy(source, tmp_path / "style" / "chelsea.png")
    with umask(0o022):
        smoothed = run_anime("smooth", tmp_path, "--size", "32", "-j", "1", "-q")
        matched = run_anime("brightness", source, source, tmp_path / "bright.png", "-q")
    assert smoothed.returncode == 0 and matched.returncode == 0, smoothed.stderr + matched.stderr
    assert ls_mode(tmp_path / "smooth" / "chelsea.png") == "-rw-r--r--"
    assert ls_mode(tmp_path / "bright.png") == "-rw-r--r--"


def test_training_run_files_get_the_umask_mode(tmp_path):
    """The writers of a run folder (checkpoints, log, charts) are the ones ``anime train`` calls."""
    from animecli.training.plots import write_png
    from animecli.training.runlog import LossLog
    from animecli.weights.formats.mindspore_ckpt import write_mindspore_ckpt

    with umask(0o002):
        write_mindspore_ckpt(tmp_path / "generator.ckpt", {"w": np.ones(3, np.float32)}, {"arch": "x"})
        log = LossLog(tmp_path / "train_log.jsonl")
        log.append({"step": 1})
        log.close()
        write_png(tmp_path / "losses.png", np.zeros((4, 4, 3), np.uint8))
    for name in ("generator.ckpt", "train_log.jsonl", "losses.png"):
        assert ls_mode(tmp_path / name) == "-rw-rw-r--", name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator.ckpt", "losses.png", "train_log.jsonl"]


def test_non_pictures_in_a_folder_are_skipped_and_listed_not_failures(batch):
    first = batch["first"]
    assert first.returncode == 0, first.stderr
    assert "skipped " in first.stderr and "notes.txt: not an image file" in first.stderr
    assert "Thumbs.db: not an image file" in first.stderr
    assert "failed" not in first.stderr.replace("┃ failed ┃", "")


def test_smooth_treats_the_same_folder_the_same_way(tmp_path, fixtures):
    (tmp_path / "style").mkdir()
    shutil.copy(fixtures / "photos" / "chelsea.png", tmp_path / "style" / "chelsea.png")
    (tmp_path / "style" / "notes.txt").write_text("not a picture")
    result = run_anime("smooth", tmp_path, "--size", "32", "-j", "1")
    assert result.returncode == 0, result.stderr
    assert "notes.txt: not an image file" in result.stderr


def test_icc_profile_warning_of_libpng_never_reaches_stderr(batch):
    assert "iCCP" not in batch["first"].stderr
    assert batch["second"].stderr == ""  # -q: nothing at all


def test_a_failed_picture_is_reported_once(tmp_path, fixtures, weights):
    photos = tmp_path / "photos"
    photos.mkdir()
    png_with_icc_profile(photos / "good.png", fixtures)
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = run_anime("infer", photos, tmp_path / "out", "-w", weights)
    assert result.returncode == 1
    assert result.stderr.count("broken.png") == 1, result.stderr
    assert "WARN" not in result.stderr  # OpenCV's own lines about the same file
    assert (tmp_path / "out" / "good.png").is_file()


# ---- 5. unwritable output ----------------------------------------------------------------------------------

def without_override_rights() -> None:
    """In the child before exec: drop the capabilities that let root write anywhere (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH) from the bounding set, so root meets permissions as a user does. A user has
    no such rights (and may not drop them): nothing to do."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP failed")


def test_an_unwritable_output_folder_is_named_before_any_model_work(tmp_path, fixtures, weights):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(fixtures / "photos" / "chelsea.png", photos / "chelsea.png")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    os.chmod(readonly, 0o555)
    try:
        for output in (readonly, readonly / "new" / "deeper"):
            result = run_anime("infer", photos, output, "-w", weights, preexec_fn=without_override_rights)
            assert result.returncode == 1
            assert f"error: {output}: cannot" in result.stderr and "Permission denied" in result.stderr
            assert ".tmp" not in result.stderr and "Traceback" not in result.stderr
            assert "anime infer (" not in result.stderr  # no summary: nothing was stylized
        smoothed = run_anime("smooth", photos, "-o", readonly, preexec_fn=without_override_rights)
        assert smoothed.returncode == 1 and f"error: {readonly}: cannot write" in smoothed.stderr
        assert list(readonly.iterdir()) == []
    finally:
        os.chmod(readonly, 0o755)


def test_an_output_folder_that_cannot_be_created_is_named(tmp_path, fixtures, weights):
    (tmp_path / "taken").write_text("a file where a folder should go")
    result = run_anime("infer", fixtures / "photos" / "chelsea.png", tmp_path / "taken" / "out",
                       "-w", weights)
    assert result.returncode == 1
    assert f"error: {tmp_path / 'taken' / 'out'}: cannot create this output folder" in result.stderr


# ---- 6. a dry run that finds problems fails ----------------------------------------------------------------

def test_train_dry_run_with_a_dataset_problem_exits_non_zero(tmp_path):
    result = run_anime("train", "--style", "Nope", "--dry-run", cwd=tmp_path)
    assert result.returncode == 1
    assert "dataset:" in result.stderr
    assert list(tmp_path.iterdir()) == []


# ---- 7. output suffix ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["anime.gif", "anime.jgp"])
def test_an_unknown_output_suffix_is_an_error_listing_the_formats(tmp_path, fixtures, weights, name):
    result = run_anime("infer", fixtures / "photos" / "chelsea.png", tmp_path / name, "-w", weights)
    assert result.returncode == 1
    assert f"unknown picture format '{Path(name).suffix}'" in result.stderr
    assert ".jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff" in result.stderr
    assert f"end it with a slash: {tmp_path / name}/" in result.stderr
    assert list(tmp_path.iterdir()) == []
    # The way out it suggests (planned only: the weights named are missing, so no model runs).
    folder = run_anime("infer", fixtures / "photos" / "chelsea.png", f"{tmp_path / name}/", "-w", tmp_path / "no.pt")
    assert "unknown picture format" not in folder.stderr and "no.pt" in folder.stderr


def test_several_inputs_to_a_file_name_is_an_error(tmp_path, fixtures, weights):
    photos = fixtures / "photos"
    result = run_anime("infer", photos / "chelsea.png", photos / "astronaut.png", tmp_path / "out.png",
                       "-w", weights)
    assert result.returncode == 1
    assert f"{tmp_path / 'out.png'}: a file name, but several pictures would go there" in result.stderr
    assert list(tmp_path.iterdir()) == []


# ---- 8. huge and hostile inputs -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    """A real 12000x12000 PNG (144 MP, 0.4 MB): every row is there."""
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    path.write_bytes(png_claiming(12000, 12000, rows=12000))
    return path


def test_a_picture_past_the_pixel_limit_is_refused_naming_the_limit_and_flags(huge_png, tmp_path, weights):
    result = run_anime("infer", huge_png, tmp_path / "out.png", "-w", weights)
    assert result.returncode == 1
    assert f"{huge_png}: 12000x12000 (144 MP) is past the 100 MP limit" in result.stderr
    assert "--max-size" in result.stderr and "--max-megapixels 145" in result.stderr
    assert "Unable to allocate" not in result.stderr and "anime infer (" not in result.stderr  # no model


def test_max_size_lets_a_huge_picture_through_processed_smaller(huge_png, tmp_path, weights):
    result = run_anime("infer", huge_png, tmp_path / "out.png", "-w", weights, "--max-size", "64", "-q")
    assert result.returncode == 0, result.stderr
    assert images.read_image(tmp_path / "out.png").shape == (64, 64, 3)


def test_a_header_claiming_billions_of_pixels_gets_a_plain_message(tmp_path, weights):
    liar = tmp_path / "liar.png"
    liar.write_bytes(png_claiming(50000, 50000))
    assert liar.stat().st_size < 1000
    result = run_anime("infer", liar, tmp_path / "out", "-w", weights, "--max-size", "64")
    assert result.returncode == 1
    assert f"{liar}: 50000x50000 is past the 1074 MP that OpenCV can decode" in result.stderr
    assert "OpenCV(" not in result.stderr and "Traceback" not in result.stderr
    smoothed = run_anime("smooth", tmp_path, "-o", tmp_path / "smooth", "-j", "1")
    assert smoothed.returncode == 1 and f"{liar}: 50000x50000 is past the" in smoothed.stderr
    assert "OpenCV(" not in smoothed.stderr


def test_weights_with_a_huge_zero_stride_tensor_are_refused_under_500_mb(tmp_path, fixtures):
    hostile = tmp_path / "hostile.pt"
    one = storage("FloatStorage", "0", np.zeros(1, np.float32))
    write_torch_file(hostile, {"block_a.0.1.weight": Tensor(one, 0, (30000, 30000), (0, 0))}, [one])
    assert hostile.stat().st_size < 1000
    command = [sys.executable, "-m", "animecli", "infer", str(fixtures / "photos" / "chelsea.png"), str(tmp_path / "x.png"),
               "-w", str(hostile)]
    measure = ("import resource, subprocess, sys\n"
               "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "print(done.stderr, file=sys.stderr)\n")
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run([sys.executable, "-c", measure, *command], capture_output=True, text=True, env=env,
                            timeout=300)
    code, peak_kb = map(int, result.stdout.split())
    assert code == 1
    assert "hostile.pt is not an AnimeGANv2 generator" in result.stderr
    assert "wrong shape block_a.0.1.weight (30000, 30000) != (32, 3, 7, 7)" in result.stderr
    assert peak_kb < 500 * 1024, f"peak RSS {peak_kb} KB"


# ---- 10. leftovers after a kill; a server that never answers -------------------------------------------

def _wait_for(predicate, timeout: float = 120.0):
    """Poll ``predicate`` until it returns something true (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("gave up waiting")


def test_a_killed_download_is_resumed_by_the_next_run(mirror, server):
    home = Path(os.environ["ANIME_HOME"])
    folder = home / "weights" / "keras_h5" / "vgg19"
    release = threading.Event()
    server.fault(H5, hold=release)
    killed = subprocess.Popen([sys.executable, "-m", "animecli", "download-weights", "vgg19"],
                              env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        partial = _wait_for(lambda: [p for p in folder.glob(f".*.incomplete/{H5_NAME}") if p.stat().st_size])
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
    finally:
        release.set()
        if killed.poll() is None:
            killed.kill()
    kept = partial[0].stat().st_size
    assert partial[0].parent.name.startswith(f".{killed.pid}-")  # what SIGKILL leaves behind
    server.fault(H5)
    with umask(0o022):
        again = run_anime("download-weights", "vgg19")
    assert again.returncode == 0, again.stderr
    assert [r.range for r in server.requests(H5)] == [None, f"bytes={kept}-"]
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "manifest.json", H5_NAME]
    assert ls_mode(folder / "manifest.json") == ls_mode(folder / H5_NAME) == "-rw-r--r--"  # item 1: the cache


def test_a_killed_video_leaves_nothing_after_the_next_run(tmp_path, weights):
    clip = make_video(tmp_path / "clip.mp4", size="64x48", frames=48)
    out = tmp_path / "out" / "clip.mp4"
    command = [sys.executable, "-m", "animecli", "video", str(clip), str(out), "-w", str(weights), "-q"]
    killed = subprocess.Popen(command, env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: list(out.parent.glob(".clip.*.video.mp4")))
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
    finally:
        if killed.poll() is None:
            killed.kill()
    assert list(out.parent.glob(f".clip.{killed.pid}-*"))  # what SIGKILL leaves behind
    again = run_anime("video", clip, out, "-w", weights, "-q")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["clip.mp4"]


@pytest.fixture
def silent_server():
    """A real socket on 127.0.0.1 that accepts connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        listener.close()


def test_a_server_that_never_answers_is_named_while_waiting_then_times_out(silent_server, tmp_path,
                                                                             monkeypatch):
    url = f"http://127.0.0.1:{silent_server}/vgg19.h5"
    override = tmp_path / "registry.json"
    override.write_text('{"vgg19": {"urls": ["%s"], "replace": true}}' % url)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), ANIME_REGISTRY=str(override),
               ANIME_DOWNLOAD_TIMEOUT="8", ANIME_DOWNLOAD_RETRIES="0")
    process = subprocess.Popen([sys.executable, "-m", "animecli", "download-weights", "vgg19"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
    try:
        first = lines.get(timeout=120)
        still_waiting = process.poll() is None
        process.wait(120)
    finally:
        if process.poll() is None:
            process.kill()
    rest = ""
    while not lines.empty():
        rest += lines.get()
    assert f"waiting for 127.0.0.1:{silent_server} to answer ({url})" in first
    assert "giving up after 8 s without data" in first
    assert still_waiting  # shown while the command waits, not with the failure
    assert process.returncode == 1
    assert f"{url}: timed out (no data for 8 s) (gave up after 1 attempt)" in rest


# ---- 11. a missing manifest is named as such ------------------------------------------------------------

def test_offline_with_the_ckpt_but_no_manifest_names_the_manifest(tmp_path, fixtures, weights):
    entry = registry.get(registry.DEFAULT_STYLE)
    folder = tmp_path / "weights" / entry.source_format / entry.name
    folder.mkdir(parents=True)
    shutil.copy(weights, folder / f"{entry.name}.ckpt")
    result = run_anime("infer", fixtures / "photos" / "chelsea.png", tmp_path / "out.png", "--cache-dir", tmp_path,
                       env={"ANIME_OFFLINE": "1"})
    assert result.returncode == 1
    assert f"({folder / 'manifest.json'} is missing)" in result.stderr
    assert f"{entry.name}.ckpt is missing" not in result.stderr
