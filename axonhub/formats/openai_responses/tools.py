"""Responses tools to and from the IR: function, custom (freeform) and namespaced tools, hosted ones left out.

A custom tool (Codex's `exec` and `apply_patch`) takes one raw string. In the IR it is a tool of kind
CUSTOM whose JSON schema is an object with one string property, `input`, which is what channels that
only have function tools are sent; a call of it comes back as a `custom_tool_call` whose input is that
string. Tools inside a `namespace` are flattened; a name that occurs in more than one namespace is
qualified (`collaboration__spawn_agent`). `ToolNames` maps IR names back to the name, namespace and
kind the client declared, so calls go back to the client as it knows them.

Hosted tools (`web_search`, `file_search`, `code_interpreter`, …) run only on OpenAI's own API. A
request that is translated for another channel leaves them out and says so in a note for the trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.jsonbody import json_type

META = "openai_responses"  # the key of a tool's provider_metadata this format reads and writes
NO_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}
_HOSTED_HINT = "only OpenAI's own API can run it, and this request goes to a channel that cannot"


def custom_schema(description: str, fmt: Mapping[str, Any] | None) -> dict[str, Any]:
    """The one-string-argument function schema a custom tool becomes on channels without custom tools."""
    what = "The raw input of the tool, as plain text (not JSON)."
    if isinstance(fmt, Mapping) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        what += f" It must match this {fmt.get('syntax') or 'lark'} grammar:\n{fmt['definition']}"
    return {
        "type": "object",
        "properties": {"input": {"type": "string", "description": what}},
        "required": ["input"],
        "additionalProperties": False,
    }


@dataclass(frozen=True, slots=True)
class Declared:
    """A tool as the client declared it."""

    name: str
    namespace: str | None
    kind: ir.ToolKind


class ToolNames:
    """IR tool names <-> the (namespace, name) and kind the client declared."""

    def __init__(self, tools: Iterable[ir.Tool]) -> None:
        self._declared: dict[str, Declared] = {}
        self._by_wire: dict[tuple[str | None, str], str] = {}
        plain: dict[str, list[str]] = {}
        for tool in tools:
            meta = tool.provider_metadata.get(META)
            meta = meta if isinstance(meta, Mapping) else {}
            name, namespace = str(meta.get("name") or tool.name), meta.get("namespace")
            declared = Declared(name, namespace if isinstance(namespace, str) else None, tool.kind)
            self._declared[tool.name] = declared
            self._by_wire[(declared.namespace, name)] = tool.name
            plain.setdefault(name, []).append(tool.name)
        self._unique = {name: found[0] for name, found in plain.items() if len(found) == 1}

    def declared(self, ir_name: str) -> Declared:
        return self._declared.get(ir_name) or Declared(ir_name, None, ir.ToolKind.FUNCTION)

    def ir_name(self, name: str, namespace: str | None) -> str:
        """The IR name of a call the client replays; a namespace it omits is found when the name is unique."""
        found = self._by_wire.get((namespace, name))
        if found is None and namespace is None:
            found = self._unique.get(name)
        return found or name

    def is_custom(self, ir_name: str) -> bool:
        return self.declared(ir_name).kind is ir.ToolKind.CUSTOM


# ------------------------------------------------------------------------------------- parse


@dataclass(frozen=True, slots=True)
class _Entry:
    raw: Mapping[str, Any]
    namespace: str | None
    where: str


def parse_tools(groups: Sequence[tuple[Sequence[Any], str]]) -> tuple[tuple[ir.Tool, ...], tuple[str, ...]]:
    """The IR tools of every (tool list, its JSON path) group, and notes on the hosted ones left out."""
    entries: list[_Entry] = []
    notes: list[str] = []
    for tools, where in groups:
        for i, raw in enumerate(tools):
            entries += _flatten(raw, None, f"{where}.{i}", notes)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[str(entry.raw["name"])] = counts.get(str(entry.raw["name"]), 0) + 1
    parsed = [_tool(e, counts[str(e.raw["name"])] > 1) for e in entries]
    return tuple(parsed), tuple(notes)


def _flatten(raw: Any, namespace: str | None, where: str, notes: list[str]) -> list[_Entry]:
    if not isinstance(raw, Mapping):
        raise InvalidRequest(f"{where}: must be an object, not {json_type(raw)}")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest(f"{where}.type: field required (a string)")
    if kind == "namespace":
        inner = raw.get("tools")
        if not isinstance(inner, list):
            raise InvalidRequest(f"{where}.tools: must be a list of tools")
        name = _name(raw, where)
        return [e for i, tool in enumerate(inner) for e in _flatten(tool, name, f"{where}.tools.{i}", notes)]
    if kind in ("function", "custom"):
        _name(raw, where)
        return [_Entry(raw, namespace, where)]
    notes.append(f"tools: {kind} left out: {_HOSTED_HINT}")
    return []


def _name(raw: Mapping[str, Any], where: str) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"{where}.name: field required (a non-empty string)")
    return name


def _tool(entry: _Entry, qualify: bool) -> ir.Tool:
    raw, namespace = entry.raw, entry.namespace
    name = str(raw["name"])
    ir_name = f"{namespace}__{name}" if qualify and namespace else name
    description = str(raw.get("description") or "") if isinstance(raw.get("description"), str) else ""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if raw["type"] == "custom":
        fmt = raw.get("format") if isinstance(raw.get("format"), Mapping) else None
        meta.update({"description": description, **({"format": dict(fmt)} if fmt else {})})
        hint = "Freeform tool: pass its raw input, not JSON, as the `input` string."
        text = f"{description}\n\n{hint}" if description else hint
        return ir.Tool(ir_name, text, custom_schema(description, fmt), ir.ToolKind.CUSTOM, {META: meta})
    parameters = raw.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise InvalidRequest(f"{entry.where}.parameters: must be an object, not {json_type(parameters)}")
    schema = parameters or NO_PARAMETERS
    return ir.Tool(ir_name, description, schema, ir.ToolKind.FUNCTION, {META: meta})


def parse_tool_choice(raw: Any, parallel: Any, names: ToolNames) -> ir.ToolChoice | None:
    """`tool_choice` and `parallel_tool_calls` as the IR choice; None when the client said neither."""
    mode: ir.ToolChoiceMode | None = None
    name: str | None = None
    if raw in ("auto", "required", "none"):
        mode = {"auto": ir.ToolChoiceMode.AUTO, "required": ir.ToolChoiceMode.ANY}.get(raw, ir.ToolChoiceMode.NONE)
    elif isinstance(raw, Mapping):
        kind = raw.get("type")
        if kind in ("function", "custom") and isinstance(raw.get("name"), str):
            namespace = raw.get("namespace") if isinstance(raw.get("namespace"), str) else None
            mode, name = ir.ToolChoiceMode.TOOL, names.ir_name(raw["name"], namespace)
        elif kind == "allowed_tools":
            mode = ir.ToolChoiceMode.ANY if raw.get("mode") == "required" else ir.ToolChoiceMode.AUTO
        elif isinstance(kind, str):
            mode = ir.ToolChoiceMode.AUTO  # a hosted tool's choice: the tool itself is left out
    elif raw is not None:
        raise InvalidRequest(f"tool_choice: must be a string or an object, not {json_type(raw)}")
    if mode is None and parallel is not False:
        return None
    return ir.ToolChoice(mode or ir.ToolChoiceMode.AUTO, name, parallel=parallel is not False)


# ------------------------------------------------------------------------------------- render


def render_tools(tools: Sequence[ir.Tool]) -> list[dict[str, Any]]:
    """Function and custom tools for a Responses channel; provider-hosted tools of other formats are left out."""
    rendered: list[dict[str, Any]] = []
    for tool in tools:
        meta = tool.provider_metadata.get(META)
        meta = meta if isinstance(meta, Mapping) else {}
        match tool.kind:
            case ir.ToolKind.FUNCTION:
                out: dict[str, Any] = {"type": "function", "name": tool.name}
                if tool.description:
                    out["description"] = tool.description
                out["parameters"] = dict(tool.json_schema) or dict(NO_PARAMETERS)
                out["strict"] = False
                rendered.append(out)
            case ir.ToolKind.CUSTOM:
                out = {"type": "custom", "name": tool.name}
                description = meta.get("description", tool.description)
                if description:
                    out["description"] = description
                if isinstance(meta.get("format"), Mapping):
                    out["format"] = dict(meta["format"])
                rendered.append(out)
            case ir.ToolKind.SERVER:
                pass
    return rendered


def render_tool_choice(request: ir.Request) -> dict[str, Any]:
    choice = request.tool_choice
    if choice is None:
        return {}
    rendered: Any
    match choice.mode:
        case ir.ToolChoiceMode.AUTO:
            rendered = "auto"
        case ir.ToolChoiceMode.ANY:
            rendered = "required"
        case ir.ToolChoiceMode.NONE:
            rendered = "none"
        case ir.ToolChoiceMode.TOOL:
            custom = any(t.name == choice.name and t.kind is ir.ToolKind.CUSTOM for t in request.tools)
            rendered = {"type": "custom" if custom else "function", "name": choice.name or ""}
        case _:
            assert_never(choice.mode)
    body: dict[str, Any] = {"tool_choice": rendered}
    if not choice.parallel:
        body["parallel_tool_calls"] = False
    return body
