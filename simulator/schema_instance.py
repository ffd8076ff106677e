"""Minimal valid instances of JSON schemas, for schema names the simulator does not know."""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 32


def minimal_instance(schema: dict[str, Any]) -> Any:
    """Build a minimal instance of a JSON schema.

    The first enum value, null where nullable, and otherwise 0, "", false, [] or an object
    holding every property; `minLength`, `minimum` and `minItems` are honoured.

    Args:
        schema: A JSON schema (with `$defs`/`definitions` references resolved against it).

    Returns:
        A JSON-compatible value valid against the schema.
    """
    return _instance(schema, schema, 0)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(target, dict) or part not in target:
            return {}
        target = target[part]
    return target if isinstance(target, dict) else {}


def _instance(node: Any, root: dict[str, Any], depth: int) -> Any:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return None
    node = _resolve(node, root)
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and options:
            if any(isinstance(o, dict) and o.get("type") == "null" for o in options):
                return None
            return _instance(options[0], root, depth + 1)
    if isinstance(node.get("allOf"), list) and node["allOf"]:
        return _instance(node["allOf"][0], root, depth + 1)
    kind = node.get("type")
    if isinstance(kind, list):
        if "null" in kind:
            return None
        kind = kind[0] if kind else None
    if kind == "object" or (kind is None and "properties" in node):
        properties = node.get("properties") or {}
        return {name: _instance(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = int(node.get("minItems") or 0)
        return [_instance(node.get("items") or {}, root, depth + 1) for _ in range(count)]
    if kind == "string":
        return "x" * int(node.get("minLength") or 0)
    if kind in ("number", "integer"):
        low = node.get("minimum", node.get("exclusiveMinimum"))
        if isinstance(low, int | float) and low > 0:
            value = low + (1 if "exclusiveMinimum" in node and "minimum" not in node else 0)
            return int(value) if kind == "integer" else float(value)
        return 0 if kind == "integer" else 0.0
    if kind == "boolean":
        return False
    return None
