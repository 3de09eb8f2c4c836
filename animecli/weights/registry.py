"""Named pretrained weights: one declarative table, lookup, listing and the mirror override file.

Each entry keeps the files and their URLs (a list, first answering mirror wins), the expected size and
hash where they are published, the source format and the numerics the weights were trained with
(upsampling mode, layer-norm eps, preprocessing), a description and the licence.

A JSON file named by ``ANIME_REGISTRY`` adds mirrors or replaces URLs (see docs/weights.md, "Mirrors")::

    {"vgg19": {"urls": ["https://mirror.example/vgg19.h5"]},
     "Hayao": {"replace": true,
               "files": {"Hayao-99.ckpt.index": {"urls": ["https://mirror.example/Hayao-99.ckpt.index"]},
                         "Hayao-99.ckpt.data-00000-of-00001": {"urls": ["..."], "sha256": "..."}}}}

Per name: ``urls`` (entries with one file) or ``files`` (per file name), each optionally with
``size``, ``sha256`` and ``md5``; mirror URLs go before the built-in ones unless ``"replace": true``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from animecli import settings
from animecli.errors import InvalidInputError, UnknownWeightsError

#: The style ``anime infer`` / ``anime video`` use when none is given (the seed project's default).
DEFAULT_STYLE = "Hayao"

TF_REPO = "https://github.com/TachibanaYoshino/AnimeGANv2/raw/master/checkpoint"
BL_REPO = "https://github.com/bryandlee/animegan2-pytorch/raw/main/weights"
TF_LICENCE = "non-commercial"
BL_LICENCE = "MIT"
VGG_LICENCE = "CC BY 4.0"
_GENERATOR_BYTES = 2_143_552 * 4  # float32 parameters: the published files are a little larger


@dataclass(frozen=True)
class WeightFile:
    """One file of a weight entry: its name in the cache, where to fetch it, and what it must be."""

    filename: str
    urls: Tuple[str, ...]
    size: Optional[int] = None
    sha256: Optional[str] = None
    md5: Optional[str] = None

    @property
    def has_hash(self) -> bool:
        """Whether a published hash pins the file's content."""
        return bool(self.sha256 or self.md5)


@dataclass(frozen=True)
class Preprocessing:
    """How input pictures are prepared: whole (``face_crop=0``) or a centre square crop resized (Lanczos)."""

    face_crop: int = 0

    def to_metadata(self) -> str:
        """The form stored in converted checkpoints (``WeightsMeta.preprocessing``): ``""`` or ``face_crop:512``."""
        return f"face_crop:{self.face_crop}" if self.face_crop else ""

    def describe(self) -> str:
        """Human-readable form for listings."""
        if not self.face_crop:
            return "whole picture"
        return f"centre square crop resized to {self.face_crop} (Lanczos)"


@dataclass(frozen=True)
class WeightEntry:
    """A named set of pretrained weights."""

    name: str
    kind: str  # "generator" or "vgg19"
    source_format: str  # "tf1", "torch" or "keras_h5" (animecli.weights.formats names)
    source: str  # where it comes from, for people (the URLs say exactly)
    files: Tuple[WeightFile, ...]
    licence: str
    description: str
    approx_size: int  # bytes, for listings when the exact size is not published
    upsample: Optional[str] = None  # generator upsampling mode: "tf" or "align"
    eps: Optional[float] = None  # layer-norm epsilon the weights were trained with
    preprocessing: Preprocessing = Preprocessing()

    @property
    def known_size(self) -> Optional[int]:
        """Total published size in bytes, or None when any file's size is unknown."""
        sizes = [f.size for f in self.files]
        return None if None in sizes else sum(sizes)

    @property
    def main_file(self) -> WeightFile:
        """The file a reader opens (the ``.index`` of a TF1 checkpoint, else the only file)."""
        for f in self.files:
            if f.filename.endswith(".index"):
                return f
        return self.files[0]


def _tf_generator(name: str, step: int, description: str) -> WeightEntry:
    base = f"{TF_REPO}/generator_{name}_weight/{name}-{step}.ckpt"
    files = tuple(WeightFile(f"{name}-{step}.ckpt.{suffix}", (f"{base}.{suffix}",))
                  for suffix in ("index", "data-00000-of-00001"))
    return WeightEntry(
        name=name, kind="generator", source_format="tf1", source="AnimeGANv2 TF1",
        files=files, licence=TF_LICENCE, description=description, approx_size=_GENERATOR_BYTES,
        upsample="tf", eps=1e-12)


def _bl_generator(name: str, description: str, preprocessing: Preprocessing = Preprocessing()) -> WeightEntry:
    return WeightEntry(
        name=name, kind="generator", source_format="torch", source="animegan2-pytorch",
        files=(WeightFile(f"{name}.pt", (f"{BL_REPO}/{name}.pt",)),), licence=BL_LICENCE,
        description=description, approx_size=_GENERATOR_BYTES, upsample="align", eps=1e-5,
        preprocessing=preprocessing)


_VGG19_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

_BUILTIN: Tuple[WeightEntry, ...] = (
    _tf_generator("Hayao", 99, "Miyazaki Hayao style (Spirited Away), the default"),
    _tf_generator("Paprika", 54, "Kon Satoshi's Paprika style"),
    _tf_generator("Shinkai", 53, "Shinkai Makoto style (Your Name, Weathering with You)"),
    _bl_generator("face_paint_512_v2", "portraits, face-paint look v2 (BL's default)",
                  Preprocessing(face_crop=512)),
    _bl_generator("face_paint_512_v1", "portraits, face-paint look v1",
                  Preprocessing(face_crop=512)),
    _bl_generator("celeba_distill", "portraits, distilled on CelebA",
                  Preprocessing(face_crop=256)),
    _bl_generator("paprika", "Paprika style, PyTorch training (general scenes)"),
    WeightEntry(
        name="vgg19", kind="vgg19", source_format="keras_h5", source="Keras (Caffe)",
        files=(WeightFile(
            _VGG19_FILE,
            (f"https://storage.googleapis.com/tensorflow/keras-applications/vgg19/{_VGG19_FILE}",
             f"https://github.com/fchollet/deep-learning-models/releases/download/v0.1/{_VGG19_FILE}"),
            size=80_134_624,
            sha256="bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35",
            md5="253f8cb515780f3b799900260a226db6"),),
        licence=VGG_LICENCE, description="VGG19 features for the training losses (not a style)",
        approx_size=80_134_624),
)


def _apply_override(entries: Tuple[WeightEntry, ...], path: Path) -> Tuple[WeightEntry, ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidInputError(f"ANIME_REGISTRY file {path} cannot be read: {err.strerror}") from err
    except ValueError as err:
        raise InvalidInputError(f"ANIME_REGISTRY file {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise InvalidInputError(f"ANIME_REGISTRY file {path} must hold a JSON object of weight names")
    result = list(entries)
    for key, spec in data.items():
        try:
            entry = _lookup(entries, str(key))
        except UnknownWeightsError as err:
            raise InvalidInputError(f"ANIME_REGISTRY file {path}: {err}") from err
        result[entries.index(entry)] = _override_entry(entry, spec, path)
    return tuple(result)


def _override_entry(entry: WeightEntry, spec, path: Path) -> WeightEntry:
    where = f"ANIME_REGISTRY file {path}, entry {entry.name!r}"
    if not isinstance(spec, dict) or not set(spec) <= {"urls", "files", "replace", "size", "sha256", "md5"}:
        raise InvalidInputError(f"{where}: expected an object with urls or files (and size, sha256, md5, "
                                f"replace)")
    replace = bool(spec.get("replace", False))
    if "files" in spec:
        per_file = spec["files"]
        if not isinstance(per_file, dict):
            raise InvalidInputError(f"{where}: 'files' must map file names to objects")
    elif len(entry.files) == 1:
        per_file = {entry.files[0].filename: {k: v for k, v in spec.items() if k != "replace"}}
    else:
        raise InvalidInputError(f"{where}: this entry has several files; give them under 'files' "
                                f"({', '.join(f.filename for f in entry.files)})")
    files = {f.filename: f for f in entry.files}
    for filename, fspec in per_file.items():
        if filename not in files:
            raise InvalidInputError(f"{where}: no file {filename!r} (files: {', '.join(files)})")
        files[filename] = _override_file(files[filename], fspec, replace, f"{where}, file {filename!r}")
    return dataclasses.replace(entry, files=tuple(files[f.filename] for f in entry.files))


def _override_file(wfile: WeightFile, spec, replace: bool, where: str) -> WeightFile:
    if not isinstance(spec, dict) or not set(spec) <= {"urls", "size", "sha256", "md5"}:
        raise InvalidInputError(f"{where}: expected an object with urls, size, sha256, md5")
    urls = spec.get("urls", [])
    if isinstance(urls, str):
        urls = [urls]
    if not all(isinstance(u, str) and re.match(r"^(https?|file)://", u) for u in urls):
        raise InvalidInputError(f"{where}: urls must be http(s):// or file:// URLs")
    if replace and not urls:
        raise InvalidInputError(f"{where}: 'replace' needs at least one URL")
    changes = {"urls": tuple(urls) if replace else tuple(urls) + wfile.urls}
    if "size" in spec:
        if not isinstance(spec["size"], int) or spec["size"] < 0:
            raise InvalidInputError(f"{where}: size must be a number of bytes")
        changes["size"] = spec["size"]
    for algo, length in (("sha256", 64), ("md5", 32)):
        if algo in spec:
            value = str(spec[algo]).lower()
            if not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
                raise InvalidInputError(f"{where}: {algo} must be {length} hex digits")
            changes[algo] = value
    if ("sha256" in spec) != ("md5" in spec):
        # a new hash for other bytes makes the built-in one of the other kind meaningless
        changes.setdefault("sha256", None)
        changes.setdefault("md5", None)
    return dataclasses.replace(wfile, **changes)


def entries() -> Tuple[WeightEntry, ...]:
    """Every named weight, with the ``ANIME_REGISTRY`` mirrors applied."""
    override = settings.registry_override()
    return _apply_override(_BUILTIN, override) if override else _BUILTIN


def _lookup(table: Tuple[WeightEntry, ...], name: str) -> WeightEntry:
    exact = [e for e in table if e.name == name]
    if exact:
        return exact[0]
    folded = [e for e in table if e.name.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    known = ", ".join(e.name for e in table)
    if folded:
        choices = " or ".join(f"{e.name} ({e.source})" for e in folded)
        raise UnknownWeightsError(f"ambiguous weights name {name!r}: {choices}; known: {known}")
    raise UnknownWeightsError(f"unknown weights {name!r}; known: {known}")


def get(name: str) -> WeightEntry:
    """The entry called ``name``: exact spelling first, else case-insensitive when that is unambiguous
    (``Paprika`` is the TF1 model, ``paprika`` the PyTorch one). ``UnknownWeightsError`` lists the names."""
    return _lookup(entries(), name)
