"""The form in a real ComfyUI, through its API (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui): the example workflow's graph (a form's INT sets EmptyImage's width, its
TEXT and CHOICE reach Preview Any through Form Field nodes), refusals naming the field,
mistakes refused at queue time, Form Field names checked before anyone is asked, modes."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from PIL import Image

from dev.form_docs import HEIGHT, api_workflow
from dev.harness.comfyui import ComfyClient, RealComfyUI

pytestmark = pytest.mark.real_comfyui

FORM_ID, PREVIEW_IMAGE_ID, PREVIEW_TEXT_ID, PREVIEW_JSON_ID = "1", "6", "8", "9"


def prompt_with(form_id: str = FORM_ID, **form_inputs: Any) -> dict[str, Any]:
    """The example workflow in API form, with some of the form's inputs replaced (and the
    form under another node id, if given)."""
    prompt = copy.deepcopy(api_workflow())
    prompt[FORM_ID]["inputs"].update(form_inputs)
    if form_id != FORM_ID:
        prompt[form_id] = prompt.pop(FORM_ID)
        for node in prompt.values():
            for name, value in node["inputs"].items():
                if isinstance(value, list) and value[0] == FORM_ID:
                    node["inputs"][name] = [form_id, value[1]]
    return prompt


async def preview_size(client: ComfyClient, prompt_id: str) -> tuple[int, int]:
    history = await client.history(prompt_id)
    [image] = history["outputs"][PREVIEW_IMAGE_ID]["images"]
    assert client.session is not None
    async with client.session.get(
        "/view", params={"filename": image["filename"], "subfolder": image["subfolder"], "type": image["type"]}
    ) as response:
        assert response.status == 200
        return Image.open(io.BytesIO(await response.read())).size


async def test_nodes_are_offered_with_their_widgets(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        info = (await client.get("/object_info/HitlForm"))["HitlForm"]
        assert info["output"] == ["HITL_FORM", "STRING"] and info["output_name"] == ["form", "json"]
        assert list(info["input"]["required"]) == [
            "fields",
            "title",
            "message",
            "timeout_seconds",
            "on_timeout",
            "mode",
        ]
        assert set(info["input"]["optional"]) == {"text", "image"}
        field = (await client.get("/object_info/HitlFormField"))["HitlFormField"]
        assert field["output"] == ["INT", "FLOAT", "STRING", "BOOLEAN"]
        assert field["input"]["required"]["form"][0] == "HITL_FORM"
        assert field["category"] == info["category"] == "human-in-the-loop"


async def test_answers_feed_empty_image_and_a_text_node(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(prompt_with(title="API form"))
        view = await client.waiting_request(prompt_id)
        assert view["kind"] == "form"
        assert [field["name"] for field in view["payload"]["fields"]] == ["width", "caption", "style"]
        url = f"/api/hitl/requests/{view['id']}/answer"
        good = {"width": 320, "caption": "a lighthouse", "style": "ink sketch"}
        # The server is the authority: each refusal names its field; the run keeps waiting.
        for bad, field, words in [
            ({**good, "width": 2048}, "width", "width: 2048 is above the maximum 1024"),
            (
                {**good, "style": "oil"},
                "style",
                'style: "oil" is not one of the choices (photo, watercolour, ink sketch)',
            ),
            ({"width": 320}, "caption", "caption: no value given (every field needs one)"),
        ]:
            code, body = await client.post(url, {"value": bad})
            assert (code, body["error"]) == (422, {"code": "invalid_answer", "message": words, "field": field})
        code, body = await client.post(url, {"value": {**good, "seed": 1}})
        assert code == 422 and "field" not in body["error"]
        assert [r["id"] for r in (await client.get("/api/hitl/requests"))["requests"]] == [view["id"]]
        code, _ = await client.post(url, {"value": good})
        assert code == 200
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success", end
        assert await preview_size(client, prompt_id) == (320, HEIGHT)
        outputs = (await client.history(prompt_id))["outputs"]
        assert outputs[PREVIEW_TEXT_ID]["text"] == ["a lighthouse, ink sketch"]
        assert json.loads(outputs[PREVIEW_JSON_ID]["text"][0]) == good
        # The history records the whole form's answer, how it came, and who answered when.
        [record] = outputs[FORM_ID].pop("hitl_audit")
        assert outputs[FORM_ID] == {"answer": [good], "source": ["person"]}
        assert (record["id"], record["answer"], record["outcome"]) == (view["id"], good, "answered")


async def test_mistakes_in_the_fields_are_refused_when_queued(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        assert client.session is not None
        fields = 'width "Image width": INT 64..1024 = 512\ncaption: TEXT\nstyle: CHOICE'
        body = {"prompt": prompt_with(fields=fields), "client_id": client.client_id}
        async with client.session.post("/prompt", json=body) as response:
            refusal = await response.json()
        assert response.status == 400
        details = [error["details"] for error in refusal["node_errors"][FORM_ID]["errors"]]
        assert any("line 3 (`style: CHOICE`): a CHOICE needs at least one option" in detail for detail in details), (
            details
        )


async def test_a_form_field_asking_for_a_missing_name_fails_before_anyone_is_asked(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt = prompt_with(title="missing name")
        prompt["4"]["inputs"]["name"] = "colour"
        mark = len(client.messages)
        prompt_id = await client.queue(prompt)
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_error" and end["data"]["node_id"] == FORM_ID
        assert end["data"]["exception_message"].strip() == (
            "Form Field #4: the form has no field 'colour'; its fields are: width, caption, style"
        )
        assert not [m for _, m in client.messages[mark:] if m.get("type") == "hitl-request"]


async def test_timeout_passes_the_defaults_on(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(prompt_with(timeout_seconds=1, on_timeout="use defaults", title="timeout"))
        await client.waiting_request(prompt_id)
        _, end = await client.run_end(prompt_id, timeout=10)
        assert end["type"] == "execution_success"
        assert await preview_size(client, prompt_id) == (512, HEIGHT)
        outputs = (await client.history(prompt_id))["outputs"]
        assert outputs[FORM_ID]["source"] == ["timeout default"]
        assert outputs[PREVIEW_TEXT_ID]["text"] == ["a lighthouse at dusk, photo"]


async def test_cancel_ends_the_run_as_interrupted(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(prompt_with(title="cancelled"))
        view = await client.waiting_request(prompt_id)
        code, _ = await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
        assert code == 200
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_interrupted" and end["data"]["node_type"] == "HitlForm"


async def test_use_last_answers_asks_once_and_then_stays_cached(comfyui: RealComfyUI) -> None:
    # A node id no other test answers (answers are remembered per node id, whatever the
    # mode), and a title of its own, so no earlier test's cached outputs match this graph.
    prompt = prompt_with("41", mode="use last answers", title="remembered form")
    async with ComfyClient(comfyui.url) as client:
        first = await client.queue(prompt)
        view = await client.waiting_request(first)
        answer = {"width": 192, "caption": "kept", "style": 1}
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": answer})
        _, end = await client.run_end(first)
        assert end["type"] == "execution_success"

        second = await client.queue(prompt)
        _, end = await client.run_end(second)
        assert end["type"] == "execution_success"
        assert await preview_size(client, second) == (192, HEIGHT)
        assert (await client.history(second))["outputs"]["41"]["source"] == ["last answer"]

        # Nothing changed: ComfyUI reuses every output, Form Field nodes and all.
        mark = len(client.messages)
        third = await client.queue(prompt)
        _, cached = await client.wait_message(
            lambda m: m.get("type") == "execution_cached" and m["data"].get("prompt_id") == third, after=mark
        )
        _, end = await client.run_end(third)
        assert end["type"] == "execution_success"
        assert set(cached["data"]["nodes"]) >= {"41", "2", "3", "4", "5", "7"}
        assert not [m for _, m in client.messages[mark:] if m.get("type") == "hitl-request"]


async def test_pass_defaults_runs_unattended(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(prompt_with(mode="pass defaults", title="unattended"))
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success"
        assert await preview_size(client, prompt_id) == (512, HEIGHT)
        outputs = (await client.history(prompt_id))["outputs"]
        assert outputs[FORM_ID] == {
            "answer": [{"width": 512, "caption": "a lighthouse at dusk", "style": "photo"}],
            "source": ["default"],
        }


async def test_use_last_answers_never_crosses_workflows_without_ids(comfyui: RealComfyUI) -> None:
    """Issue 14, for the form: workflow A (nil id) answers; workflow B, another graph whose
    form is the same node id with the same fields, must ask; A again reuses its answers."""
    nil = {"extra_pnginfo": {"workflow": {"id": "00000000-0000-0000-0000-000000000000", "nodes": []}}}
    first = prompt_with("43", mode="use last answers", title="per workflow")
    second = prompt_with("43", mode="use last answers", title="per workflow")
    second["10"] = {"class_type": "PreviewAny", "inputs": {"source": ["3", 2]}}  # B: one more preview
    async with ComfyClient(comfyui.url) as client:
        prompt_a = await client.queue(first, extra_data=nil)
        view = await client.waiting_request(prompt_a)
        await client.post(
            f"/api/hitl/requests/{view['id']}/answer", {"value": {"width": 128, "caption": "a", "style": 0}}
        )
        _, end = await client.run_end(prompt_a)
        assert end["type"] == "execution_success" and await preview_size(client, prompt_a) == (128, HEIGHT)

        prompt_b = await client.queue(second, extra_data=nil)
        view = await client.waiting_request(prompt_b)  # B asks
        await client.post(
            f"/api/hitl/requests/{view['id']}/answer", {"value": {"width": 64, "caption": "b", "style": 2}}
        )
        _, end = await client.run_end(prompt_b)
        assert end["type"] == "execution_success" and await preview_size(client, prompt_b) == (64, HEIGHT)

        mark = len(client.messages)
        again = await client.queue(first, extra_data=nil)
        _, end = await client.run_end(again)
        assert end["type"] == "execution_success" and await preview_size(client, again) == (128, HEIGHT)
        assert [m for _, m in client.messages[mark:] if m.get("type") == "hitl-request"] == []
