"""The verified download cache against a real HTTP server on 127.0.0.1, with the real VGG19 h5."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from animecli.errors import ChecksumMismatchError, DownloadError, WeightsNotCachedError
from animecli.weights import cache, registry
from animecli.weights.download import DownloadPolicy
from tests.integration.weights_server import H5, Recorder, copy_with_flipped_byte

VGG_MD5 = "253f8cb515780f3b799900260a226db6"
VGG_SHA256 = "bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35"
VGG_SIZE = 80_134_624
FAST = DownloadPolicy(timeout=2.0, retries=2, backoff=0.01)


def _digests(path: Path):
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def _vgg_dir(tmp_home: Path) -> Path:
    return tmp_home / "weights" / "keras_h5" / "vgg19"


def _assert_clean(folder: Path):
    """Nothing but the lock file: no weights, no manifest, no temp files."""
    left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert left in ([], [".lock"]), left


def test_downloads_real_vgg19_verifies_and_records_manifest(mirror, server, tmp_path):
    reporter = Recorder()
    path = cache.ensure_weights("VGG19", cache_dir=tmp_path / "c", reporter=reporter, policy=FAST)

    assert path == _vgg_dir(tmp_path / "c") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert path.stat().st_size == VGG_SIZE
    assert _digests(path) == (VGG_SHA256, VGG_MD5)
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["sha256"] == VGG_SHA256 and manifest["size"] == VGG_SIZE
    assert manifest["sources"] == [{"file": path.name, "url": server.url(H5), "size": VGG_SIZE,
                                    "sha256": VGG_SHA256, "checked": "sha256", "kept": True}]
    assert reporter.starts == [("vgg19", VGG_SIZE, "bytes")]
    assert reporter.advanced == VGG_SIZE and reporter.stops == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [".lock", "manifest.json", path.name]

    again = cache.ensure_weights("vgg19", cache_dir=tmp_path / "c", policy=FAST)
    assert again == path
    assert [r.status for r in server.requests(H5)] == [200]  # the second call used the cache


def test_cache_dir_defaults_to_anime_home(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("ANIME_HOME", str(tmp_path / "home"))
    path = cache.ensure_weights("vgg19", policy=FAST)
    assert path.parent == _vgg_dir(tmp_path / "home")


def test_dropped_connection_resumes_with_range(mirror, server, tmp_path):
    half = VGG_SIZE // 2
    server.fault(H5, drop_at=half)
    reporter = Recorder()
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path, reporter=reporter, policy=FAST)

    assert _digests(path) == (VGG_SHA256, VGG_MD5)
    log = server.requests(H5)
    assert [(r.status, r.range) for r in log] == [(200, None), (206, f"bytes={half}-")]
    assert reporter.advanced == VGG_SIZE  # received bytes, each counted once


def test_server_ignoring_range_restarts_from_zero(mirror, server, tmp_path):
    server.fault(H5, drop_at=VGG_SIZE // 3, ignore_range=True)
    reporter = Recorder()
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path, reporter=reporter, policy=FAST)

    assert _digests(path) == (VGG_SHA256, VGG_MD5)
    log = server.requests(H5)
    assert [(r.status, r.range) for r in log] == [(200, None), (200, f"bytes={VGG_SIZE // 3}-")]
    assert reporter.advanced == VGG_SIZE


def test_corrupted_byte_is_rejected_and_cache_left_clean(mirror, server, tmp_path):
    server.fault(H5, corrupt_at=12_345_678)
    with pytest.raises(ChecksumMismatchError, match="vgg19_weights.*sha256.*expected " + VGG_SHA256):
        cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    _assert_clean(_vgg_dir(tmp_path))


def test_404_is_a_clear_error_without_retries(mirror, server, tmp_path):
    server.fault(H5, not_found=True)
    with pytest.raises(DownloadError, match=r"HTTP 404") as info:
        cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    assert server.url(H5) in str(info.value)
    assert "anime download-weights vgg19" in info.value.hint
    assert len(server.requests(H5)) == 1
    _assert_clean(_vgg_dir(tmp_path))


def test_500_then_ok_is_retried(mirror, server, tmp_path):
    server.fault(H5, errors_first=2)
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    assert _digests(path)[0] == VGG_SHA256
    assert [r.status for r in server.requests(H5)] == [500, 500, 200]


def test_persistent_500_gives_up_after_bounded_retries(mirror, server, tmp_path):
    server.fault(H5, errors_first=100)
    with pytest.raises(DownloadError, match=r"HTTP 500.*gave up after 3 attempts"):
        cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    assert len(server.requests(H5)) == 3
    _assert_clean(_vgg_dir(tmp_path))


def test_slow_server_hits_the_timeout(mirror, server, tmp_path):
    server.fault(H5, delay=2.0)
    policy = DownloadPolicy(timeout=0.3, retries=1, backoff=0.01)
    with pytest.raises(DownloadError, match=r"timed out \(no data for 0.3 s\).*gave up after 2 attempts"):
        cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=policy)
    _assert_clean(_vgg_dir(tmp_path))


def test_slow_first_answer_then_fast_succeeds(mirror, server, tmp_path):
    server.fault(H5, delay=3.0, delay_times=1)
    policy = DownloadPolicy(timeout=1.0, retries=2, backoff=0.01)
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=policy)
    assert _digests(path)[0] == VGG_SHA256


def test_mirrors_are_tried_in_order(server, tmp_path, monkeypatch):
    override = tmp_path / "registry.json"
    override.write_text(json.dumps({"vgg19": {"urls": [server.url("/missing.h5"), server.url(H5)],
                                              "replace": True}}))
    monkeypatch.setenv("ANIME_REGISTRY", str(override))
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path / "c", policy=FAST)
    assert _digests(path)[0] == VGG_SHA256
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["sources"][0]["url"] == server.url(H5)


def test_connection_refused_names_every_mirror(tmp_path, monkeypatch):
    override = tmp_path / "registry.json"
    override.write_text(json.dumps({"vgg19": {"urls": ["http://127.0.0.1:9/a.h5"], "replace": True}}))
    monkeypatch.setenv("ANIME_REGISTRY", str(override))
    with pytest.raises(DownloadError, match=r"http://127.0.0.1:9/a.h5: cannot connect") as info:
        cache.ensure_weights("vgg19", cache_dir=tmp_path / "c", policy=FAST, local_option="--vgg")
    assert "or pass a local file with --vgg PATH" in info.value.hint  # the caller's option


def test_offline_and_not_cached_says_what_is_missing_and_how_to_fix(mirror, server, tmp_path, monkeypatch):
    monkeypatch.setenv("ANIME_OFFLINE", "1")
    with pytest.raises(WeightsNotCachedError) as info:
        cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    message = str(info.value)
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 is missing" in message
    assert "ANIME_OFFLINE" in message
    assert "`anime download-weights vgg19` on a connected machine" in info.value.hint
    assert "pass a local file" not in info.value.hint  # no local_option: the caller has none
    assert isinstance(info.value, FileNotFoundError)
    assert server.requests(H5) == []


def test_offline_uses_a_cached_entry(mirror, server, tmp_path, monkeypatch):
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    monkeypatch.setenv("ANIME_OFFLINE", "1")
    assert cache.ensure_weights("vgg19", cache_dir=tmp_path) == path
    assert len(server.requests(H5)) == 1


def test_corrupted_cache_is_detected_on_load_and_fetched_again(mirror, server, tmp_path, monkeypatch):
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    copy_with_flipped_byte(path, tmp_path / "bad.h5", 1000)
    (tmp_path / "bad.h5").replace(path)
    entry = registry.get("vgg19")
    assert cache.verify(entry, tmp_path) == [f"{path} does not match the sha256 in the manifest"]

    monkeypatch.setenv("ANIME_OFFLINE", "1")
    with pytest.raises(ChecksumMismatchError, match="cached vgg19 weights are corrupt"):
        cache.ensure_weights("vgg19", cache_dir=tmp_path)

    monkeypatch.delenv("ANIME_OFFLINE")
    reporter = Recorder()
    assert cache.ensure_weights("vgg19", cache_dir=tmp_path, reporter=reporter, policy=FAST) == path
    assert "corrupt" in reporter.warnings[0] and "downloading again" in reporter.warnings[0]
    assert _digests(path)[0] == VGG_SHA256 and cache.verify(entry, tmp_path) == []


def test_truncated_cache_file_is_not_reported_present(mirror, server, tmp_path):
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    entry = registry.get("vgg19")
    assert cache.state(entry, tmp_path).present
    with open(path, "r+b") as f:
        f.truncate(1000)
    assert not cache.state(entry, tmp_path).present
    assert cache.verify(entry, tmp_path) == [f"{path} has 1000 bytes, the manifest says {VGG_SIZE}"]


def test_leftovers_of_dead_processes_are_removed_and_a_bad_partial_is_fetched_again(mirror, server, tmp_path):
    folder = _vgg_dir(tmp_path)
    dead = folder / ".999999-dead.incomplete"  # no such process: killed mid-download
    live = folder / f".{os.getpid()}-live.incomplete"  # a running process's download
    for leftover in (dead, live):
        leftover.mkdir(parents=True)
        (leftover / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"garbage")
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=FAST)
    assert _digests(path)[0] == VGG_SHA256  # the resumed "garbage" prefix failed its check: fetched again
    assert [r.range for r in server.requests(H5)] == ["bytes=7-", None]
    assert not dead.exists() and live.exists()


def test_two_racing_downloads_without_the_lock_stay_correct(mirror, server, tmp_path, monkeypatch):
    """The lock only saves work: two unlocked downloads of the same name both end with a verified file."""

    @contextmanager
    def no_lock(folder, on_wait):
        folder.mkdir(parents=True, exist_ok=True)
        yield

    monkeypatch.setattr(cache, "_locked", no_lock)
    release = threading.Event()
    server.fault(H5, hold=release)
    results, errors = [], []

    def fetch():
        try:
            results.append(cache.ensure_weights("vgg19", cache_dir=tmp_path, policy=DownloadPolicy(timeout=30)))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(600):  # both requests in flight before either may finish
        if len(server.requests(H5)) == 2:
            break
        threading.Event().wait(0.05)
    release.set()
    for t in threads:
        t.join(60)
    assert errors == [] and len(results) == 2 and results[0] == results[1]
    assert len(server.requests(H5)) == 2
    assert _digests(results[0])[0] == VGG_SHA256
    assert cache.verify(registry.get("vgg19"), tmp_path) == []
    _assert_clean_but_ready(_vgg_dir(tmp_path))


def _assert_clean_but_ready(folder: Path):
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"]


def test_file_url_mirror_for_a_local_copy(vgg_path, tmp_path, monkeypatch):
    override = tmp_path / "registry.json"
    override.write_text(json.dumps({"vgg19": {"urls": [vgg_path.as_uri()], "replace": True}}))
    monkeypatch.setenv("ANIME_REGISTRY", str(override))
    path = cache.ensure_weights("vgg19", cache_dir=tmp_path / "c", policy=FAST)
    assert _digests(path)[0] == VGG_SHA256
