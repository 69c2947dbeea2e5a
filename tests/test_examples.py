"""The example workflows as ComfyUI's template browser shows them: a readable title (the file
name is all a custom node pack can give), a thumbnail beside each, and an id of its own (the
memory of "last answer" tells workflows apart by it)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from PIL import Image

from dev.harness.pack import ROOT, submodule

EXAMPLES = sorted((ROOT / "example_workflows").glob("*.json"))
PREVIOUS = sorted((ROOT / "tests" / "data" / "examples-0.1.0").glob("*.json"))
P = submodule("server.protocol")
nodes = submodule("nodes")


def test_there_is_an_example_of_every_node_that_asks_a_person() -> None:
    types = {node["type"] for path in EXAMPLES for node in json.loads(path.read_text())["nodes"]}
    assert {"HitlImagePicker", "HitlValuePrompt", "HitlForm", "HitlMaskPainter"} <= types


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_has_a_readable_title(path: Path) -> None:
    title = path.stem
    assert "_" not in title and title[0].isupper(), "the template browser shows the file name as the title"
    assert len(title) <= 28, "frontend 1.58.1 cuts a longer title on the card"
    assert not re.search(r'[:*?"<>|\\]', title), "a name every file system accepts"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_has_a_small_thumbnail(path: Path) -> None:
    thumbnail = path.with_suffix(".jpg")  # what the template browser asks for (a 404 leaves it blank)
    assert thumbnail.exists()
    assert 5_000 < thumbnail.stat().st_size < 100_000
    with Image.open(thumbnail) as image:
        assert image.format == "JPEG" and image.width == image.height >= 256


def test_each_example_has_an_id_of_its_own() -> None:
    ids = [json.loads(path.read_text())["id"] for path in EXAMPLES]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and value != P.NIL_WORKFLOW_ID and parsed.version == 4


def test_the_previous_examples_are_kept_for_the_saved_workflows_test() -> None:
    """test_real_guest_browser loads and runs these (0.1.0, nil ids) in both frontends."""
    assert [path.name for path in PREVIOUS] == ["image_picker.json", "value_prompt.json"]
    for path in PREVIOUS:
        workflow = json.loads(path.read_text())
        assert workflow["id"] == P.NIL_WORKFLOW_ID
        assert {node["type"] for node in workflow["nodes"]} & set(nodes.NODE_CLASSES)
