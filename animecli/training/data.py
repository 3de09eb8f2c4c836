"""Training data: the photo, style and smooth folders as one ``mindspore.dataset`` pipeline (SPEC section 5).

Layout under the data folder::

    train_photo/*            real photos
    <Style>/style/*          frames of the target style
    <Style>/smooth/*         the same frames edge-smoothed (``anime smooth dataset/<Style>``)
    val/*                    a few photos for the sample grids (optional)

Each step takes ``batch_size`` photos, style images and smooth images from three independently shuffled
streams; an epoch has ``max(#photos, #style) // (batch_size * world_size)`` steps and a shorter stream
wraps around within the epoch. Every image is brought to ``img_size`` x ``img_size`` by a square crop whose
side is the image's short side, at a random position along the long side, then resized (area filter when
shrinking, bilinear when enlarging). Style images also appear as gray-as-3-channel copies; smooth images
only as gray copies (the discriminator's "blur" term). Values are float32 NCHW in [-1, 1].

The order and the crop positions of epoch ``e`` are a pure function of ``(seed, e)``, so a run resumed in
the middle of an epoch sees exactly the batches it would have seen, whatever ``--workers`` is.
``BatchStream`` serves them through one ``mindspore.dataset`` pipeline per training session.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from animecli import images
from animecli.errors import InvalidInputError

COLUMNS = ("photo", "anime", "anime_gray", "smooth_gray")


@dataclass(frozen=True)
class DatasetFiles:
    """The image files of a training set, and the files skipped as unreadable (path, reason)."""

    photos: Tuple[Path, ...]
    style: Tuple[Path, ...]
    smooth: Tuple[Path, ...]
    skipped: Tuple[Tuple[Path, str], ...] = ()

    def steps_per_epoch(self, batch_size: int, world_size: int = 1) -> int:
        """SPEC section 5: ``max(#photos, #style) // batch``, the global batch being ``batch * world``."""
        return max(len(self.photos), len(self.style)) // (batch_size * world_size)


def style_folder(data_dir: Path, style: str) -> Path:
    """``<data_dir>/<style>``, matched case-insensitively when the exact name does not exist."""
    exact = data_dir / style
    if exact.is_dir():
        return exact
    matches = [p for p in data_dir.iterdir() if p.is_dir() and p.name.lower() == style.lower()]
    return matches[0] if len(matches) == 1 else exact


def find_dataset(data_dir: Path, style: str, batch_size: int, world_size: int = 1) -> DatasetFiles:
    """List and check the training images; raise ``InvalidInputError`` saying what is missing and how to fix it.

    Files OpenCV cannot recognise as images (by their header) are skipped and listed in ``skipped``.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InvalidInputError(
            f"dataset folder {data_dir} not found",
            hint="pass --data-dir, or lay out ./dataset/train_photo, ./dataset/<Style>/style and "
                 "./dataset/<Style>/smooth",
        )
    folder = style_folder(data_dir, style)
    photo_dir, style_dir, smooth_dir = data_dir / "train_photo", folder / "style", folder / "smooth"
    for path, what in ((photo_dir, "photos"), (style_dir, f"{style} style images")):
        if not path.is_dir():
            raise InvalidInputError(f"folder of {what} {path} not found",
                                    hint=f"expected {data_dir}/train_photo and {data_dir}/<Style>/style")
    if not smooth_dir.is_dir():
        raise InvalidInputError(
            f"folder of smoothed {style} images {smooth_dir} not found",
            hint=f"run `anime smooth {folder}` to make it from {style_dir}",
        )
    skipped: List[Tuple[Path, str]] = []
    lists = [_images_in(path, skipped) for path in (photo_dir, style_dir, smooth_dir)]
    global_batch = batch_size * world_size
    for files, path in zip(lists, (photo_dir, style_dir, smooth_dir)):
        if len(files) < global_batch:
            per = f" ({batch_size} per worker x {world_size} workers)" if world_size > 1 else ""
            raise InvalidInputError(
                f"{path} has {len(files)} usable image(s); a batch needs {global_batch}{per}",
                hint="add images or lower --batch-size",
            )
    return DatasetFiles(*(tuple(files) for files in lists), skipped=tuple(skipped))


def _images_in(folder: Path, skipped: List[Tuple[Path, str]]) -> List[Path]:
    """Sorted non-hidden files of ``folder`` that OpenCV recognises as images; the others go to ``skipped``."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if cv2.haveImageReader(str(path)):
            found.append(path)
        else:
            skipped.append((path, "not an image format OpenCV can read"))
    return found


def _read_rgb(path: Path) -> Optional[np.ndarray]:
    """The picture at ``path`` as 8-bit RGB, or None when OpenCV cannot decode it."""
    bgr = cv2.imdecode(images.without_icc_profile(np.fromfile(str(path), dtype=np.uint8)), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def epoch_plan(counts: Sequence[int], samples: int, seed: int, epoch: int) -> Tuple[np.ndarray, np.ndarray]:
    """File indices ``(samples, 3)`` of the photo/style/smooth streams and crop positions ``(samples, 3)``.

    Each stream is a concatenation of fresh permutations, cut to ``samples``; everything is derived from
    ``(seed, epoch)`` only.
    """
    rng = np.random.default_rng([int(seed), int(epoch)])
    columns = []
    for n in counts:
        perms = [rng.permutation(n) for _ in range(math.ceil(samples / n))]
        columns.append(np.concatenate(perms)[:samples])
    return np.stack(columns, axis=1), rng.random((samples, len(counts)))


def crop_resize(image: np.ndarray, size: int, position: float) -> np.ndarray:
    """Square crop of side = the short side at ``position`` (0..1) along the long side, resized to ``size``."""
    h, w = image.shape[:2]
    side = min(h, w)
    offset = int(round(position * (max(h, w) - side)))
    crop = image[offset:offset + side, :] if h > w else image[:, offset:offset + side]
    if side == size:
        return np.ascontiguousarray(crop)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def _to_chw(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 3xHxW float32 in [-1, 1]."""
    return (image.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1).copy()


def _gray3(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[:, :, None], 3, axis=2)


class _Samples:
    """Random-access source over a session's samples: item i decodes one photo, one style image and one
    smooth image of the right epoch plan, for this worker's shard.

    Decoding failures are remembered in ``failure`` (path, reason) before raising, so the trainer can name the
    file even though MindSpore's pipeline wraps the exception.
    """

    def __init__(self, files: DatasetFiles, *, img_size: int, batch_size: int, seed: int, start_epoch: int,
                 start_step: int, end_epoch: int, rank: int, world_size: int):
        self.files = (files.photos, files.style, files.smooth)
        self.size, self.batch, self.seed = img_size, batch_size, seed
        self.rank, self.world = rank, world_size
        self.start_epoch, self.start_step = start_epoch, start_step
        self.steps = files.steps_per_epoch(batch_size, world_size)
        self.first = max(0, self.steps - start_step) * batch_size  # samples left in the first epoch
        later = max(0, end_epoch - start_epoch - 1)
        self.total = self.first + later * self.steps * batch_size if end_epoch > start_epoch else 0
        self.failure: Optional[Tuple[Path, str]] = None
        self._plans: dict = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.total

    def locate(self, item: int) -> Tuple[int, int]:
        """``(epoch, row of the epoch plan)`` of the session's ``item``-th sample for this worker."""
        if item < self.first:
            epoch, step0, k = self.start_epoch, self.start_step, item
        else:
            per_epoch = self.steps * self.batch
            epoch, step0, k = self.start_epoch + 1 + (item - self.first) // per_epoch, 0, \
                (item - self.first) % per_epoch
        step, j = step0 + k // self.batch, k % self.batch
        return epoch, (step * self.world + self.rank) * self.batch + j

    def plan(self, epoch: int) -> Tuple[np.ndarray, np.ndarray]:
        """The epoch's plan (see ``epoch_plan``); a few recent epochs are cached (reading threads run ahead)."""
        with self._lock:
            plan = self._plans.get(epoch)
            if plan is None:
                counts = [len(f) for f in self.files]
                plan = epoch_plan(counts, self.steps * self.batch * self.world, self.seed, epoch)
                self._plans[epoch] = plan
                while len(self._plans) > 3:
                    del self._plans[min(self._plans)]
            return plan

    def __getitem__(self, item: int):
        epoch, row = self.locate(int(item))
        indices, positions = self.plan(epoch)
        photo, style, smooth = (self._load(k, indices[row, k], positions[row, k]) for k in range(3))
        return _to_chw(photo), _to_chw(style), _to_chw(_gray3(style)), _to_chw(_gray3(smooth))

    def _load(self, stream: int, index: int, position: float) -> np.ndarray:
        path = self.files[stream][index]
        try:
            rgb = _read_rgb(path)
            if rgb is None:
                raise ValueError("OpenCV could not decode it (corrupt or truncated?)")
        except (OSError, ValueError) as exc:
            with self._lock:
                if self.failure is None:
                    self.failure = (path, str(exc))
            raise
        return crop_resize(rgb, self.size, float(position))


class BatchStream:
    """The batches of one worker (rank) from ``(start_epoch, start_step)`` to the end of ``end_epoch - 1``.

    One ``mindspore.dataset`` pipeline serves the whole session (a pipeline installs its own signal handlers
    when it starts; starting one per epoch would open a window where Ctrl-C cannot be caught). Iterating
    yields ``(photo, anime, anime_gray, smooth_gray)`` MindSpore tensors of shape
    ``(batch, 3, img_size, img_size)``; epoch boundaries fall every ``steps_per_epoch`` batches (the first
    epoch has ``steps_per_epoch - start_step``). Rank ``r`` of ``world_size`` takes, at step ``t``, the global
    batch slice ``[(t*world_size + r)*batch, +batch)`` of the epoch plan: disjoint shards covering the epoch.
    """

    def __init__(self, files: DatasetFiles, *, img_size: int, batch_size: int, seed: int, start_epoch: int,
                 end_epoch: int, start_step: int = 0, rank: int = 0, world_size: int = 1, workers: int = 2):
        self.source = _Samples(files, img_size=img_size, batch_size=batch_size, seed=seed,
                               start_epoch=start_epoch, start_step=start_step, end_epoch=end_epoch, rank=rank,
                               world_size=world_size)
        self.steps_per_epoch = self.source.steps
        self.batch_size = batch_size
        self.workers = max(1, int(workers))

    def __len__(self) -> int:
        return len(self.source) // self.batch_size

    def __iter__(self):
        if len(self) == 0:
            return iter(())
        import mindspore.dataset as ds

        dataset = ds.GeneratorDataset(self.source, column_names=list(COLUMNS), shuffle=False,
                                      num_parallel_workers=self.workers, python_multiprocessing=False)
        dataset = dataset.batch(self.batch_size, drop_remainder=True)
        return dataset.create_tuple_iterator(num_epochs=1, output_numpy=False)

    @property
    def failure(self) -> Optional[Tuple[Path, str]]:
        """The file that failed to decode, if iteration stopped on one."""
        return self.source.failure


def load_val_photos(folder: Path, size: int, limit: int = 8) -> List[np.ndarray]:
    """Up to ``limit`` photos of ``folder`` (sorted by name), centre-cropped and resized to ``size`` (RGB uint8).

    Unreadable files are skipped; an empty list means there is nothing to show.
    """
    photos: List[np.ndarray] = []
    for path in _images_in(Path(folder), []):
        rgb = _read_rgb(path)
        if rgb is not None:
            photos.append(crop_resize(rgb, size, 0.5))
        if len(photos) == limit:
            break
    return photos
