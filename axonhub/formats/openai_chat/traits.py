"""What routing rules ask of an OpenAI Chat Completions request, read off its raw body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub.features import server_tool_name
from axonhub.formats.spec import Traits
from axonhub.jsonbody import has_object_of_type

_IMAGES = frozenset({"image_url"})


def asks_thinking(body: Mapping[str, Any]) -> bool:
    """`reasoning_effort` other than `none`, or a DeepSeek-style `thinking` object that is on."""
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort != "none":
        return True
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def has_images(body: Mapping[str, Any]) -> bool:
    return has_object_of_type(body.get("messages"), _IMAGES)


def offered_tools(body: Mapping[str, Any]) -> frozenset[str]:
    """Function and custom tools by name; any other tool type by its type."""
    names: set[str] = set()
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, Mapping):
            continue
        kind = tool.get("type", "function")
        spec = tool.get(kind) if isinstance(kind, str) else None
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            names.add(spec["name"].lower())
        elif isinstance(kind, str) and kind not in ("function", "custom"):
            names.add(server_tool_name(kind))
    return frozenset(names)


TRAITS = Traits(asks_thinking=asks_thinking, has_images=has_images, offered_tools=offered_tools)
