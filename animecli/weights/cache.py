"""The weights cache: named weights fetched once, verified, converted, and verified again on every load.

Layout under the cache root (``--cache-dir``, else ``$ANIME_HOME``, else ``$XDG_CACHE_HOME/animecli``)::

    weights/<source format>/<name>/
        <name>.ckpt          generator converted to MindSpore (with its metadata); vgg19: the Keras .h5
        manifest.json        what was fetched from where, its sha256, and the sha256 of the ready file
        source/              the original files, with --keep-source
        .lock                taken while a process fetches this entry

A download goes to a process-unique ``.<pid>-*.incomplete`` folder beside the final place, is checked
(size and published hash, else the structure: names, shapes, dtypes), converted, and only then moved
into place with ``os.replace``; the folder is removed in ``finally``. The lock only saves duplicate work.
A process killed mid-download cannot remove its folder: the next fetch (holding the lock) takes over
the partial file of a dead process and resumes it with an HTTP Range request, then removes its folder.
A resumed file that fails its check is fetched once more from the start.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from animecli import __version__, files, settings
from animecli.errors import (AnimeError, ChecksumMismatchError, DownloadError, WeightsNotCachedError)
from animecli.progress import NullReporter, Reporter
from animecli.weights import registry
from animecli.weights.download import DownloadPolicy, download
from animecli.weights.registry import WeightEntry, WeightFile

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
SOURCE_DIR = "source"
_STAGING = re.compile(r"^\.(\d+)-.+\.incomplete$")  # group 1: the pid of the fetching process


def cache_root(cache_dir: Optional[Path] = None) -> Path:
    """The cache root: ``cache_dir`` when given, else ``settings.anime_home()``."""
    return Path(cache_dir).expanduser() if cache_dir else settings.anime_home()


def entry_dir(entry: WeightEntry, cache_dir: Optional[Path] = None) -> Path:
    """The folder that holds one named weight."""
    return cache_root(cache_dir) / "weights" / entry.source_format / entry.name


def ready_filename(entry: WeightEntry) -> str:
    """Name of the file ``ensure_weights`` returns: ``<name>.ckpt`` for generators, the h5 for vgg19."""
    return f"{entry.name}.ckpt" if entry.kind == "generator" else entry.files[0].filename


@dataclass(frozen=True)
class CacheState:
    """What the cache holds for one entry, from its manifest (no hashing)."""

    entry: WeightEntry
    path: Path  # the ready file, present or not
    manifest: Optional[dict]

    @property
    def present(self) -> bool:
        """The manifest and a ready file of the recorded size are there."""
        return (self.manifest is not None and self.path.is_file()
                and self.path.stat().st_size == self.manifest.get("size"))

    @property
    def source_kept(self) -> bool:
        """The original files are kept beside the converted one (always true for vgg19)."""
        return self.manifest is not None and all(s.get("kept") for s in self.manifest.get("sources", []))


def state(entry: WeightEntry, cache_dir: Optional[Path] = None) -> CacheState:
    """What the cache holds for ``entry`` (reads the manifest, hashes nothing)."""
    folder = entry_dir(entry, cache_dir)
    return CacheState(entry, folder / ready_filename(entry), _read_manifest(folder))


def verify(entry: WeightEntry, cache_dir: Optional[Path] = None) -> List[str]:
    """Re-hash a cached entry (ready file and kept sources) against its manifest; returns the problems.

    An entry that is not downloaded is reported as such.
    """
    current = state(entry, cache_dir)
    if current.manifest is None:
        return [f"not downloaded ({current.path.parent / MANIFEST} missing)"]
    problems = _problem(current.path, current.manifest.get("size"), current.manifest.get("sha256"))
    for record in current.manifest.get("sources", []):
        if record.get("kept") and record["file"] != current.path.name:
            source = current.path.parent / SOURCE_DIR / record["file"]
            problems += _problem(source, record.get("size"), record.get("sha256"))
    return problems


def ensure_weights(name: str, *, cache_dir: Optional[Path] = None, reporter: Optional[Reporter] = None,
                   keep_source: bool = False, policy: Optional[DownloadPolicy] = None,
                   local_option: str = "") -> Path:
    """Local path of the ready-to-load weights called ``name``, downloading them on first use.

    Generators: our MindSpore ``.ckpt`` with metadata (name, source_format, upsample, eps,
    preprocessing, ...); ``vgg19``: the verified Keras h5. The ready file's sha256 is checked against the
    manifest on every call. A corrupt cache entry is fetched again (offline: ``ChecksumMismatchError``);
    offline and not cached: ``WeightsNotCachedError`` saying how to get it. ``local_option`` is the calling
    command's option for a local file instead (``--weights``, ``--vgg``), named in the hints.
    """
    entry = registry.get(name)
    reporter = reporter or NullReporter()
    folder = entry_dir(entry, cache_dir)
    wait_note = f"another process is downloading {entry.name}; waiting for it"
    with _locked(folder, lambda: reporter.warn(wait_note)):
        current = state(entry, cache_dir)
        problems = _problem(current.path, current.manifest.get("size"), current.manifest.get("sha256")) \
            if current.manifest is not None else ["not downloaded"]
        if not problems and (current.source_kept or not keep_source):
            return current.path
        if not problems and settings.offline():
            reporter.warn(f"offline: the original {entry.name} files cannot be fetched to keep them")
            return current.path
        corrupt = current.manifest is not None and bool(problems)
        if settings.offline():
            if corrupt:
                raise ChecksumMismatchError(
                    f"cached {entry.name} weights are corrupt: {'; '.join(problems)}",
                    hint=_fetch_hint(entry, cache_dir, local_option))
            raise WeightsNotCachedError(
                f"{entry.name} weights are not in the cache ({_absent(current)}) and ANIME_OFFLINE is set",
                hint=_fetch_hint(entry, cache_dir, local_option))
        if corrupt:
            reporter.warn(f"cached {entry.name} weights are corrupt ({'; '.join(problems)}); downloading again")
        try:
            path = _fetch(entry, folder, reporter, keep_source, policy or DownloadPolicy.from_env())
        except (DownloadError, ChecksumMismatchError) as err:
            if not err.hint:
                err.hint = ("check the network or add a mirror with ANIME_REGISTRY; "
                            + _fetch_hint(entry, cache_dir, local_option))
            raise
        if entry.licence == registry.TF_LICENCE:
            reporter.warn(f"the {entry.name} weights are licensed for non-commercial use only")
        return path


def _absent(current: CacheState) -> str:
    """What is missing from an entry without a (readable) manifest: the ready file, else the manifest."""
    if not current.path.is_file():
        return f"{current.path} is missing"
    manifest = current.path.parent / MANIFEST
    return f"{manifest} is {'unreadable' if manifest.exists() else 'missing'}"


def _fetch_hint(entry: WeightEntry, cache_dir: Optional[Path], local_option: str) -> str:
    where = cache_root(cache_dir) / "weights"
    hint = (f"run `anime download-weights {entry.name}` on a connected machine and copy {where} here "
            f"(or point --cache-dir / ANIME_HOME at a copy)")
    return hint + (f", or pass a local file with {local_option} PATH" if local_option else "")


def _fetch(entry: WeightEntry, folder: Path, reporter: Reporter, keep_source: bool,
           policy: DownloadPolicy) -> Path:
    """Download every file of ``entry``, verify, convert, then move into place and write the manifest."""
    staging = Path(tempfile.mkdtemp(prefix=f".{os.getpid()}-", suffix=".incomplete", dir=folder))
    try:
        resumed = _adopt_partial_files(folder, staging, entry)
        records = []
        for number, wfile in enumerate(entry.files, 1):
            tmp = staging / wfile.filename
            label = entry.name if len(entry.files) == 1 else f"{entry.name} {number}/{len(entry.files)}"
            records.append(_download_verified(wfile, tmp, wfile.filename in resumed, reporter, policy, label))
        if entry.kind == "generator":
            ready_tmp = staging / ready_filename(entry)
            _convert(entry, staging / entry.main_file.filename, ready_tmp, records)
        else:
            ready_tmp = staging / entry.files[0].filename
        keep = keep_source or entry.kind != "generator"
        if entry.kind == "generator":
            _place_sources(folder, staging, records, keep)
        for record in records:
            record["kept"] = keep
        final = folder / ready_filename(entry)
        ready_sha = _hash_file(ready_tmp)["sha256"] if entry.kind == "generator" else records[0]["sha256"]
        os.replace(ready_tmp, final)
        _write_json_atomic(folder / MANIFEST, {
            "version": MANIFEST_VERSION, "name": entry.name, "kind": entry.kind,
            "source_format": entry.source_format, "file": final.name, "size": final.stat().st_size,
            "sha256": ready_sha, "sources": records, "animecli": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download_verified(wfile: WeightFile, tmp: Path, resume: bool, reporter: Reporter, policy: DownloadPolicy,
                       label: str) -> dict:
    """Download ``wfile`` to ``tmp`` (continuing its partial content when ``resume``) and check it; a
    resumed file that fails the check is downloaded once more from the start."""
    url = download(wfile.urls, tmp, expected_size=wfile.size, reporter=reporter, policy=policy,
                   description=label, resume=resume)
    try:
        return _verified_record(wfile, tmp, url)
    except ChecksumMismatchError:
        if not resume:
            raise
    reporter.warn(f"the resumed {wfile.filename} did not check out; downloading it from the start")
    url = download(wfile.urls, tmp, expected_size=wfile.size, reporter=reporter, policy=policy, description=label)
    return _verified_record(wfile, tmp, url)


def _verified_record(wfile: WeightFile, path: Path, url: str) -> dict:
    """Check a downloaded file's size and published hashes; return its manifest record."""
    size = path.stat().st_size
    if wfile.size is not None and size != wfile.size:
        raise ChecksumMismatchError(f"{wfile.filename} from {url} has {size} bytes, expected {wfile.size}; "
                                    f"nothing was saved")
    digests = _hash_file(path, md5=bool(wfile.md5))
    for algo in ("sha256", "md5"):
        expected = getattr(wfile, algo)
        if expected and digests[algo] != expected:
            raise ChecksumMismatchError(f"{wfile.filename} from {url} has {algo} {digests[algo]}, expected "
                                        f"{expected}; nothing was saved")
    checked = "sha256" if wfile.sha256 else ("md5" if wfile.md5 else "structure")
    return {"file": wfile.filename, "url": url, "size": size, "sha256": digests["sha256"], "checked": checked}


def _convert(entry: WeightEntry, source: Path, dest: Path, records: List[dict]) -> None:
    """Structural check and conversion: read the source, map it strictly onto our generator, write a .ckpt.

    The metadata holds ``arch`` and the ``WeightsMeta`` fields (what ``resolve`` reads back), plus the
    licence and the sha256 of every source file.
    """
    import numpy as np

    from animecli.weights import convert, formats
    from animecli.weights.formats.mindspore_ckpt import write_mindspore_ckpt
    from animecli.weights.generator_ckpt import WeightsMeta

    urls = ", ".join(r["url"] for r in records)
    try:
        found = formats.detect_format(source)
        if found != entry.source_format:
            raise DownloadError(f"expected a {entry.source_format} checkpoint, got a {found} file")
        _, tensors = formats.read_tensors(source, convert.torch_shapes_check(source.name))
        weights = {n: a for n, a in tensors.items()
                   if entry.source_format != "tf1" or n.startswith(convert.TF_PREFIX)}
        wrong = [f"{n} ({a.dtype})" for n, a in weights.items() if a.dtype != np.float32]
        if wrong:
            raise DownloadError(f"expected float32 weights, got {', '.join(wrong[:4])}")
        params = convert.generator_params_from(tensors, entry.source_format, source=source.name)
    except AnimeError as err:
        raise DownloadError(f"{entry.name} weights fetched from {urls} failed the structural check "
                            f"({err}); nothing was saved") from err
    meta = WeightsMeta(name=entry.name, source_format=entry.source_format, upsample=entry.upsample,
                       eps=entry.eps, source=urls, preprocessing=entry.preprocessing.to_metadata())
    write_mindspore_ckpt(dest, params, {
        "arch": convert.GENERATOR_ARCH, **dataclasses.asdict(meta), "licence": entry.licence,
        "source_sha256": " ".join(f"{r['file']}={r['sha256']}" for r in records),
    })


def _place_sources(folder: Path, staging: Path, records: List[dict], keep: bool) -> None:
    """Move the verified originals to ``source/`` (``keep``) or drop an older copy there."""
    target = folder / SOURCE_DIR
    if not keep:
        shutil.rmtree(target, ignore_errors=True)
        return
    target.mkdir(exist_ok=True)
    for record in records:
        os.replace(staging / record["file"], target / record["file"])


def _problem(path: Path, size: Optional[int], sha256: Optional[str]) -> List[str]:
    """Why ``path`` is not the recorded file (empty when it is)."""
    if not path.is_file():
        return [f"{path} is missing"]
    actual = path.stat().st_size
    if actual != size:
        return [f"{path} has {actual} bytes, the manifest says {size}"]
    if _hash_file(path)["sha256"] != sha256:
        return [f"{path} does not match the sha256 in the manifest"]
    return []


def _hash_file(path: Path, md5: bool = False) -> Dict[str, str]:
    """sha256 (and md5) of a file, read in 1 MiB chunks."""
    hashers = {"sha256": hashlib.sha256()}
    if md5:
        hashers["md5"] = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            for h in hashers.values():
                h.update(block)
    return {algo: h.hexdigest() for algo, h in hashers.items()}


def _read_manifest(folder: Path) -> Optional[dict]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == MANIFEST_VERSION else None


def _write_json_atomic(path: Path, data: dict) -> None:
    files.atomic_write_bytes(path, json.dumps(data, indent=2).encode("utf-8"), durable=True)


def _adopt_partial_files(folder: Path, staging: Path, entry: WeightEntry) -> List[str]:
    """Move the largest partial download of each of ``entry``'s files left by dead processes into
    ``staging``, then remove every leftover of dead processes; returns the names of the adopted files."""
    leftovers = files.dead_leftovers(folder, _STAGING)
    adopted = []
    for wfile in entry.files:
        partials = [p for p in (leftover / wfile.filename for leftover in leftovers) if p.is_file()]
        best = max(partials, key=lambda p: p.stat().st_size, default=None)
        if best is not None and 0 < best.stat().st_size < (wfile.size or float("inf")):
            os.replace(best, staging / wfile.filename)
            adopted.append(wfile.filename)
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)
    files.remove_dead_leftovers(folder)
    return adopted


@contextmanager
def _locked(folder: Path, on_wait) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder/.lock``; without one (read-only cache) go on unlocked."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd: Optional[int] = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        fd = None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                on_wait()
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd is not None:
            os.close(fd)

