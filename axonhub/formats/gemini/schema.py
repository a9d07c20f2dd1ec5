"""Tool and response schemas, both ways: JSON Schema to the OpenAPI subset Gemini's `parameters`
take, and that subset back to JSON Schema for the other formats.

Toward Gemini (`to_gemini`), everything Gemini rejects with a 400 ("Unknown name …", "should be
non-empty for OBJECT type") goes, so no schema Claude Code or Codex sends is refused:

- kept: type (upper case), description, enum (values as strings; on a type other than string,
  which Gemini takes no enum for, the values go into the description instead), items,
  properties, required (only names that are properties), anyOf, nullable, minimum/maximum,
  min/max items/length/properties, and the formats Gemini knows for the type;
- `$ref` into `$defs`/`definitions` inlined (a recursive reference ends, after a few levels, as an
  OBJECT without properties), `allOf` merged, `oneOf` read as `anyOf`, `const` as a one-value enum,
  `exclusiveMinimum`/`exclusiveMaximum` as the inclusive bound;
- `null` in a type list or an `anyOf` branch becomes `nullable`; a type list of several types an
  `anyOf` of one schema each;
- dropped: `$schema`, `additionalProperties`, `propertyNames`, `pattern`, `default`, `examples`,
  `title` and any other keyword; an empty `properties`; an untyped schema ("any value") becomes a
  STRING, an ARRAY without `items` gets STRING items.

Back (`from_gemini`): types lower case, `nullable` as a type list with "null", the rest as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
_FORMATS = {"STRING": frozenset({"enum", "date-time"}), "NUMBER": frozenset({"float", "double"})}
_FORMATS["INTEGER"] = frozenset({"int32", "int64"})
_BOUNDS = ("minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_EXCLUSIVE = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}
_MAX_REF_DEPTH = 8

Schema = Mapping[str, Any]


def to_gemini(schema: Schema) -> dict[str, Any]:
    """The schema as Gemini's `parameters`/`responseSchema` take it."""
    defs = {**_mapping(schema.get("definitions")), **_mapping(schema.get("$defs"))}
    return _Converter(defs).convert(schema, 0)


def tool_parameters(schema: Schema) -> dict[str, Any] | None:
    """A function's `parameters`: an OBJECT with properties, or None for a function that takes none."""
    converted = to_gemini(schema) if schema else {}
    if converted.get("type") != "OBJECT" or not converted.get("properties"):
        return None
    return converted


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class _Converter:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self._defs = defs

    def convert(self, schema: Any, depth: int) -> dict[str, Any]:
        if not isinstance(schema, Mapping):
            return {"type": "STRING"}
        schema = self._flattened(schema, depth)
        out: dict[str, Any] = {}
        if isinstance(schema.get("description"), str) and schema["description"]:
            out["description"] = schema["description"]
        nullable, branches = _nullable_branches(schema)
        if len(branches) > 1:
            out["anyOf"] = [self.convert(b, depth) for b in branches]
        else:
            out.update(self._typed(branches[0] if branches else schema, depth))
        if nullable:
            out["nullable"] = True
        return out

    def _flattened(self, schema: Mapping[str, Any], depth: int) -> Mapping[str, Any]:
        """`$ref` inlined and `allOf` merged, the outer description kept."""
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/") else None
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            if not isinstance(target, Mapping) or depth >= _MAX_REF_DEPTH:
                return {**rest, "type": "object"}
            schema = {**target, **rest}
            return self._flattened(schema, depth + 1)
        parts = schema.get("allOf")
        if isinstance(parts, list) and parts:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in parts:
                if isinstance(part, Mapping):
                    _merge(merged, self._flattened(part, depth + 1))
            return merged
        return schema

    def _typed(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        enum = _enum(schema)
        declared = schema.get("type")
        kind = "STRING" if enum is not None and declared in (None, "string") else _type(schema)
        out["type"] = kind
        if enum is not None and kind == "STRING":
            out["enum"] = enum
        elif enum is not None:  # Gemini takes enums of strings only: the values go into the description
            hint = f"one of: {', '.join(enum)}"
            out["description"] = f"{schema['description']} ({hint})" if schema.get("description") else hint
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS.get(kind, ()):
            out["format"] = fmt
        if kind == "OBJECT":
            props = {
                str(name): self.convert(sub, depth + 1) for name, sub in _mapping(schema.get("properties")).items()
            }
            if props:
                out["properties"] = props
                required = [r for r in schema.get("required") or () if isinstance(r, str) and r in props]
                if required:
                    out["required"] = required
        elif kind == "ARRAY":
            items = schema.get("items")
            out["items"] = self.convert(items, depth + 1) if isinstance(items, Mapping) else {"type": "STRING"}
        out.update(_bounds(schema, kind))
        return out


def _nullable_branches(schema: Mapping[str, Any]) -> tuple[bool, list[Mapping[str, Any]]]:
    """Whether null is allowed, and the non-null alternatives (`anyOf`/`oneOf`, or a type list)."""
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        kept = [b for b in branches if isinstance(b, Mapping) and b.get("type") != "null"]
        base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "description")}
        return len(kept) < len(branches), [{**base, **b} for b in kept]
    types = schema.get("type")
    if isinstance(types, list):
        kept_types = [t for t in types if t != "null"]
        rest = {k: v for k, v in schema.items() if k != "type"}
        return len(kept_types) < len(types), [{**rest, "type": t} for t in kept_types]
    enum = schema.get("enum")
    return schema.get("type") == "null" or (isinstance(enum, list) and None in enum), []


def _type(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, str) and declared in _TYPES:
        return _TYPES[declared]
    if isinstance(declared, str) and declared.lower() in _TYPES:
        return _TYPES[declared.lower()]
    if "properties" in schema:
        return "OBJECT"
    if "items" in schema:
        return "ARRAY"
    return "STRING"  # untyped ("any value"): the model sends it as text


def _enum(schema: Mapping[str, Any]) -> list[str] | None:
    if "const" in schema:
        return [_text(schema["const"])]
    values = schema.get("enum")
    if isinstance(values, list) and values:
        return [_text(v) for v in values if v is not None]
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bounds(schema: Mapping[str, Any], kind: str) -> dict[str, Any]:
    out = {k: schema[k] for k in _BOUNDS if _number(schema.get(k))}
    for exclusive, inclusive in _EXCLUSIVE.items():
        if inclusive not in out and _number(schema.get(exclusive)):
            out[inclusive] = schema[exclusive]
    if kind not in ("NUMBER", "INTEGER"):
        out.pop("minimum", None)
        out.pop("maximum", None)
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _merge(into: dict[str, Any], part: Mapping[str, Any]) -> None:
    for key, value in part.items():
        if key == "properties" and isinstance(value, Mapping):
            into["properties"] = {**_mapping(into.get("properties")), **value}
        elif key == "required" and isinstance(value, list):
            into["required"] = list(dict.fromkeys([*(into.get("required") or []), *value]))
        else:
            into.setdefault(key, value)


# ------------------------------------------------------------------------------------- back


def from_gemini(schema: Any) -> Any:
    """A Gemini (OpenAPI subset) schema as JSON Schema: lower-case types, `nullable` as `"null"`."""
    if isinstance(schema, list):
        return [from_gemini(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("nullable", "propertyOrdering"):
            continue
        if key == "type" and isinstance(value, str):
            out["type"] = value.lower()
        elif key == "properties" and isinstance(value, Mapping):
            out["properties"] = {name: from_gemini(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = from_gemini(value)
        else:
            out[key] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out
