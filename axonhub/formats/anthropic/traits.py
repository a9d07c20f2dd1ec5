"""What routing rules ask of an Anthropic Messages request, read off its raw body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub.features import server_tool_name
from axonhub.formats.spec import Traits
from axonhub.jsonbody import has_object_of_type

_IMAGES = frozenset({"image"})


def asks_thinking(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def has_images(body: Mapping[str, Any]) -> bool:
    return has_object_of_type([body.get("messages"), body.get("system")], _IMAGES)


def offered_tools(body: Mapping[str, Any]) -> frozenset[str]:
    """Custom tools by name; server tools (`web_search_20250305`) also by their type (`web_search`)."""
    names: set[str] = set()
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, Mapping):
            continue
        if isinstance(tool.get("name"), str):
            names.add(tool["name"].lower())
        if isinstance(tool.get("type"), str) and tool["type"] != "custom":
            names.add(server_tool_name(tool["type"]))
    return frozenset(names)


TRAITS = Traits(asks_thinking=asks_thinking, has_images=has_images, offered_tools=offered_tools)
