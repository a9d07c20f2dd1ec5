"""What routing rules ask of a Gemini request, read off its raw body (camelCase or snake_case)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub.features import server_tool_name
from axonhub.formats.spec import Traits
from axonhub.jsonbody import objects_under

# Google-hosted tools as rules name them, like other providers' (`when: {tools: web_search}`)
_HOSTED = {"googlesearch": "web_search", "google_search": "web_search", "googlesearchretrieval": "web_search"}


def _get(raw: Mapping[str, Any], camel: str, snake: str) -> Any:
    return raw[camel] if camel in raw else raw.get(snake)


def asks_thinking(body: Mapping[str, Any]) -> bool:
    """A thinking config that does not switch thinking off (a budget of 0)."""
    config = _get(body, "generationConfig", "generation_config")
    thinking = _get(config, "thinkingConfig", "thinking_config") if isinstance(config, Mapping) else None
    if not isinstance(thinking, Mapping):
        return False
    return bool(_get(thinking, "thinkingBudget", "thinking_budget") != 0)


def has_images(body: Mapping[str, Any]) -> bool:
    """An inline or file image part anywhere in the conversation."""
    for obj in objects_under(_get(body, "contents", "contents")):
        for field in ("inlineData", "inline_data", "fileData", "file_data"):
            media = obj.get(field)
            mime = _get(media, "mimeType", "mime_type") if isinstance(media, Mapping) else None
            if isinstance(mime, str) and mime.startswith("image/"):
                return True
    return False


def offered_tools(body: Mapping[str, Any]) -> frozenset[str]:
    """Function declarations by name; Google-hosted tools by their kind (`googleSearch` as `web_search`)."""
    names: set[str] = set()
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, Mapping):
            continue
        for kind, value in tool.items():
            if kind in ("functionDeclarations", "function_declarations") and isinstance(value, list):
                names.update(
                    d["name"].lower() for d in value if isinstance(d, Mapping) and isinstance(d.get("name"), str)
                )
            elif kind not in ("functionDeclarations", "function_declarations"):
                names.add(_HOSTED.get(kind.lower(), server_tool_name(kind)))
    return frozenset(names)


TRAITS = Traits(asks_thinking=asks_thinking, has_images=has_images, offered_tools=offered_tools)
