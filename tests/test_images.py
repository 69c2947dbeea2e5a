"""The image batch helper: shapes, types, thumbnails, full size on demand."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from dev.harness.pack import submodule

images = submodule("images.batches")


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


def thumbs(*indices: int) -> list[tuple[str, int]]:
    return [("thumb", index) for index in indices]


def test_renditions_asked_for_are_made_next_newest_ask_first() -> None:
    # Not started: the test takes from the queue itself, as a worker thread would.
    batch = images.BatchImages(noisy(10, 8, 8), start=False)
    assert batch._take() == ("thumb", 0)
    batch.image_futures("thumb", [7, 3])
    assert [batch._take(), batch._take()] == thumbs(7, 3)
    batch.image_futures("thumb", [9])
    batch.image_futures("thumb", [5, 9, 0])  # 0 is taken already: not made twice
    assert [batch._take() for _ in range(4)] == thumbs(5, 9, 1, 2)
    # A large rendition asked for (a zoom) goes ahead of the thumbnails still to make.
    batch.image_futures("full", [8])
    assert [batch._take() for _ in range(2)] == [("full", 8), ("thumb", 4)]
    assert [batch._take() for _ in range(4)] == [*thumbs(6, 8), None, None]
    batch.image_futures("thumb", [1])
    assert batch._take() is None


def test_warm_says_what_is_made_first_and_in_which_order() -> None:
    masks = np.zeros((1, 8, 8), np.float32)
    batch = images.BatchImages(
        noisy(3, 8, 8), masks=masks, warm=[("preview", 0), ("mask", 0), ("thumb", 2)], start=False
    )
    assert [batch._take() for _ in range(4)] == [("preview", 0), ("mask", 0), ("thumb", 2), None]
    # Anything else is made when first asked for.
    batch.image_futures("thumb", [0])
    assert batch._take() == ("thumb", 0)
    with pytest.raises(ValueError, match="no 'mask'"):
        images.BatchImages(noisy(1, 8, 8)).image_futures("mask", [0])


def test_repeated_asks_keep_the_queue_bounded_and_close_stops_it() -> None:
    batch = images.BatchImages(noisy(4, 8, 8), start=False)
    for _ in range(100):
        batch.image_futures("thumb", [3, 2, 1, 0])
    assert len(batch._asked) <= 4 * 4 + 64 + 4
    assert batch._take() == ("thumb", 3)
    futures = batch.image_futures("thumb", [0, 1])
    batch.close()
    assert batch._take() is None and all(future.cancelled() for future in futures)
    with pytest.raises(images.ImagesReleased):
        batch.thumb(2)


def test_a_batch_makes_the_thumbnails_asked_for_first() -> None:
    started = threading.Event()
    gate = threading.Event()

    class Gated(images.BatchImages):
        """Its one worker holds on to frame 0 until the test has asked for others."""

        def _thumbnail(self, index: int) -> bytes:
            if index == 0:
                started.set()
                gate.wait(10)
            return super()._thumbnail(index)

    batch = Gated(noisy(48, 32, 32), workers=1, start=False)
    finished: list[int] = []
    for index in range(48):
        batch._made[("thumb", index)].add_done_callback(lambda _, index=index: finished.append(index))
    batch.start()
    assert started.wait(10)
    futures = batch.image_futures("thumb", [40, 30])
    gate.set()
    assert [future.result(10)[:2] for future in futures] == [b"\xff\xd8"] * 2
    assert len(batch.thumbs) == 48
    assert finished[:4] == [0, 40, 30, 1] and sorted(finished) == list(range(48))


def workers() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "hitl-images"}


def test_threads_end_when_the_queue_is_empty_and_come_back_for_an_ask() -> None:
    before = workers()
    batch = images.BatchImages(noisy(6, 16, 16))
    assert len(batch.thumbs) == 6
    for thread in workers() - before:  # they end right after the last frame
        thread.join(10)
        assert not thread.is_alive()
    assert batch._running == 0, batch
    data, media_type = batch.image_bytes(5, "full")  # a zoom later starts one again
    assert media_type == "image/png" and data[:4] == b"\x89PNG"


def test_a_failed_rendition_is_reported_and_made_again_when_asked_again() -> None:
    calls: list[int] = []

    class Flaky(images.BatchImages):
        def _preview(self, index: int) -> bytes:
            calls.append(index)
            if len(calls) == 1:
                raise OSError("disk on fire")
            return super()._preview(index)

    batch = Flaky(noisy(2, 16, 16), warm=[])
    with pytest.raises(OSError, match="disk on fire"):
        batch.image_futures("preview", [1])[0].result(10)
    data, media_type = batch.image_bytes(1, "preview")
    assert media_type == "image/jpeg" and data[:2] == b"\xff\xd8" and calls == [1, 1]


def test_only_a_few_large_renditions_are_kept() -> None:
    batch = images.BatchImages(noisy(images.LARGE_CACHE + 3, 16, 16), warm=[])
    for index in range(images.LARGE_CACHE + 3):
        batch.image_bytes(index, "full")
    with batch._lock:
        large = [key for key in batch._made if key[0] != "thumb"]
    assert len(large) == images.LARGE_CACHE and ("full", images.LARGE_CACHE + 2) in large


def test_the_thumbnail_averages_pairs_of_rows_of_each_block() -> None:
    # 8×8 frame, reduced by 4: rows 1 and 3 of each block of 4 are averaged, then 4 columns.
    frame = np.zeros((1, 8, 8, 3), np.float32)
    frame[0, 1] = 1.0  # one row of the first block white
    frame[0, 5:8] = 1.0  # three rows of the second block white (rows 5 and 7 are sampled)
    batch = images.BatchImages(frame, thumb_edge=2)
    pixels = batch._converter.pair_rows_uint8(frame[0], 4)
    assert pixels.shape == (2, 8, 3) and int(pixels[0, 0, 0]) == 127 and int(pixels[1, 0, 0]) == 255
    thumb = Image.open(io.BytesIO(batch.thumb(0)))
    assert thumb.size == (2, 2)


def test_a_batch_can_wait_to_start_until_its_request_is_out() -> None:
    batch = images.BatchImages(noisy(3), start=False)
    future = batch.image_futures("thumb", [2])[0]
    assert not future.done() and not batch._started
    batch.start()
    batch.start()  # once only
    assert future.result(10)[:2] == b"\xff\xd8" and len(batch.thumbs) == 3
