"""The pack's own files in ComfyUI's user directory (settings, paired devices): written whole
and atomically, readable by their owner only, since they hold tokens and push targets."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_private_json(path: Path, data: Any, *, sort_keys: bool = False) -> None:
    """Write ``data`` as JSON to ``path`` atomically (a temporary file beside it, then a
    rename), mode 0600. ``OSError`` when it cannot; the old file is then left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, sort_keys=sort_keys)
            stream.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
