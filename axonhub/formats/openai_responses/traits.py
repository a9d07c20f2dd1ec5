"""What routing rules ask of an OpenAI Responses request, read off its raw body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub.features import server_tool_name
from axonhub.formats.spec import Traits
from axonhub.jsonbody import has_object_of_type

_IMAGES = frozenset({"input_image"})


def asks_thinking(body: Mapping[str, Any]) -> bool:
    """A `reasoning` object whose effort is not `none` (Codex sends one on every request)."""
    reasoning = body.get("reasoning")
    return isinstance(reasoning, Mapping) and reasoning.get("effort") != "none"


def has_images(body: Mapping[str, Any]) -> bool:
    return has_object_of_type(body.get("input"), _IMAGES)


def offered_tools(body: Mapping[str, Any]) -> frozenset[str]:
    """Function and custom tools by name; hosted tools (`web_search`) by their type."""
    names: set[str] = set()
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, Mapping):
            continue
        if isinstance(tool.get("name"), str):
            names.add(tool["name"].lower())
        kind = tool.get("type")
        if isinstance(kind, str) and kind not in ("function", "custom", "namespace"):
            names.add(server_tool_name(kind))
    return frozenset(names)


TRAITS = Traits(asks_thinking=asks_thinking, has_images=has_images, offered_tools=offered_tools)
