"""Training data: folder checks and messages, the deterministic epoch plan, crops, batches, shards."""

from __future__ import annotations

import numpy as np
import pytest

from animecli.errors import InvalidInputError
from animecli.training.data import BatchStream, crop_resize, epoch_plan, find_dataset, load_val_photos
from tests.support.train_data import make_dataset


@pytest.fixture
def dataset(tmp_path):
    return make_dataset(tmp_path / "dataset", photos=10, style_images=6, size=32)


def test_finds_the_three_folders(dataset):
    files = find_dataset(dataset, "Sakura", batch_size=4)
    assert [len(files.photos), len(files.style), len(files.smooth)] == [10, 6, 6]
    assert files.photos[0].parent == dataset / "train_photo"
    assert files.steps_per_epoch(4) == 2  # max(10, 6) // 4
    assert files.steps_per_epoch(2, world_size=2) == 2
    assert files.steps_per_epoch(4, world_size=2) == 1


def test_style_folder_matched_case_insensitively(dataset):
    assert len(find_dataset(dataset, "sakura", 2).style) == 6


def test_missing_smooth_folder_says_to_run_anime_smooth(tmp_path):
    root = make_dataset(tmp_path / "dataset", smooth=False, size=32)
    with pytest.raises(InvalidInputError) as info:
        find_dataset(root, "Sakura", 4)
    assert str(root / "Sakura" / "smooth") in str(info.value)
    assert f"anime smooth {root / 'Sakura'}" in info.value.hint


@pytest.mark.parametrize("remove, words", [
    ("train_photo", "folder of photos"),
    ("Sakura/style", "folder of Sakura style images"),
])
def test_missing_folders_are_named(dataset, remove, words):
    import shutil

    shutil.rmtree(dataset / remove)
    with pytest.raises(InvalidInputError, match=words):
        find_dataset(dataset, "Sakura", 4)


def test_missing_dataset_root(tmp_path):
    with pytest.raises(InvalidInputError, match="dataset folder .* not found"):
        find_dataset(tmp_path / "nothing", "Sakura", 4)


def test_too_few_images_for_the_batch(dataset):
    with pytest.raises(InvalidInputError, match=r"Sakura/style has 6 usable image\(s\); a batch needs 8"):
        find_dataset(dataset, "Sakura", 8)
    with pytest.raises(InvalidInputError, match=r"needs 8 \(4 per worker x 2 workers\)"):
        find_dataset(dataset, "Sakura", 4, world_size=2)


def test_files_that_are_not_images_are_skipped_and_reported(dataset):
    (dataset / "train_photo" / "notes.txt").write_text("not a picture")
    (dataset / "train_photo" / ".DS_Store").write_bytes(b"\0\1")
    files = find_dataset(dataset, "Sakura", 4)
    assert len(files.photos) == 10
    assert [(p.name, reason) for p, reason in files.skipped] == [("notes.txt", "not an image format OpenCV can read")]


def test_epoch_plan_is_a_function_of_seed_and_epoch():
    idx, pos = epoch_plan((5, 3, 3), 8, seed=1, epoch=0)
    again, pos_again = epoch_plan((5, 3, 3), 8, seed=1, epoch=0)
    assert np.array_equal(idx, again) and np.array_equal(pos, pos_again)
    assert not np.array_equal(idx, epoch_plan((5, 3, 3), 8, seed=1, epoch=1)[0])
    assert not np.array_equal(idx, epoch_plan((5, 3, 3), 8, seed=2, epoch=0)[0])
    assert sorted(idx[:5, 0]) == list(range(5))  # each stream: whole permutations, wrapped
    assert sorted(idx[:3, 1]) == sorted(idx[3:6, 1]) == [0, 1, 2]
    assert not np.array_equal(idx[:, 1], idx[:, 2])  # style and smooth shuffled independently
    assert pos.shape == (8, 3) and pos.min() >= 0 and pos.max() < 1


def test_crop_takes_the_short_side_at_the_position():
    tall = np.arange(80 * 64 * 3, dtype=np.int64).reshape(80, 64, 3).astype(np.uint8)
    assert np.array_equal(crop_resize(tall, 64, 0.0), tall[:64])
    assert np.array_equal(crop_resize(tall, 64, 1.0), tall[16:])
    wide = np.ascontiguousarray(tall.transpose(1, 0, 2))
    assert np.array_equal(crop_resize(wide, 64, 0.5), wide[:, 8:72])
    assert crop_resize(tall, 32, 0.3).shape == (32, 32, 3)
    assert crop_resize(tall, 128, 0.3).shape == (128, 128, 3)


def _collect(loader):
    return [[t.asnumpy() for t in batch] for batch in loader]


def test_batches_have_the_training_layout(dataset):
    files = find_dataset(dataset, "Sakura", 4)
    batches = _collect(BatchStream(files, img_size=32, batch_size=4, seed=0, start_epoch=0, end_epoch=1))
    assert len(batches) == 2
    photo, anime, anime_gray, smooth_gray = batches[0]
    for array in batches[0]:
        assert array.shape == (4, 3, 32, 32) and array.dtype == np.float32
        assert array.min() >= -1.0 and array.max() <= 1.0
    assert not np.array_equal(anime[:, 0], anime[:, 1])  # colour style images
    for gray in (anime_gray, smooth_gray):
        assert np.array_equal(gray[:, 0], gray[:, 1]) and np.array_equal(gray[:, 1], gray[:, 2])


def test_a_stream_crosses_epochs_and_starts_mid_epoch(dataset):
    files = find_dataset(dataset, "Sakura", 2)
    epochs = [_collect(BatchStream(files, img_size=32, batch_size=2, seed=3, start_epoch=e, end_epoch=e + 1))
              for e in (4, 5)]
    assert [len(e) for e in epochs] == [5, 5]
    assert not np.array_equal(epochs[0][0][0], epochs[1][0][0])  # a new order each epoch
    stream = BatchStream(files, img_size=32, batch_size=2, seed=3, start_epoch=4, start_step=3, end_epoch=6,
                         workers=1)
    assert len(stream) == 2 + 5 and stream.steps_per_epoch == 5
    expected = epochs[0][3:] + epochs[1]
    got = _collect(stream)
    assert len(got) == len(expected)
    for a, b in zip(expected, got):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_stream_stopped_at_an_epoch_end_starts_with_the_next(dataset):
    files = find_dataset(dataset, "Sakura", 2)
    stream = BatchStream(files, img_size=32, batch_size=2, seed=3, start_epoch=0, start_step=5, end_epoch=2)
    assert len(stream) == 5 and stream.source.locate(0) == (1, 0)


def test_shards_split_each_global_batch(dataset):
    files = find_dataset(dataset, "Sakura", 2, world_size=2)
    single = BatchStream(files, img_size=32, batch_size=4, seed=0, start_epoch=0, end_epoch=2).source
    shards = [BatchStream(files, img_size=32, batch_size=2, seed=0, start_epoch=0, end_epoch=2, rank=r,
                          world_size=2).source for r in (0, 1)]
    assert len(single) == len(shards[0]) * 2 == 16  # 2 steps x 2 epochs x 4 images
    for step in range(4):
        together = [shards[r].locate(step * 2 + j) for r in (0, 1) for j in range(2)]
        assert together == [single.locate(step * 4 + j) for j in range(4)]


def test_an_undecodable_image_is_named(dataset):
    # 6 style images, 8 samples per epoch: every style image is used
    (dataset / "Sakura" / "style" / "000.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # header only
    files = find_dataset(dataset, "Sakura", 4)
    stream = BatchStream(files, img_size=32, batch_size=4, seed=0, start_epoch=0, end_epoch=1)
    with pytest.raises(Exception):
        _collect(stream)
    path, reason = stream.failure
    assert path == dataset / "Sakura" / "style" / "000.png" and "could not decode" in reason


def test_val_photos_are_centre_crops(dataset):
    photos = load_val_photos(dataset / "val", 32, limit=2)
    assert len(photos) == 2 and all(p.shape == (32, 32, 3) and p.dtype == np.uint8 for p in photos)
