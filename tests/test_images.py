"""The image batch helper: shapes, types, thumbnails, full size on demand."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from harness.pack import submodule

images = submodule("_images")


def noisy(batch: int, height: int = 64, width: int = 96, channels: int = 3) -> np.ndarray:
    return np.random.default_rng(batch).random((batch, height, width, channels), dtype=np.float32)


def test_thumbnails_are_small_jpegs_of_the_right_shape() -> None:
    batch = images.BatchImages(noisy(3, 1024, 512), thumb_edge=256)
    assert batch.image_count() == 3 and (batch.width, batch.height) == (512, 1024)
    data, media_type = batch.image_bytes(2, "thumb")
    assert media_type == "image/jpeg"
    thumb = Image.open(io.BytesIO(data))
    assert thumb.format == "JPEG" and thumb.size == (128, 256)
    assert batch.thumb_bytes() == sum(len(t) for t in batch.thumbs)
    assert batch.describe()[1] == {"index": 1, "width": 512, "height": 1024}


def test_full_size_is_an_exact_png_made_on_demand() -> None:
    frames = noisy(2)
    batch = images.BatchImages(frames)
    data, media_type = batch.image_bytes(1, "full")
    assert media_type == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(data)))
    expected = (np.clip(frames[1], 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(pixels, expected)
    assert batch.image_bytes(1, "full")[0] is data  # cached, not encoded twice


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channel_counts(channels: int) -> None:
    batch = images.BatchImages(noisy(1, channels=channels))
    assert Image.open(io.BytesIO(batch.thumbs[0])).mode in {"L", "RGB"}


def test_single_image_without_batch_dimension() -> None:
    assert images.BatchImages(noisy(1)[0]).image_count() == 1


def test_thumbnail_colours_follow_the_image() -> None:
    frames = np.zeros((2, 64, 64, 3), np.float32)
    frames[0, ..., 0] = 1.0  # red
    frames[1, ..., 2] = 1.0  # blue
    batch = images.BatchImages(frames)
    red = np.asarray(Image.open(io.BytesIO(batch.thumbs[0]))).mean(axis=(0, 1))
    blue = np.asarray(Image.open(io.BytesIO(batch.thumbs[1]))).mean(axis=(0, 1))
    assert red[0] > 200 and red[2] < 50 and blue[2] > 200 and blue[0] < 50


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 3), np.float32),
        np.zeros((1, 8, 8, 2), np.float32),
        np.zeros((1, 8, 8, 3), np.uint8),
        np.zeros((0, 8, 8, 3), np.float32),
    ],
    ids=["2d", "two-channels", "uint8", "empty"],
)
def test_bad_batches_are_refused_clearly(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"expected|empty|float images"):
        images.BatchImages(bad)
