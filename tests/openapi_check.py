"""Check responses against openapi.json: the route's documented statuses and their schemas."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import jsonschema

from dev.harness.pack import ROOT


@cache
def document() -> dict[str, Any]:
    return json.loads((ROOT / "server" / "openapi.json").read_text(encoding="utf-8"))


def _inline(node: Any, doc: dict[str, Any]) -> Any:
    """The node with every local $ref replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _inline(target, doc)
        return {key: _inline(value, doc) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, doc) for item in node]
    return node


@cache
def _operations() -> list[tuple[re.Pattern[str], str, str, dict[str, Any]]]:
    doc = document()
    found = []
    for path, item in doc["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method, operation in item.items():
            found.append((pattern, path, method.upper(), _inline(operation, doc)))
    return found


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The documented (template, operation) a concrete request path falls under."""
    bare = path.split("?")[0].removeprefix("/api")
    for pattern, template, op_method, operation in _operations():
        if op_method == method and pattern.match(bare):
            return template, operation
    return None


def documented_statuses(method: str, path: str) -> set[int]:
    found = operation_for(method, path)
    return {int(code) for code in found[1]["responses"]} if found else set()


def check_response(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    """Assert the response is one the document allows, with a body of the right shape."""
    found = operation_for(method, path)
    assert found is not None, f"{method} {path} is not documented"
    template, operation = found
    assert str(status) in operation["responses"], f"{method} {template} answered undocumented {status}"
    content = operation["responses"][str(status)].get("content", {})
    assert content_type in content, f"{method} {template} {status} answered {content_type}"
    if content_type == "application/json":
        _validator(method, template, status).validate(json.loads(body))


@cache
def _validator(method: str, template: str, status: int) -> jsonschema.protocols.Validator:
    # Building a validator checks the schema itself: do it once per response, not per call.
    operation = next(op for _, path, op_method, op in _operations() if path == template and op_method == method)
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator_class.check_schema(schema)
    return validator_class(schema)
