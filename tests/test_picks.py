"""What a picker's selection means: preset pick lists (hostile text refused clearly), items of
several frames (clips), and the items left out."""

from __future__ import annotations

import pytest

from dev.harness.pack import submodule

picks = submodule("questions.picks")


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        ("", ()),
        ("   ", ()),
        ("0", (0,)),
        ("0,3,-1", (0, 3, -1)),
        (" 2 ,\t0 , -3 ", (2, 0, -3)),
        ("0000012", (12,)),
    ],
)
def test_preset_entries(text: str, entries: tuple[int, ...]) -> None:
    assert picks.parse_preset(text) == entries


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,,2", "entry 2 is empty"),
        ("0,3,", "entry 3 is empty"),
        (",", "entry 1 is empty"),
        ("0 3", "entry 1 \\('0 3'\\) is not a whole number"),
        ("1.5", "not a whole number"),
        ("1e3", "not a whole number"),
        ("0x1", "not a whole number"),
        ("+3", "not a whole number"),
        ("--1", "not a whole number"),
        ("1_0", "not a whole number"),
        ("١٢", "not a whole number"),  # Arabic-Indic digits: int() would take them
        ("²", "not a whole number"),
        ("1;2", "not a whole number"),
        ("0,<script>alert(1)</script>!", "entry 2 \\('<script>alert\\(1\\)</script…'\\)"),
        ("\x00", "not a whole number"),
        ("99999999", "far beyond any batch"),
        ("9" * 5000, "far beyond any batch"),  # int() of this many digits raises in Python 3.11+
        ("0," * 20_000, "too long"),
    ],
)
def test_hostile_presets_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        picks.parse_preset(text)
    assert len(str(caught.value)) < 200  # the message quotes the text cut short, never all of it
    assert "e.g. 0,3,-1" in str(caught.value) or "far beyond" in message or "too long" in message


def test_a_preset_must_be_text() -> None:
    with pytest.raises(ValueError, match="must be text"):
        picks.parse_preset(12)


@pytest.mark.parametrize(
    ("entries", "count", "items"),
    [((0, 3, -1), 5, (0, 3, 4)), ((-5,), 5, (0,)), ((4, -2), 5, (4, 3)), ((), 5, ())],
)
def test_negative_entries_count_from_the_end(entries: tuple[int, ...], count: int, items: tuple[int, ...]) -> None:
    assert picks.resolve_preset(entries, count) == items


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ((5,), "names item 5, but the batch has 5 item\\(s\\): 0 to 4, or -1 to -5"),
        ((-6,), "names item -6"),
        ((1, 1), "names item 1 twice \\(as 1 and 1\\)"),
        ((0, -5), "names item 0 twice \\(as 0 and -5\\)"),
    ],
)
def test_presets_outside_the_batch_or_twice_are_refused(entries: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        picks.resolve_preset(entries, 5)


def test_items_of_several_frames() -> None:
    assert picks.item_count(16, 4) == 4 and picks.item_count(5, 1) == 5
    assert picks.frames_of([2, 0], 4) == [8, 9, 10, 11, 0, 1, 2, 3]
    assert picks.frames_of([3, 1], 1) == [3, 1]
    assert picks.left_out([2, 0], 4) == [1, 3]
    assert picks.left_out([0, 1], 2) == []


@pytest.mark.parametrize(
    ("frames", "per_item", "message"),
    [
        (10, 4, "10 frame\\(s\\), which do not make whole clips of 4 \\(frames_per_item\\): 2 left over"),
        (3, 4, "3 left over"),
        (8, 0, "at least 1"),
    ],
)
def test_a_batch_that_does_not_divide_is_refused(frames: int, per_item: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        picks.item_count(frames, per_item)
