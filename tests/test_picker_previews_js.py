"""web/picker_previews.js under Node: the nearest-first order, the frames asked for, the
thumbnail stream's framing (whatever the chunk boundaries), and the data: URLs."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from dev.harness.pack import ROOT


def run_js(body: str) -> Any:
    """Run ``body`` (an async function body that returns JSON-able data) with the module imported."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed (the README's test command installs it)")
    script = (
        "import * as m from './web/picker_previews.js';"
        f"const result = await (async () => {{ {body} }})();"
        "console.log(JSON.stringify(result));"
    )
    output = subprocess.run(
        [node, "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return json.loads(output)


def test_nearest_first_goes_outward_from_the_screen_below_first() -> None:
    assert run_js("return m.nearestFirst([5, 4, 6], 10);") == [4, 5, 6, 7, 3, 8, 2, 9, 1, 0]
    assert run_js("return m.nearestFirst([], 4);") == [0, 1, 2, 3]
    # Only the items that can be shown (e.g. picked only), the gaps on screen included.
    assert run_js("return m.nearestFirst([2, 6], 9, (i) => i % 2 === 0);") == [2, 6, 8, 0, 4]


def test_first_frames_come_before_the_rest_of_each_clip() -> None:
    assert run_js("return m.framesFor([2, 0], 3);") == [6, 0, 7, 8, 1, 2]
    assert run_js("return m.framesFor([3, 1], 1);") == [3, 1]


def test_the_stream_is_read_whatever_its_chunk_boundaries() -> None:
    frames = run_js(
        """
        const header = (index, length) => { const b = new Uint8Array(8); const v = new DataView(b.buffer);
            v.setUint32(0, index); v.setUint32(4, length); return b; };
        const parts = [header(7, 3), Uint8Array.of(1, 2, 3), header(70000, 0), header(2, 4), Uint8Array.of(9, 8, 7, 6)];
        const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0; for (const p of parts) { whole.set(p, at); at += p.length; }
        const results = [];
        for (const size of [1, 3, 8, 11, whole.length]) {
            const chunks = []; for (let i = 0; i < whole.length; i += size) chunks.push(whole.slice(i, i + size));
            const reader = { read: async () => (chunks.length ? { done: false, value: chunks.shift() } : { done: true }) };
            const seen = [];
            await m.readThumbnailStream(reader, (index, jpeg) => seen.push([index, [...jpeg]]));
            results.push(seen);
        }
        return results;
        """
    )
    assert all(seen == [[7, [1, 2, 3]], [70000, []], [2, [9, 8, 7, 6]]] for seen in frames), frames


def test_data_urls_with_and_without_the_native_base64() -> None:
    urls = run_js(
        """
        const jpeg = new Uint8Array(30000); for (let i = 0; i < jpeg.length; i++) jpeg[i] = (i * 7919) % 256;
        const expected = 'data:image/jpeg;base64,' + Buffer.from(jpeg).toString('base64');
        const fallback = m.jpegDataUrl(Object.assign(jpeg.slice(), { toBase64: undefined }));
        const native = m.jpegDataUrl(Object.assign(jpeg.slice(), { toBase64() { return Buffer.from(this).toString('base64'); } }));
        return [fallback === expected, native === expected, m.jpegDataUrl(new Uint8Array(0))];
        """
    )
    assert urls == [True, True, "data:image/jpeg;base64,"]
