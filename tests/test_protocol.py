"""Python and JavaScript agree on the protocol, and the web modules keep to the rules:
// @ts-check, imports of scripts/app.js and scripts/api.js only, no install folder names,
and no workflow text ever parsed as HTML."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dev.harness.pack import ROOT, submodule

WEB = ROOT / "web"
P = submodule("server.protocol")


def web_modules() -> list[Path]:
    return sorted(WEB.rglob("*.js"))


def test_js_protocol_matches_python() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to read web/protocol.js (the README's test command installs it)")
    script = (
        "import * as p from './web/protocol.js'; const {routePath, ...data} = p; console.log(JSON.stringify(data));"
    )
    output = subprocess.run(
        [node, "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert json.loads(output) == P.as_dict()


def test_route_path_fills_and_encodes_holes() -> None:
    node = shutil.which("node")
    assert node
    script = (
        "import {routePath} from './web/protocol.js';"
        "console.log(JSON.stringify([routePath('answer', {request_id: 'a/b?'}), routePath('image', {request_id: 'x', index: 3})]));"
        "try { routePath('answer'); console.log('no error'); } catch (e) { console.log('error'); }"
    )
    lines = subprocess.run(
        [node, "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    ).stdout.splitlines()
    assert json.loads(lines[0]) == ["/hitl/requests/a%2Fb%3F/answer", "/hitl/requests/x/images/3"]
    assert lines[1] == "error"


IMPORT = re.compile(r"""^\s*import\s[^'"]*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]""", re.MULTILINE)


@pytest.mark.parametrize("path", web_modules(), ids=lambda p: p.name)
def test_web_module_rules(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("// @ts-check"), "every web module is type-checked through JSDoc"
    depth = len(path.relative_to(WEB).parts) - 1
    host_prefix = "../" * (2 + depth) + "scripts/"
    for match in IMPORT.finditer(text):
        target = match.group(1) or match.group(2)
        if target.startswith(host_prefix):
            assert target[len(host_prefix) :] in {"app.js", "api.js"}, target
        else:
            assert target.startswith("./") or (
                target.startswith("../") and not target.endswith(("app.js", "api.js"))
            ), target
            assert (path.parent / target).resolve().is_relative_to(WEB.resolve()), target
    assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "outerHTML" not in text
    assert "/extensions/" not in text, "no hard-coded install folder"
    assert "comfyui-hitl/" not in text


def test_python_spells_protocol_strings_only_in_protocol_module() -> None:
    # The event name and route prefix appear in exactly one Python file of the pack.
    offenders = []
    for path in ROOT.glob("**/*.py"):
        if {"tests", "dev", ".venv"} & set(path.relative_to(ROOT).parts) or path.relative_to(
            ROOT
        ).as_posix() == "server/protocol.py":
            continue
        text = path.read_text(encoding="utf-8")
        if P.EVENT_REQUEST in text or '"/hitl' in text:
            offenders.append(path.name)
    assert offenders == []


INBOX = ROOT / "inbox"


def test_web_modules_spell_kinds_modes_and_timeout_actions_only_in_protocol_js() -> None:
    # A kind, a node's mode or an on_timeout action, quoted in a module, is a copy of
    # web/protocol.js's (which the test above keeps equal to server/protocol.py's).
    words = [*P.KINDS, *P.as_dict()["MODES"].values(), *P.as_dict()["ON_TIMEOUT"].values()]
    # An HTML tag named like a kind (element(doc, "form", ...)) is markup, not the kind.
    quoted = re.compile(
        r"(?<!element\(doc, )(?<!createElement\()"
        + "(?:"
        + "|".join(rf"[\"'`]{re.escape(w)}[\"'`]" for w in words)
        + ")"
    )
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in [*web_modules(), *sorted(INBOX.glob("*.js"))]
        if path.name != "protocol.js" or path.parent != WEB
        for match in quoted.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize("path", sorted(INBOX.glob("*.js")), ids=lambda p: p.name)
def test_inbox_module_rules(path: Path) -> None:
    # The inbox runs with no ComfyUI frontend: it imports no host script, only its own
    # modules and the shared ones of web/ (never web/main.js, ComfyUI's entry).
    text = path.read_text(encoding="utf-8")
    assert text.startswith("// @ts-check")
    for match in IMPORT.finditer(text):
        target = match.group(1) or match.group(2)
        assert target.startswith(("./", "../web/")), target
        assert "scripts/" not in target and not target.endswith("/main.js"), target
        assert (path.parent / target).resolve().exists(), target
    assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "outerHTML" not in text
    assert "/extensions/" not in text


def test_no_inbox_module_is_under_web() -> None:
    # ComfyUI imports every .js under web/ as an extension: the inbox's entry must not run there.
    assert not (WEB / "inbox.js").exists() and not list(WEB.rglob("standalone_api.js"))


def test_the_dialogs_are_listed_once_and_both_pages_take_that_list() -> None:
    # web/dialogs.js is the one list of dialog kinds: a handler is named only by its own
    # module and by that list, and the ComfyUI tab (main.js) and the inbox import the list.
    defined = {
        match.group(1): path
        for path in web_modules()
        for match in re.finditer(r"^export const (\w+Handler)\b", path.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert {"doublerHandler", "valuePromptHandler", "imagePickerHandler", "formHandler", "maskPainterHandler"} <= set(
        defined
    )
    modules = [*web_modules(), *sorted(INBOX.glob("*.js"))]
    for name, home in defined.items():
        naming = {path for path in modules if re.search(rf"\b{name}\b", path.read_text(encoding="utf-8"))}
        assert naming == {home, WEB / "dialogs.js"}, f"{name} is named outside web/dialogs.js: {sorted(naming)}"
    for page in (WEB / "main.js", INBOX / "inbox.js"):
        targets = {m.group(1) or m.group(2) for m in IMPORT.finditer(page.read_text(encoding="utf-8"))}
        assert targets & {"./dialogs.js", "../web/dialogs.js"}, (
            f"{page.name} does not take the dialogs from web/dialogs.js"
        )
